"""``voicesmith serve``: the HTTP service (Polly REST, OpenAI speech, tasks, custom voices) under uvicorn.

uvicorn runs with :class:`voicesmith.server.connections.GuardedH11Protocol` (header and body
timeouts, a connection limit); the options below that shape who may call and how much are settings
(``VOICESMITH_*``), passed to every worker process through the environment.
"""

from __future__ import annotations

import logging
import os
import sys

import click

_LOGGER = logging.getLogger(__name__)

#: CLI option -> the setting it sets (through the environment, so ``--workers`` processes see it too).
_SETTING_OPTIONS = {
    "task_workers": "VOICESMITH_TASK_WORKERS",
    "auth": "VOICESMITH_AUTH",
    "synthesis_queue": "VOICESMITH_SYNTHESIS_QUEUE",
    "rate_limit": "VOICESMITH_RATE_LIMIT_PER_SECOND",
    "header_timeout": "VOICESMITH_HEADER_TIMEOUT_SECONDS",
    "body_timeout": "VOICESMITH_BODY_TIMEOUT_SECONDS",
    "max_connections": "VOICESMITH_MAX_CONNECTIONS",
}


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
    "--auth",
    type=click.Choice(["auto", "on", "off"]),
    help="Credentials on every route: auto (default) = on once any key is configured.",
)
@click.option(
    "--synthesis-queue",
    type=click.IntRange(0, 4096),
    help="Synthesis requests that may wait per process; more are throttled at once (default: 2 x pool).",
)
@click.option(
    "--rate-limit", type=click.FloatRange(0), help="Requests per second per key and process (0: none)."
)
@click.option(
    "--header-timeout", type=click.FloatRange(0.1, 600), help="Seconds to send a request head (10)."
)
@click.option("--body-timeout", type=click.FloatRange(0.1, 3600), help="Seconds a body may stall (30).")
@click.option(
    "--max-connections",
    type=click.IntRange(1),
    help="Open connections per process (default: from ulimit -n).",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
)
def serve(host: str | None, port: int | None, workers: int, log_level: str, **options: object) -> None:
    """Serve the Amazon Polly and OpenAI speech APIs.

    \b
    Examples:
      voicesmith serve
      VOICESMITH_AWS_CREDENTIALS='{"AKID": "secret"}' voicesmith serve --host 0.0.0.0 --workers 2
    Then point boto3 at it: boto3.client("polly", endpoint_url="http://127.0.0.1:8000", ...).
    docs/security.md says what to put in front of it before it faces a network.
    """
    import uvicorn

    from voicesmith.server.auth import auth_enabled
    from voicesmith.server.connections import uvicorn_options
    from voicesmith.settings import Settings

    for name, variable in _SETTING_OPTIONS.items():
        if options.get(name) is not None:
            os.environ[variable] = str(options[name])  # read by every worker process
    settings = Settings()
    host = host or settings.host
    port = port or settings.port
    os.environ.setdefault("VOICESMITH_PORT", str(port))  # notifications name this server's URL
    if host not in ("127.0.0.1", "localhost", "::1") and not auth_enabled(settings):
        _LOGGER.warning("listening on %s with auth off: anyone who can reach it may use it", host)
    protocol = uvicorn_options(settings)
    # The event loop answers throttles, refusals and health checks while synthesis threads run Python
    # code between onnxruntime calls: a 1 ms GIL switch interval (Python's default is 5 ms) keeps those
    # answers prompt under load (benchmarks/load.py overload). --workers processes set it in
    # create_app_from_env.
    sys.setswitchinterval(0.001)
    if workers > 1:
        uvicorn.run(
            "voicesmith.server.app:create_app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            http="voicesmith.server.connections:EnvGuardedH11Protocol",
            timeout_keep_alive=protocol["timeout_keep_alive"],
            backlog=protocol["backlog"],
        )
        return
    from voicesmith.server.app import create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level, **protocol)
