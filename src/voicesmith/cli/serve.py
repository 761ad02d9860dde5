"""``voicesmith serve``: the HTTP service (Polly REST, OpenAI speech, tasks, custom voices) under uvicorn."""

from __future__ import annotations

import logging
import os

import click

_LOGGER = logging.getLogger(__name__)


@click.command()
@click.option("--host", help="Interface to listen on (default: VOICESMITH_HOST or 127.0.0.1).")
@click.option("--port", type=int, help="Port (default: VOICESMITH_PORT or 8000).")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Server processes; they share the database and the task queue.",
)
@click.option(
    "--task-workers",
    type=click.IntRange(0, 64),
    help="Synthesis-task worker threads per process (default: VOICESMITH_TASK_WORKERS or 1).",
)
@click.option(
    "--voice-job-workers",
    type=click.IntRange(0, 64),
    help="Voice-job watcher threads per process; they dispatch to the training backend and never train "
    "here (default: VOICESMITH_VOICE_JOB_WORKERS or 1). 0 with `voicesmith worker --voice-jobs` elsewhere.",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
)
def serve(
    host: str | None,
    port: int | None,
    workers: int,
    task_workers: int | None,
    voice_job_workers: int | None,
    log_level: str,
) -> None:
    """Serve the Amazon Polly and OpenAI speech APIs.

    \b
    Examples:
      voicesmith serve
      VOICESMITH_AWS_CREDENTIALS='{"AKID": "secret"}' voicesmith serve --host 0.0.0.0 --workers 2
    Then point boto3 at it: boto3.client("polly", endpoint_url="http://127.0.0.1:8000", ...).
    """
    import uvicorn

    from voicesmith.settings import Settings

    if task_workers is not None:
        os.environ["VOICESMITH_TASK_WORKERS"] = str(task_workers)  # read by every worker process
    if voice_job_workers is not None:
        os.environ["VOICESMITH_VOICE_JOB_WORKERS"] = str(voice_job_workers)
    settings = Settings()
    host = host or settings.host
    port = port or settings.port
    if host not in ("127.0.0.1", "localhost", "::1") and not (
        settings.aws_credentials or settings.openai_api_keys
    ):
        _LOGGER.warning("listening on %s with no keys configured: anyone who can reach it may use it", host)
    if workers > 1:
        uvicorn.run(
            "voicesmith.server.app:create_app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
        )
        return
    from voicesmith.server.app import create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level)
