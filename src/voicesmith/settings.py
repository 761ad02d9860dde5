"""Run-time settings, read from the environment (prefix ``VOICESMITH_``) when a Settings is made.

Nothing here is created at import time: callers build ``Settings()`` and pass it down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("voicesmith", appauthor=False))


class Settings(BaseSettings):
    """Where voicesmith keeps its state and how hard it may work."""

    model_config = SettingsConfigDict(env_prefix="VOICESMITH_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    """Installed voices, patched models, the database and local task output live here."""

    intra_op_threads: int = Field(default=0, ge=0, le=256)
    """onnxruntime threads per synthesis call; 0 picks min(cores, 4)."""

    max_concurrent_synthesis: int = Field(default=0, ge=0, le=256)
    """Synthesis calls run at once; 0 picks the number of cores."""

    max_input_characters: int = Field(default=200_000, ge=1)
    """Hard cap on one synthesis call's input (the API front ends apply their own, lower limits)."""

    stream_window_frames: int = Field(default=320, ge=32, le=8192)
    """Most latent frames decoded at once (one frame is one hop, ~11.6 ms for joe): bounds the memory
    of long sentences. The first window of a stream is always short, for early first audio."""

    # -- server (``voicesmith serve``) -------------------------------------------------------------------

    host: str = "127.0.0.1"
    """Interface the server listens on; loopback by default (open, since no keys are needed there)."""

    port: int = Field(default=8000, ge=1, le=65535)

    db_url: str | None = None
    """SQLAlchemy URL of the task/lexicon/voice-job database; None: ``sqlite:///<data_dir>/voicesmith.db``.
    Use ``postgresql+psycopg://...`` when several nodes share the work."""

    storage_url: str | None = None
    """fsspec URL under which task output is written (``<bucket>/<prefix><TaskId>.<ext>``); None:
    ``file://<data_dir>/output``; ``s3://`` writes to real buckets of an S3-compatible store."""

    s3_endpoint_url: str | None = None
    """Endpoint of an S3-compatible store (MinIO, Ceph, ...) for ``s3://`` storage; None: AWS."""

    aws_credentials: dict[str, str] = Field(default_factory=dict)
    """Access key id -> secret key. When set, Polly routes require valid SigV4 signatures
    (``VOICESMITH_AWS_CREDENTIALS='{"AKID": "secret"}'``)."""

    openai_api_keys: list[str] = Field(default_factory=list)
    """When set, OpenAI routes require ``Authorization: Bearer <one of these>``."""

    task_workers: int = Field(default=1, ge=0, le=64)
    """Worker threads that run synthesis tasks and voice jobs in each server process (0: none)."""

    task_lease_seconds: float = Field(default=30.0, gt=0)
    """A claimed task is renewed every third of this; one whose lease ran out (its process died) is
    claimed again by any worker."""

    task_poll_seconds: float = Field(default=1.0, gt=0)

    max_request_bytes: int = Field(default=1_000_000, ge=1024)
    """Largest request body accepted by the synthesis and lexicon routes."""

    max_upload_bytes: int = Field(default=500_000_000, ge=1024)
    """Largest request body accepted when creating a custom voice (recordings)."""

    voice_training_steps: int = Field(default=2000, ge=1)
    """Fine-tuning steps of a custom-voice job (``POST /v1/voices``)."""
    voice_training_batch_size: int = Field(default=8, ge=1)

    consent_similarity_threshold: float = Field(default=0.80, ge=0.0, le=1.0)
    """Least speaker similarity (GE2E cosine, ``training.speaker``) between a custom voice's consent
    recording and its recordings; below it the job fails with ConsentMismatchError. Measured on flite
    slt/awb/rms/kal, espeak-ng and joe with a consent sentence none said in the dataset: the same speaker
    scores 0.95-0.97, any other at most 0.74 (joe against slt 0.53). 0.80 sits in the gap, nearer the
    impostors, because real people recorded on another day match themselves less than synthetic voices."""

    emotion_disgust_as: Literal["angry", "sad", "neutral", "surprise", "happy"] = "angry"
    """The emotion spoken where disgust is asked for (voices are trained on ESD's five emotions)."""
    emotion_fear_as: Literal["angry", "sad", "neutral", "surprise", "happy"] = "sad"
    """The emotion spoken where fear is asked for."""

    low_memory: bool = False
    """Decode without onnxruntime's memory arena: ~80 MB less peak memory per voice, ~12 % slower."""

    @field_validator("data_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def voices_dir(self) -> Path:
        return self.data_dir / "voices"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.data_dir / 'voicesmith.db'}"

    @property
    def output_url(self) -> str:
        return self.storage_url or (self.data_dir / "output").as_uri()
