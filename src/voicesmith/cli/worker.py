"""``voicesmith worker``: run synthesis tasks and/or watch voice jobs in a process of its own.

Workers share the database and storage with the servers (``VOICESMITH_DB_URL``, ``VOICESMITH_DATA_DIR``,
``VOICESMITH_STORAGE_URL``): run ``voicesmith serve`` with ``--task-workers 0`` and ``--voice-job-workers
0`` on the API nodes and ``voicesmith worker`` elsewhere, or one of each kind on one box so a burst of
one kind never delays the other. A voice-job worker only dispatches to the training backend and
watches it; the training runs there. SIGTERM/SIGINT stop it after the current synthesis task; a voice
job being watched is left running in its backend and re-attached by the next worker.
"""

from __future__ import annotations

import logging
import signal
import threading

import click

_LOGGER = logging.getLogger(__name__)


@click.command()
@click.option("--tasks", "tasks", is_flag=True, help="Run synthesis tasks.")
@click.option("--voice-jobs", "voice_jobs", is_flag=True, help="Dispatch and watch voice-training jobs.")
@click.option(
    "--threads", type=click.IntRange(1, 64), default=None, help="Workers per kind [default: settings]."
)
def worker(tasks: bool, voice_jobs: bool, threads: int | None) -> None:
    """Run the background workers (both kinds unless one is named).

    \b
    Examples:
      voicesmith worker                  # synthesis tasks and voice jobs
      voicesmith worker --voice-jobs     # only voice jobs (training runs in VOICESMITH_TRAINING_BACKEND)
    """
    from voicesmith.server.app import build_services
    from voicesmith.server.workers import build_workers, start_workers
    from voicesmith.settings import Settings

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not tasks and not voice_jobs:
        tasks = voice_jobs = True
    overrides = {}
    if threads is not None:
        overrides = {"task_workers": threads, "voice_job_workers": threads}
    settings = Settings(**overrides)
    services = build_services(settings)
    build_workers(services, tasks=tasks, voice_jobs=voice_jobs)
    if services.runner is None and services.voice_runner is None:
        raise click.UsageError("no workers to run: the worker counts in the settings are 0")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    start_workers(services)
    kinds = [
        name
        for name, on in (("synthesis tasks", services.runner), ("voice jobs", services.voice_runner))
        if on
    ]
    _LOGGER.info("voicesmith worker: %s; data in %s", " and ".join(kinds), settings.data_dir)
    click.echo(f"worker running: {' and '.join(kinds)}", err=True)
    stop.wait()
    _LOGGER.info("voicesmith worker: stopping")
    services.close()
