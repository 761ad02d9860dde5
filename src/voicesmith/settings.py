"""Run-time settings, read from the environment (prefix ``VOICESMITH_``) when a Settings is made.

Nothing here is created at import time: callers build ``Settings()`` and pass it down.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from voicesmith.engine.bundled import BUNDLED_VOICE_ID

FINE_TUNE_STEPS = 2000
"""Default steps of a fine-tune: a custom-voice job's (``voice_training_steps``), ``voicesmith train``'s."""
FINE_TUNE_BATCH_SIZE = 8
"""Default utterances per batch of a custom-voice job (``voice_training_batch_size``)."""


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity, capped by a cgroup v2 CPU quota
    (``cpu.max``: a container's CPU limit), which ``os.cpu_count()`` (the host's cores) does not see."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, -(-int(quota) // int(period))))  # a limit of 1.5 CPUs: 2 threads
    except (OSError, ValueError):
        pass
    return max(1, cores)


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("voicesmith", appauthor=False))


class Settings(BaseSettings):
    """Where voicesmith keeps its state and how hard it may work."""

    model_config = SettingsConfigDict(env_prefix="VOICESMITH_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    """Installed voices, patched models, the database and local task output live here."""

    intra_op_threads: int = Field(default=0, ge=0, le=256)
    """onnxruntime threads per synthesis call; 0 picks, in a server, its share of the cores (see
    :meth:`synthesis_shares`), and min(cores, 4) for one call at a time (``voicesmith say``, benchmarks)."""

    max_concurrent_synthesis: int = Field(default=0, ge=0, le=256)
    """Synthesis calls a server process runs at once; 0 picks its share of the cores (``--workers N``: the
    cores / N)."""

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

    s3_region: str | None = None
    """Region of the S3 store (in AWS's ``OutputUri``); None: AWS_REGION / AWS_DEFAULT_REGION, else us-east-1.
    Credentials come from the usual AWS sources (environment, ~/.aws, instance roles)."""

    shared_storage_url: str | None = None
    """fsspec URL of a folder every node shares (e.g. ``s3://voicesmith-shared``): installed and trained
    voices (``voices/<id>/``) and uploaded recordings of voice jobs. None: the data dir (a single node)."""

    aws_credentials: dict[str, str] = Field(default_factory=dict)
    """Access key id -> secret key (``VOICESMITH_AWS_CREDENTIALS='{"AKID": "secret"}'``). Any key
    configured turns auth on for every route (see ``auth``)."""

    openai_api_keys: list[str] = Field(default_factory=list)
    """API keys for ``Authorization: Bearer <key>`` (the OpenAI routes, and the key-based doors). Any key
    configured turns auth on for every route (see ``auth``)."""

    metrics_tokens: list[str] = Field(default_factory=list)
    """Bearer tokens that may read ``GET /metrics`` and nothing else (give Prometheus one, so the scraper
    holds no key that can synthesize). Every API credential reads it too."""

    metrics_public: bool = False
    """``GET /metrics`` without a credential even when auth is on: only where the port is reachable from
    the scrape network alone (pod annotations scraping, say)."""

    task_workers: int = Field(default=1, ge=0, le=64)
    """Worker threads that run synthesis tasks in each server process (0: none; voice jobs have their own)."""

    task_lease_seconds: float = Field(default=30.0, gt=0)
    """A claimed task is renewed every third of this; one whose lease ran out (its process died) is
    claimed again by any worker."""

    task_poll_seconds: float = Field(default=1.0, gt=0)

    shutdown_drain_seconds: float = Field(default=20.0, ge=0, le=3600)
    """On SIGTERM a server stops accepting, lets open requests and running tasks finish for up to this
    long each, then hands unfinished tasks back to the queue (another node takes them at once) and exits."""

    max_request_bytes: int = Field(default=1_000_000, ge=1024)
    """Largest request body accepted by the synthesis and lexicon routes."""

    max_upload_bytes: int = Field(default=500_000_000, ge=1024)
    """Largest request body accepted when creating a custom voice (recordings)."""

    voice_training_steps: int = Field(default=FINE_TUNE_STEPS, ge=1)
    """Fine-tuning steps of a custom-voice job (``POST /v1/voices``)."""
    voice_training_batch_size: int = Field(default=FINE_TUNE_BATCH_SIZE, ge=1)

    consent_similarity_threshold: float = Field(default=0.80, ge=0.0, le=1.0)
    """Least speaker similarity (GE2E cosine, ``training.speaker``) between a custom voice's consent
    recording and its recordings; below it the job fails with ConsentMismatchError. Measured on flite
    slt/awb/rms/kal, espeak-ng and joe with a consent sentence none said in the dataset: the same speaker
    scores 0.95-0.97, any other at most 0.74 (joe against slt 0.53). 0.80 sits in the gap, nearer the
    impostors, because real people recorded on another day match themselves less than synthetic voices."""

    # -- custom-voice training (training/backends; docs/training.md) ---------------------------------------

    voice_job_workers: int = Field(default=1, ge=0, le=64)
    """Threads per server/worker process that dispatch and watch voice jobs (they never train)."""

    training_backend: Literal["local", "slurm", "sagemaker"] = "local"
    """Where a voice job trains: a ``voicesmith train`` subprocess, an ``sbatch`` job, a SageMaker job."""

    voice_training_base: str = BUNDLED_VOICE_ID
    """The voice a job fine-tunes from: joe, or a Piper ``.onnx`` / ``.ckpt`` path on the training host."""

    training_poll_seconds: float = Field(default=5.0, gt=0)
    """How often a voice-job watcher asks its backend how the job is going."""

    training_command: list[str] = Field(default_factory=list)
    """How the training host runs voicesmith (``["/opt/voicesmith/.venv/bin/voicesmith"]``); empty: this
    Python (``python -m voicesmith.cli``)."""

    training_gpus: str | None = None
    """``CUDA_VISIBLE_DEVICES`` of local training jobs (``"0"``, ``"1,2"``); None: inherited."""

    training_threads: int = Field(default=0, ge=0, le=256)
    """CPU threads of a local training job (OMP/MKL/torch); 0: torch's default."""

    training_nice: int = Field(default=10, ge=0, le=19)
    """Scheduling niceness of local training jobs, so serving on the same box stays responsive."""

    slurm_partition: str | None = None
    slurm_sbatch_args: list[str] = Field(default_factory=list)
    """Extra ``sbatch`` options (``["--gres=gpu:1", "--time=04:00:00", "--account=tts"]``)."""
    slurm_bin_dir: Path | None = None
    """Folder of sbatch/squeue/sacct/scancel; None: found on PATH."""

    sagemaker_role_arn: str | None = None
    """IAM role SageMaker runs training jobs as (S3 read/write on ``sagemaker_s3_uri``, ECR pull)."""
    sagemaker_image_uri: str | None = None
    """The training image (docker/train.Dockerfile pushed to ECR)."""
    sagemaker_s3_uri: str | None = None
    """``s3://bucket/prefix`` where datasets, checkpoints and model artefacts of jobs go."""
    sagemaker_instance_type: str = "ml.g5.2xlarge"
    sagemaker_instance_count: int = Field(default=1, ge=1, le=64)
    sagemaker_max_run_seconds: int = Field(default=86_400, ge=60)
    sagemaker_use_spot: bool = False
    """Managed spot training; checkpoints in S3 let an interrupted job continue."""
    aws_region: str = "us-east-1"
    """Region of SageMaker and of ``s3://`` datasets."""
    aws_access_key_id: str | None = None
    """Credentials voicesmith uses as a client of AWS (SageMaker, ``s3://`` datasets); None: boto3's
    usual chain (environment, profile, instance role)."""
    aws_secret_access_key: str | None = None

    dataset_allowed_folders: list[Path] = Field(default_factory=list)
    """Server-side folders a CreateVoice ``DatasetLocation`` may name (none by default: only uploads and
    ``s3://``)."""
    max_upload_storage_bytes: int = Field(default=5_000_000_000, ge=0)
    """All uploaded recordings of unfinished or failed voice jobs together; a new upload beyond it is
    refused."""
    max_recordings: int = Field(default=5_000, ge=1)
    """Most recordings per custom voice."""
    max_recording_seconds: float = Field(default=60.0, gt=0)
    """Longest single recording accepted."""
    min_recording_seconds: float = Field(default=0.3, gt=0)

    emotion_disgust_as: Literal["angry", "sad", "neutral", "surprise", "happy"] = "angry"
    """The emotion spoken where disgust is asked for (voices are trained on ESD's five emotions)."""
    emotion_fear_as: Literal["angry", "sad", "neutral", "surprise", "happy"] = "sad"
    """The emotion spoken where fear is asked for."""

    log_format: Literal["text", "json"] = "text"
    """``voicesmith serve``'s log lines: text, or one JSON object per line; both carry the request id."""

    otel_enabled: bool = False
    """Trace requests with OpenTelemetry (the ``otel`` extra; exporter set by the standard OTEL_* env)."""

    response_cache_mb: int = Field(default=0, ge=0)
    """Memory for answers to identical synthesis requests; 0 (the default): no cache. Keyed on everything
    that changes the audio, including the voice's model digest and the lexicons' contents."""

    response_cache_shared: bool = False
    """Also keep cached answers in the shared storage (``shared_storage_url``), for every node."""

    voice_memory_budget_mb: int = Field(default=0, ge=0)
    """Memory the loaded voices of one process may hold; past it the least recently used are dropped
    (loaded again on next use). 0: no limit."""
    emotion_lexicon: Path | None = None
    """An operator's list of words/phrases and the emotion each one means, applied before the emotion
    model (``emotion=auto`` and ``POST /v1/emotion``): UTF-8, one ``phrase<TAB>emotion[<TAB>intensity]``
    a line, ``#`` comments (voicesmith.emotion.lexicon.OperatorLexicon). Re-read when the file changes."""

    # -- bounds: what one request or task may cost (docs/server.md, "Limits") ---------------------------

    max_speech_audio_seconds: float = Field(default=600.0, gt=0)
    """Longest audio one synchronous request (SynthesizeSpeech, OpenAI speech, SageMaker invocations,
    ``voicesmith say``) may make, breaks included; Polly stops SynthesizeSpeech at 10 minutes. A longer
    request is refused before any audio with a ValidationException naming this limit."""

    max_task_audio_seconds: float = Field(default=14_400.0, gt=0)
    """Longest audio one StartSpeechSynthesisTask may make (4 h: Polly's 100,000 billed characters at
    normal speed with room to spare); bounds the output written to storage per task."""

    max_task_attempts: int = Field(default=3, ge=1, le=100)
    """Runs of one task or voice job whose worker died (crashed, OOM-killed) before it is given up as
    failed, with a reason saying so, instead of being run again forever."""

    # -- more front doors: Wyoming (Home Assistant), MaryTTS ----------------------------------------------

    wyoming_port: int | None = Field(default=None, ge=0, le=65535)
    """Port of the Wyoming TCP server (Home Assistant; 10200 is the usual one); None: no Wyoming server.
    Wyoming has no authentication: bind it (``wyoming_host``) where only Home Assistant reaches it."""
    wyoming_host: str | None = None
    """Interface of the Wyoming server; None: the HTTP server's ``host``."""
    wyoming_zeroconf: bool = False
    """Advertise the Wyoming server over mDNS (``_wyoming._tcp``) so Home Assistant discovers it."""
    wyoming_zeroconf_name: str | None = None
    """Service name in the advertisement; None: ``voicesmith``."""
    marytts_port: int | None = Field(default=None, ge=1, le=65535)
    """A second HTTP port for MaryTTS clients (59125 is MaryTTS's own); None: MaryTTS's routes are on the
    main port only."""
    polly_stream_port: int | None = Field(default=None, ge=0, le=65535)
    """A second port serving the whole API over HTTP/2 (cleartext, and HTTP/1.1 too) for the AWS SDK for
    JavaScript v3, whose Polly client speaks HTTP/2 only (StartSpeechSynthesisStream needs it); None: off."""
    polly_stream_host: str | None = None
    """Interface of the HTTP/2 port; None: the HTTP server's ``host``."""

    low_memory: bool = False
    """Decode without onnxruntime's memory arena: ~80 MB less peak memory per voice, ~12 % slower."""

    # -- who may call, how often, how slowly (docs/security.md) -----------------------------------------

    auth: Literal["auto", "on", "off"] = "auto"
    """The one switch for every route: ``auto`` is on as soon as any key is configured; ``on`` refuses
    to start without keys; ``off`` opens every route even with keys set (debugging only)."""

    aws_regions: list[str] = Field(default_factory=lambda: ["us-east-1"], min_length=1)
    """Regions a SigV4 credential scope may name (the client's ``region_name``)."""

    rate_limit_per_second: float = Field(default=0.0, ge=0)
    """Requests per second one access key or API key may make in one process, like Polly's TPS quotas
    (a token bucket); 0: no per-key limit."""
    rate_limit_burst: int = Field(default=0, ge=0)
    """Requests a key may make at once before its rate applies; 0: twice the rate (at least 1)."""

    synthesis_queue: int = Field(default=-1, ge=-1, le=4096)
    """Synthesis requests that may wait for the synthesis pool in one process, beyond those it runs;
    past that a request is throttled at once (ThrottlingException / 429 with Retry-After). -1: four
    times the pool size (a pool of 2 serves 8 clients that each wait for their answer, none refused)."""

    header_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    """A connection that has not sent a whole request head within this (from connect, or from the end
    of the previous answer) is closed: slow-loris clients hold no connection for long."""
    body_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    """A request body that stalls (no byte) this long is cut off."""
    max_connections: int = Field(default=0, ge=0, le=1_000_000)
    """Open connections per process; past it idle keep-alive connections are closed first, then new
    connections get 503 ServiceUnavailable. 0: from the file-descriptor limit (3/4 of it, at most 1024)."""

    webhook_allowed_networks: list[str] = Field(default_factory=list)
    """Networks (CIDR) that task webhooks may reach although not public, e.g. ``["10.1.0.0/16"]``;
    loopback, private, link-local and other non-global addresses are refused otherwise."""
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    """Connect + answer timeout of one webhook delivery attempt."""
    webhook_attempts: int = Field(default=4, ge=1, le=10)
    """Delivery attempts per notification (backoff 1 s, 2 s, 4 s, ...) before it is dropped (logged)."""

    sns_subscriptions: dict[str, list[str]] = Field(default_factory=dict)
    """SNS topic ARN -> http(s) URLs subscribed to it: a task whose ``SnsTopicArn`` is that ARN notifies
    them as SNS would (``VOICESMITH_SNS_SUBSCRIPTIONS='{"arn:aws:sns:...:done": ["https://..."]}'``)."""
    public_url: str | None = None
    """This server's URL as subscribers reach it (SigningCertURL of notifications); None: host:port."""
    # -- client compatibility: Polly voice names, OpenAI names (engine/polly_voices.py, server/openai_api.py)

    polly_voice_map: dict[str, str] = Field(default_factory=dict)
    """Polly VoiceId -> installed voice id, over the automatic choice by language and gender
    (``VOICESMITH_POLLY_VOICE_MAP='{"Joanna": "amy", "*": "joe"}'``; ``*``: names without a voice of
    their language)."""
    polly_voice_map_file: Path | None = None
    """A JSON file with the same table, read again when it changes; ``polly_voice_map`` wins over it."""
    openai_voice_map: dict[str, str] = Field(default_factory=dict)
    """OpenAI voice name (``marin``, ``alloy``...) -> installed voice id; unlisted names speak with the
    bundled voice."""
    openai_model_aliases: list[str] = Field(default_factory=list)
    """More model ids the OpenAI route accepts, for clients set up for other servers
    (``VOICESMITH_OPENAI_MODEL_ALIASES='["kokoro", "piper"]'``)."""

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

    def synthesis_shares(self, processes: int = 1) -> tuple[int, int]:
        """(synthesis calls at once, onnxruntime threads per call) for one of ``processes`` server
        processes on this machine: what is configured, else each process its share of the cores and each
        call its share of those. onnxruntime's threads spin between operators, so calls that together ask
        for more threads than there are cores fight over them: on 2 cores, 2 calls of 2 threads served
        0.73 x the one-call compute bound and 2 calls of 1 thread 1.03 x, with p95 time to first byte
        1.4 s against 0.87 s (benchmarks/load_mix.py, 8 clients)."""
        cores = max(1, usable_cores() // max(1, processes))
        calls = self.max_concurrent_synthesis or cores
        return calls, self.intra_op_threads or max(1, cores // calls)
