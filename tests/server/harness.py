"""Helpers for the server tests: run a real server, make stock clients."""

from __future__ import annotations

import socket
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from voicesmith.settings import Settings

ACCESS_KEY = "AKIDVOICESMITHTEST"
SECRET_KEY = "test-secret-key"
OPENAI_KEY = "sk-voicesmith-test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningServer:
    url: str
    settings: Settings
    app: object

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir


def make_settings(root: Path, shared_cache: Path, **overrides: object) -> Settings:
    root.mkdir(parents=True, exist_ok=True)
    cache = root / "cache"
    if not cache.exists():
        cache.symlink_to(shared_cache, target_is_directory=True)
    options = {
        "task_lease_seconds": 3.0,
        "task_poll_seconds": 0.2,
        "max_concurrent_synthesis": 2,
        "webhook_allowed_networks": ["127.0.0.1/32"],  # the tests' webhooks listen on loopback
        **overrides,
    }
    return Settings(data_dir=root, **options)


SHUTDOWN_SECONDS = 3.0
"""How long a test server lets open requests finish when it stops (the product's drain is 20 s)."""


def serve(settings: Settings, **app_options: object) -> Iterator[RunningServer]:
    """Run ``create_app(settings)`` under uvicorn in a thread until the generator is closed."""
    from voicesmith.server.app import create_app

    yield from serve_app(create_app(settings, **app_options), settings)


def serve_app(app: object, settings: Settings) -> Iterator[RunningServer]:
    """Run an app made by ``create_app`` (perhaps with routes a test added) as :func:`serve` does."""
    import uvicorn

    from voicesmith.server.connections import uvicorn_options

    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=SHUTDOWN_SECONDS,  # a client a test left open does not hold the suite
        **uvicorn_options(settings),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield RunningServer(f"http://127.0.0.1:{port}", settings, app)
    finally:
        server.should_exit = True
        stopping = time.monotonic()
        thread.join(30)
        took = time.monotonic() - stopping
        if took > SHUTDOWN_SECONDS + 1:
            warnings.warn(f"the test server on port {port} took {took:.0f} s to stop", stacklevel=2)


serving = contextmanager(serve)
"""``with serving(settings) as running:`` - a server for one test."""


def polly_client(url: str, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "polly",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(retries={"max_attempts": 1}),
    )


def openai_client(url: str, api_key: str = OPENAI_KEY):
    import openai

    return openai.OpenAI(base_url=f"{url}/v1", api_key=api_key, max_retries=0)


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.1):
    """Poll ``predicate`` until it returns something truthy; that value, or AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")
