"""The two worker pools of a process: synthesis tasks and voice jobs, each with its own threads.

``create_app`` starts both (``voicesmith serve``); ``voicesmith worker --tasks/--voice-jobs`` starts
either or both in a process without HTTP. A voice-job worker only dispatches to the configured training
backend and watches it (:class:`~voicesmith.tasks.voice_jobs.VoiceJobWatcher`): training never runs in
the API process. An injected in-process ``voice_job_runner`` (tests, embedders) replaces the backend.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable

from voicesmith.server import polly_tasks
from voicesmith.server.services import Services
from voicesmith.server.voices import VoiceJobRunner, make_voice_job_handler, unavailable_voice_job_runner
from voicesmith.tasks.runner import TaskRunner
from voicesmith.tasks.store import VoiceJobRow
from voicesmith.tasks.voice_jobs import VoiceJobWatcher

_LOGGER = logging.getLogger(__name__)


def _can_train_here() -> bool:
    return importlib.util.find_spec("torch") is not None and importlib.util.find_spec("lightning") is not None


def voice_job_handler(
    services: Services, voice_job_runner: VoiceJobRunner | None = None
) -> Callable[[VoiceJobRow], None]:
    """The handler of the voice-job pool; sets ``services.training_backend`` when it uses one."""
    if voice_job_runner is not None:
        return make_voice_job_handler(services, voice_job_runner)
    settings = services.settings
    if settings.training_backend == "local" and not _can_train_here():
        return make_voice_job_handler(services, unavailable_voice_job_runner)
    from voicesmith.training.backends import make_backend

    services.training_backend = make_backend(settings)
    return VoiceJobWatcher(services.store, settings, services.synthesizer.catalog, services.training_backend)


def build_workers(
    services: Services,
    *,
    tasks: bool = True,
    voice_jobs: bool = True,
    voice_job_runner: VoiceJobRunner | None = None,
) -> None:
    """Set ``services.runner`` (synthesis tasks) and ``services.voice_runner`` (voice jobs); not started."""
    settings = services.settings
    if tasks and settings.task_workers:
        services.runner = TaskRunner(
            services.store,
            lambda row: polly_tasks.run_task(services, row),
            None,
            workers=settings.task_workers,
            lease_seconds=settings.task_lease_seconds,
            poll_seconds=settings.task_poll_seconds,
            on_task_finished=lambda task_id: polly_tasks.task_finished(services, task_id),
            max_attempts=settings.max_task_attempts,
        )
    handler = voice_job_handler(services, voice_job_runner)  # also gives DeleteVoice the backend
    if voice_jobs and settings.voice_job_workers:
        services.voice_runner = TaskRunner(
            services.store,
            None,
            handler,
            workers=settings.voice_job_workers,
            lease_seconds=settings.task_lease_seconds,
            poll_seconds=settings.task_poll_seconds,
            # No attempt cap here: a watcher that stops (a restart) detaches and the next one
            # re-attaches, which is not a failure; lost backend jobs are bounded by MAX_SUBMISSIONS.
            max_attempts=None,
        )
        if isinstance(handler, VoiceJobWatcher):
            handler.stopping = services.voice_runner.stopping


def start_workers(services: Services) -> None:
    for runner in (services.runner, services.voice_runner):
        if runner is not None:
            runner.start()
