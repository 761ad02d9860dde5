"""``voicesmith serve``: the HTTP service (Polly REST, OpenAI speech, tasks, custom voices) under uvicorn."""

from __future__ import annotations

import logging
import os
import socket

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
# -- more front doors (Wyoming, MaryTTS's port): read by every worker process from the environment --
@click.option(
    "--wyoming-port",
    type=click.IntRange(1, 65535),
    help="Serve Home Assistant's Wyoming protocol on this "
    "TCP port (usually 10200; no authentication: bind --host where only Home Assistant reaches).",
)
@click.option(
    "--wyoming-zeroconf", is_flag=True, default=None, help="Advertise the Wyoming server over mDNS."
)
@click.option(
    "--marytts-port",
    type=click.IntRange(1, 65535),
    help="Also listen on this port (MaryTTS's is "
    "59125) for speech-dispatcher and other MaryTTS clients; needs --workers 1.",
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
    wyoming_port: int | None = None,
    wyoming_zeroconf: bool | None = None,
    marytts_port: int | None = None,
) -> None:
    """Serve the Amazon Polly, OpenAI, ElevenLabs and MaryTTS speech APIs, and Wyoming for Home Assistant.

    \b
    Examples:
      voicesmith serve
      VOICESMITH_AWS_CREDENTIALS='{"AKID": "secret"}' voicesmith serve --host 0.0.0.0 --workers 2
      voicesmith serve --wyoming-port 10200 --marytts-port 59125   (Home Assistant, speech-dispatcher)
    Then point boto3 at it: boto3.client("polly", endpoint_url="http://127.0.0.1:8000", ...).
    """
    import uvicorn

    from voicesmith.settings import Settings

    if task_workers is not None:
        os.environ["VOICESMITH_TASK_WORKERS"] = str(task_workers)  # read by every worker process
    if voice_job_workers is not None:
        os.environ["VOICESMITH_VOICE_JOB_WORKERS"] = str(voice_job_workers)
    _door_environment(wyoming_port, wyoming_zeroconf, marytts_port, host)
    settings = Settings()
    host = host or settings.host
    port = port or settings.port
    if host not in ("127.0.0.1", "localhost", "::1") and not (
        settings.aws_credentials or settings.openai_api_keys
    ):
        _LOGGER.warning("listening on %s with no keys configured: anyone who can reach it may use it", host)
    if settings.marytts_port and workers > 1:
        raise click.UsageError(
            "--marytts-port needs --workers 1 (or put the main port behind a proxy on 59125)"
        )
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

    if settings.marytts_port:  # one server, two listeners: the main port and MaryTTS's
        config = uvicorn.Config(create_app(settings), host=host, port=port, log_level=log_level)
        uvicorn.Server(config).run(sockets=[config.bind_socket(), _listen(host, settings.marytts_port)])
        return
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level)


def _door_environment(
    wyoming_port: int | None, wyoming_zeroconf: bool | None, marytts_port: int | None, host: str | None
) -> None:
    """The door flags as settings (environment), so worker processes see them too. The Wyoming server
    listens where ``--host`` says unless VOICESMITH_WYOMING_HOST names another interface."""
    if host and not os.environ.get("VOICESMITH_WYOMING_HOST"):
        os.environ["VOICESMITH_WYOMING_HOST"] = host
    for name, value in (
        ("VOICESMITH_WYOMING_PORT", wyoming_port),
        ("VOICESMITH_WYOMING_ZEROCONF", wyoming_zeroconf),
        ("VOICESMITH_MARYTTS_PORT", marytts_port),
    ):
        if value is not None:
            os.environ[name] = str(value).lower() if isinstance(value, bool) else str(value)


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise click.ClickException(f"cannot listen on {host}:{port} for MaryTTS clients: {error}") from None
    sock.set_inheritable(True)
    return sock
