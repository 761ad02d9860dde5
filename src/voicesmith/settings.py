"""Run-time settings, read from the environment (prefix ``VOICESMITH_``) when a Settings is made.

Nothing here is created at import time: callers build ``Settings()`` and pass it down.
"""

from __future__ import annotations

from pathlib import Path

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

    stream_window_frames: int = Field(default=512, ge=32, le=8192)
    """Most latent frames decoded at once (one frame is one hop, ~11.6 ms for joe): bounds the memory
    of long sentences. The first window of a stream is always short, for early first audio."""

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
