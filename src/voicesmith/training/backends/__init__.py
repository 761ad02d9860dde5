"""Where voice jobs train, behind one seam (``VOICESMITH_TRAINING_BACKEND``: local | slurm | sagemaker).

Every backend implements :class:`voicesmith.tasks.voice_jobs.TrainingBackend` (submit, poll, cancel,
result, log). None of them imports torch: they run in the voice-job worker, which only dispatches and
watches. The training itself is ``voicesmith train --job JOB.json`` (local and SLURM) or
``sagemaker_entry.py`` in the training image (SageMaker).
"""

from __future__ import annotations

import sys

from voicesmith.settings import Settings
from voicesmith.tasks.voice_jobs import TrainingBackend


def training_command(settings: Settings) -> list[str]:
    """How a training host runs voicesmith: the configured command, else this Python."""
    return list(settings.training_command) or [sys.executable, "-m", "voicesmith.cli"]


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


__all__ = ["TrainingBackend", "make_backend", "training_command"]
