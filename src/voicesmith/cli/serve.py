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
    help="Task/voice-job worker threads per process (default: VOICESMITH_TASK_WORKERS or 1).",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
)
def serve(host: str | None, port: int | None, workers: int, task_workers: int | None, log_level: str) -> None:
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
    settings = Settings()
    host = host or settings.host
    port = port or settings.port
    if host not in ("127.0.0.1", "localhost", "::1") and not (
        settings.aws_credentials or settings.openai_api_keys
    ):
        _LOGGER.warning("listening on %s with no keys configured: anyone who can reach it may use it", host)
    if workers > 1:
        from voicesmith.tasks.store import Store

        store = Store(settings.database_url)  # a damaged database: one line and exit 2, not N crashes
        store.check(thorough=True)
        store.close()
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
