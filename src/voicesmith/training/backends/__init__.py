"""Where voice jobs train, behind one seam (``VOICESMITH_TRAINING_BACKEND``: local | slurm | sagemaker).

Every backend implements :class:`voicesmith.tasks.voice_jobs.TrainingBackend` (submit, poll, cancel,
result, log). None of them imports torch: they run in the voice-job worker, which only dispatches and
watches. The training itself is ``voicesmith train --job JOB.json`` (local and SLURM) or
``sagemaker_entry.py`` in the training image (SageMaker).
"""

from __future__ import annotations

import os
import sys

from voicesmith.settings import Settings
from voicesmith.tasks.voice_jobs import TrainingBackend


def training_command(settings: Settings) -> list[str]:
    """How a training host runs voicesmith: the configured command, else this Python."""
    return list(settings.training_command) or [sys.executable, "-m", "voicesmith.cli"]


_PASSED_SETTINGS = ("aws_access_key_id", "aws_secret_access_key", "aws_region", "s3_endpoint_url")


def job_environment(settings: Settings, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a training command: this one, plus the settings it needs that may have
    been given to the server some other way than the environment (``s3://`` dataset credentials)."""
    env = dict(os.environ if base is None else base)
    for name in _PASSED_SETTINGS:
        value = getattr(settings, name)
        if value is not None:
            env[f"VOICESMITH_{name.upper()}"] = str(value)
    return env


def make_backend(settings: Settings) -> TrainingBackend:
    """The configured backend."""
    if settings.training_backend == "slurm":
        from voicesmith.training.backends.slurm import SlurmBackend

        return SlurmBackend(settings)
    if settings.training_backend == "sagemaker":
        from voicesmith.training.backends.sagemaker import SageMakerBackend

        return SageMakerBackend(settings)
    from voicesmith.training.backends.local import LocalBackend

    return LocalBackend(settings)


__all__ = ["TrainingBackend", "job_environment", "make_backend", "training_command"]
