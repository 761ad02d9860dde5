"""``voicesmith serve``: the HTTP service (Polly REST, OpenAI speech, tasks, custom voices) under uvicorn.

uvicorn runs with :class:`voicesmith.server.connections.GuardedH11Protocol` (header and body
timeouts, a connection limit); the options below that shape who may call and how much are settings
(``VOICESMITH_*``), passed to every worker process through the environment.
"""

from __future__ import annotations

import logging
import os
import socket
import sys

import click

_LOGGER = logging.getLogger(__name__)

#: CLI option -> the setting it sets (through the environment, so ``--workers`` processes see it too).
_SETTING_OPTIONS = {
    "task_workers": "VOICESMITH_TASK_WORKERS",
    "voice_job_workers": "VOICESMITH_VOICE_JOB_WORKERS",
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
    "--polly-stream-port",
    type=click.IntRange(1, 65535),
    help="Also serve the API over HTTP/2 on this port: the AWS SDK for JavaScript v3 (Polly's "
    "StartSpeechSynthesisStream, and its other calls) speaks HTTP/2 only.",
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
    """Serve the Amazon Polly, OpenAI, ElevenLabs and MaryTTS speech APIs, and Wyoming for Home Assistant.

    \b
    Examples:
      voicesmith serve
      VOICESMITH_AWS_CREDENTIALS='{"AKID": "secret"}' voicesmith serve --host 0.0.0.0 --workers 2
      voicesmith serve --wyoming-port 10200 --marytts-port 59125   (Home Assistant, speech-dispatcher)
      voicesmith serve --polly-stream-port 8001   (HTTP/2: the JS SDK v3, StartSpeechSynthesisStream)
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
    _door_environment(
        options.get("wyoming_port"), options.get("wyoming_zeroconf"), options.get("marytts_port"), host
    )
    _http2_environment(options.get("polly_stream_port"), host)
    settings = Settings()
    from voicesmith.server.logs import configure

    configure(settings.log_format, log_level)
    os.environ["VOICESMITH_LOG_LEVEL"] = log_level  # worker processes set up their logging alike
    host = host or settings.host
    port = port or settings.port
    os.environ.setdefault("VOICESMITH_PORT", str(port))  # notifications name this server's URL
    if host not in ("127.0.0.1", "localhost", "::1") and not auth_enabled(settings):
        _LOGGER.warning("listening on %s with auth off: anyone who can reach it may use it", host)
    if settings.marytts_port and workers > 1:
        raise click.UsageError(
            "--marytts-port needs --workers 1 (or put the main port behind a proxy on 59125)"
        )
    protocol = uvicorn_options(settings)
    # The event loop answers throttles, refusals and health checks while synthesis threads run Python
    # code between onnxruntime calls: a 1 ms GIL switch interval (Python's default is 5 ms) keeps those
    # answers prompt under load (benchmarks/load.py overload). --workers processes set it in
    # create_app_from_env.
    sys.setswitchinterval(0.001)
    if workers > 1:
        calls, threads = settings.synthesis_shares(workers)  # each process its share of the cores
        os.environ["VOICESMITH_MAX_CONCURRENT_SYNTHESIS"] = str(calls)
        os.environ["VOICESMITH_INTRA_OP_THREADS"] = str(threads)
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # /metrics aggregates every worker process
            import tempfile

            os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="voicesmith-metrics-")
        from voicesmith.tasks.store import Store

        settings.data_dir.mkdir(parents=True, exist_ok=True)  # as create_app does for one process
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
            timeout_graceful_shutdown=settings.shutdown_drain_seconds,
            log_config=None,  # the workers log through logs.configure as well (create_app_from_env)
            http="voicesmith.server.connections:EnvGuardedH11Protocol",
            timeout_keep_alive=protocol["timeout_keep_alive"],
            backlog=protocol["backlog"],
        )
        return
    from voicesmith.server.app import create_app

    options = {
        "log_level": log_level,
        "timeout_graceful_shutdown": settings.shutdown_drain_seconds,  # SIGTERM drains within this
        "log_config": None,  # logging is set up above (text or JSON, with request ids)
        **protocol,  # connection limits (timeouts, keep-alive, backlog)
    }
    if settings.marytts_port:  # one server, two listeners: the main port and MaryTTS's
        config = uvicorn.Config(create_app(settings), host=host, port=port, **options)
        uvicorn.Server(config).run(sockets=[config.bind_socket(), _listen(host, settings.marytts_port)])
        return
    uvicorn.run(create_app(settings), host=host, port=port, **options)


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


def _http2_environment(port: object, host: str | None) -> None:
    """``--polly-stream-port`` as settings; the HTTP/2 port listens where ``--host`` says unless
    VOICESMITH_POLLY_STREAM_HOST names another interface."""
    if port is None:
        return
    os.environ["VOICESMITH_POLLY_STREAM_PORT"] = str(port)
    if host and not os.environ.get("VOICESMITH_POLLY_STREAM_HOST"):
        os.environ["VOICESMITH_POLLY_STREAM_HOST"] = host


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
