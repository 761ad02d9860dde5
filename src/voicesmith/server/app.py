"""The HTTP service: ``create_app(settings)`` builds one FastAPI app with its own state.

Nothing is made at import time. The app holds a :class:`~voicesmith.server.services.Services` (the
synthesizer, the database, the output storage, the synthesis thread pool and the task workers) on
``app.state``; routes get it by dependency injection. The task workers start and stop with the app.

Run it with ``voicesmith serve`` (uvicorn), or
``uvicorn --factory voicesmith.server.app:create_app_from_env``.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voicesmith import __version__
from voicesmith.engine.catalog import BUNDLED_VOICE_ID
from voicesmith.engine.synthesizer import Synthesizer
from voicesmith.errors import RequestTooLargeError, VoicesmithError
from voicesmith.server import (
    console,
    emotion_api,
    h2_listener,
    logs,
    metrics,
    openai_api,
    polly,
    polly_stream,
    polly_tasks,
    sagemaker,
    voices,
    webhooks,
)
from voicesmith.server.auth import (
    EVENT_STREAM_PATHS,
    METRICS,
    AuthMiddleware,
    check_auth_settings,
    require_auth,
)
from voicesmith.server.cache import ResponseCache, SharedTier
from voicesmith.server.deps import ServicesDep
from voicesmith.server.elevenlabs import router as elevenlabs_router
from voicesmith.server.errors import (
    REQUEST_ID_HEADER,
    door_error,
    install_error_handlers,
    is_openai_path,
    openai_error,
    polly_error,
    unexpected_error_response,
)
from voicesmith.server.marytts import router as marytts_router
from voicesmith.server.services import Admission, RateLimiter, Services, SynthesisPool
from voicesmith.server.voices import VoiceJobRunner
from voicesmith.server.workers import build_workers, start_workers
from voicesmith.server.wyoming import router as wyoming_router
from voicesmith.settings import Settings
from voicesmith.tasks.storage import OutputStorage, SharedFolder
from voicesmith.tasks.store import Store

_LOGGER = logging.getLogger(__name__)

UPLOAD_PATHS = ("/v1/voices",)


class RequestContextMiddleware:
    """Gives every request an id (``x-amzn-RequestId`` on every answer) and caps request bodies:
    by Content-Length before the app runs, and by counting for bodies sent without one."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # An outer layer (the tracing middleware) may have named the request already.
        rid = scope.setdefault("state", {}).setdefault("request_id", str(uuid.uuid4()))
        logs.REQUEST_ID.set(rid)  # every log line of this request carries it
        path = scope["path"]
        limit = (
            self.max_upload_bytes if path in UPLOAD_PATHS and scope["method"] == "POST" else self.max_bytes
        )
        if path in EVENT_STREAM_PATHS:  # a stream's door bounds each event and the text of the stream
            limit = sys.maxsize
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await self._too_large(scope, receive, send, int(length), limit)
            return
        received = 0
        over_limit = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, over_limit
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over_limit = True
                    raise RequestTooLargeError(f"the request body is over {limit} bytes")
            return message

        async def send_with_id(message: Message) -> None:
            if over_limit:  # whatever the app made of the interrupted body, the answer is 413
                if message["type"] == "http.response.start":
                    await self._too_large(scope, receive, send, received, limit)
                return
            if message["type"] == "http.response.start":
                nonlocal started
                started = True
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.lower().encode(), rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, counting_receive, send_with_id)
        except Exception as error:
            if started:
                raise  # mid-stream: all that can be done is to cut the connection
            # Answered here, in the API's shape, rather than by Starlette's outermost error handler.
            response = await unexpected_error_response(Request(scope), error)
            await response(scope, receive, send)

    @staticmethod
    async def _too_large(scope: Scope, receive: Receive, send: Send, size: int, limit: int) -> None:
        message = f"the request body is {size} bytes or more; this server accepts at most {limit}"
        if (door := door_error(scope["path"], message, 413)) is not None:
            response = door
        elif is_openai_path(scope["path"]):
            response = openai_error(message, 413)
        else:
            response = polly_error("ValidationException", message, 413, scope["state"]["request_id"])
        await response(scope, receive, send)


def build_services(settings: Settings, synthesizer: Synthesizer | None = None) -> Services:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    concurrency, threads = settings.synthesis_shares()
    if synthesizer is None:
        synthesizer = Synthesizer(settings.model_copy(update={"intra_op_threads": threads}))
    synthesizer.catalog.on_load = metrics.voice_loaded
    synthesizer.observe = metrics.observe  # every door's audio seconds and real-time factor
    shared = (
        SharedFolder(settings.shared_storage_url, settings.s3_endpoint_url, settings.s3_region)
        if settings.shared_storage_url
        else None
    )
    queued = settings.synthesis_queue if settings.synthesis_queue >= 0 else 4 * concurrency
    store = Store(settings.database_url)
    store.check(thorough=True)  # a damaged database stops the start with one line naming it
    return Services(
        settings=settings,
        synthesizer=synthesizer,
        store=store,
        storage=OutputStorage(settings.output_url, settings.s3_endpoint_url, settings.s3_region),
        pool=SynthesisPool(concurrency),
        shared=shared,
        cache=_response_cache(settings, shared),
        admission=Admission(concurrency, queued),
        rate_limiter=RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst),
        webhooks=webhooks.WebhookSender(
            settings.webhook_allowed_networks,
            settings.webhook_timeout_seconds,
            settings.webhook_attempts,
            webhooks.Signer(settings.data_dir / "sns"),
        ),
    )


def _response_cache(settings: Settings, shared: SharedFolder | None) -> ResponseCache | None:
    if not settings.response_cache_mb:
        return None
    tier = SharedTier(shared) if shared is not None and settings.response_cache_shared else None
    return ResponseCache(settings.response_cache_mb << 20, tier)


def readiness(services: Services) -> dict[str, dict[str, object]]:
    """Each readiness check: the database answers (every table readable), the output storage takes a
    write, and the default voice loads (once; after that it is in memory)."""
    checks: dict[str, dict[str, object]] = {}
    probes = (
        ("database", services.store.check),
        ("storage", services.storage.check),
        ("voice", lambda: services.synthesizer.catalog.load(BUNDLED_VOICE_ID)),
    )
    for name, probe in probes:
        try:
            probe()
            checks[name] = {"ok": True}
        except VoicesmithError as error:
            checks[name] = {"ok": False, "error": error.message}
        except Exception as error:  # noqa: BLE001 - a readiness probe reports, it never raises
            _LOGGER.exception("readiness check %s failed", name)
            checks[name] = {"ok": False, "error": f"{type(error).__name__}: {error}"}
    return checks


def create_app(
    settings: Settings | None = None,
    *,
    voice_job_runner: VoiceJobRunner | None = None,
    synthesizer: Synthesizer | None = None,
) -> FastAPI:
    """The voicesmith HTTP service.

    Args:
        settings: where state lives and the server's limits and keys (default: from the environment).
        voice_job_runner: makes a custom voice in-process from a job's data (tests, embedders); default:
            the configured training backend (``VOICESMITH_TRAINING_BACKEND``), or, for ``local`` without
            the ``[train]`` extra, a runner that fails each job saying so.
        synthesizer: share an already loaded synthesizer (tests); default: a new one on ``settings``.
    """
    settings = settings or Settings()
    check_auth_settings(settings)
    services = build_services(settings, synthesizer)
    build_workers(services, voice_job_runner=voice_job_runner)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        start_workers(services)
        _LOGGER.info("voicesmith %s serving; data in %s", __version__, settings.data_dir)
        try:
            yield
        finally:
            services.close()

    app = FastAPI(title="voicesmith", version=__version__, lifespan=lifespan)
    app.state.services = services
    install_error_handlers(app)
    # Inside RequestContextMiddleware (added last, so outermost): credentials, rate and admission are
    # checked with the request id set, and before the body is read.
    app.add_middleware(AuthMiddleware, fastapi_app=app)
    app.add_middleware(
        RequestContextMiddleware,
        max_bytes=settings.max_request_bytes,
        max_upload_bytes=settings.max_upload_bytes,
    )
    app.add_middleware(metrics.MetricsMiddleware)  # outermost: times everything, 413s included
    if settings.otel_enabled:
        from voicesmith.server import tracing

        tracing.instrument(app)
    for module in (polly, polly_tasks, voices, openai_api, sagemaker, emotion_api, console, webhooks):
        app.include_router(module.router)
    app.include_router(wyoming_router)  # the Wyoming TCP server, started with the app when configured
    app.include_router(elevenlabs_router)  # ElevenLabs' API under /elevenlabs
    app.include_router(marytts_router)  # MaryTTS's /process, /voices, /locales, /version
    app.include_router(polly_stream.router)  # StartSpeechSynthesisStream (HTTP/2 event stream)
    app.include_router(h2_listener.router)  # the HTTP/2 port, started with the app when configured

    @app.get("/healthz", tags=["health"])
    def healthz(services: ServicesDep) -> dict:
        return {"status": "ok", "voices": len(services.synthesizer.voices()), "version": __version__}

    @app.get("/metrics", tags=["health"], response_class=Response, dependencies=[require_auth(METRICS)])
    def prometheus_metrics(services: ServicesDep) -> Response:
        body, content_type = metrics.exposition(services)
        return Response(body, media_type=content_type)

    @app.get("/readyz", tags=["health"])
    def readyz(services: ServicesDep) -> JSONResponse:
        """Ready to serve (``/healthz`` only says alive): 200, or 503 naming each check that failed."""
        checks = readiness(services)
        ready = all(check["ok"] for check in checks.values())
        body = {"status": "ready" if ready else "not ready", "checks": checks, "version": __version__}
        return JSONResponse(body, status_code=200 if ready else 503)

    return app


def create_app_from_env() -> FastAPI:
    """Factory for uvicorn (``--factory``, ``voicesmith serve --workers N``): settings from the env."""
    import sys

    sys.setswitchinterval(0.001)  # as voicesmith serve does (see cli/serve.py)
    settings = Settings()
    logs.configure(settings.log_format, os.environ.get("VOICESMITH_LOG_LEVEL", "info"))
    return create_app(settings)
