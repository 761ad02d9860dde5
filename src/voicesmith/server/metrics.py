"""Prometheus metrics: ``GET /metrics`` (prometheus-client's text exposition).

What is measured:
- ``voicesmith_http_requests_total{api,route,status}``, ``voicesmith_http_time_to_first_byte_seconds`` and
  ``voicesmith_http_request_duration_seconds`` histograms ``{api,route}`` (the route template, never the raw
  path, so ids do not explode the label set);
- synthesis: ``voicesmith_audio_seconds_total{api}``, ``voicesmith_synthesis_real_time_factor`` (compute
  seconds per audio second, time spent making audio only), ``voicesmith_synthesis_in_flight``;
- state of the shared queue, read from the database at scrape time: ``voicesmith_tasks{status}`` and
  ``voicesmith_voice_jobs{status}`` (``scheduled``/``pending`` is the queue depth), and this process's
  running jobs ``voicesmith_jobs_in_flight``;
- voices: ``voicesmith_voice_load_seconds`` histogram, ``voicesmith_voice_memory_bytes{voice}`` (this
  process's loaded voices);
- the response cache: ``voicesmith_cache_requests_total{result}``.

With several server processes (``voicesmith serve --workers N``), ``serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder before the workers start, and every scrape aggregates
all of them (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import contextvars
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LOGGER = logging.getLogger(__name__)

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_RTF_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0)

REQUESTS = Counter("voicesmith_http_requests", "HTTP requests answered", ["api", "route", "status"])
TTFB = Histogram(
    "voicesmith_http_time_to_first_byte_seconds",
    "Time from the request to the first byte of the answer's body",
    ["api", "route"],
    buckets=_LATENCY_BUCKETS,
)
DURATION = Histogram(
    "voicesmith_http_request_duration_seconds",
    "Time from the request to the answer's last byte",
    ["api", "route"],
    buckets=_LATENCY_BUCKETS,
)
AUDIO_SECONDS = Counter("voicesmith_audio_seconds", "Seconds of audio synthesized", ["api"])
RTF = Histogram(
    "voicesmith_synthesis_real_time_factor",
    "Compute seconds per second of audio, per synthesis call",
    buckets=_RTF_BUCKETS,
)
IN_FLIGHT = Gauge(
    "voicesmith_synthesis_in_flight", "Synthesis calls running now", multiprocess_mode="livesum"
)
VOICE_LOAD = Histogram(
    "voicesmith_voice_load_seconds",
    "Time to fetch (shared catalog) and load a voice",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
CACHE = Counter(
    "voicesmith_cache_requests",
    "Synthesis requests by response-cache result (hit-memory, hit-shared, miss)",
    ["result"],
)


DOOR: contextvars.ContextVar[str] = contextvars.ContextVar("voicesmith_door", default="other")
"""The door the current request came through (``api`` in the metrics): set by :class:`MetricsMiddleware`
for HTTP and WebSocket requests, by the Wyoming server and by the task workers."""


def api_of(path: str) -> str:
    """Which door a path belongs to (a label of every request metric)."""
    if path.startswith(("/v1/audio", "/v1/models")):
        return "openai"
    if path.startswith("/v1/emotion"):
        return "emotion"
    if path.startswith("/elevenlabs/"):
        return "elevenlabs"
    if path in ("/process", "/version", "/voices", "/locales", "/audioformats", "/datatypes"):
        return "marytts"
    if path.startswith("/v1/"):
        return "polly"
    if path in ("/invocations", "/ping"):
        return "sagemaker"
    if path in ("/healthz", "/readyz", "/metrics"):
        return "ops"
    if path == "/" or path.startswith("/console"):
        return "console"
    return "other"


class MetricsMiddleware:
    """Counts and times every HTTP request by API, route template and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            DOOR.set(api_of(scope["path"]))
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        first_byte: float | None = None

        async def timed_send(message: Message) -> None:
            nonlocal status, first_byte
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and first_byte is None:
                first_byte = time.perf_counter()
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            api = api_of(scope["path"])
            end = time.perf_counter()
            REQUESTS.labels(api, template, str(status)).inc()
            TTFB.labels(api, template).observe((first_byte or end) - started)
            DURATION.labels(api, template).observe(end - started)


def measured(chunks: Iterator[Any], api: str) -> Iterator[Any]:
    """Pass synthesis chunks through, counting audio seconds, the compute time spent making them (time
    inside ``next``, not time waiting for a slow client) and the calls in flight."""
    audio = compute = 0.0
    IN_FLIGHT.inc()
    try:
        while True:
            started = time.perf_counter()
            try:
                chunk = next(chunks)
            except StopIteration:
                compute += time.perf_counter() - started
                break
            compute += time.perf_counter() - started
            audio += len(chunk.audio) / chunk.sample_rate
            yield chunk
    finally:
        IN_FLIGHT.dec()
        if audio > 0:
            AUDIO_SECONDS.labels(api).inc(audio)
            RTF.observe(compute / audio)


def observe(chunks: Iterator[Any]) -> Iterator[Any]:
    """The synthesizer's observer (:attr:`Synthesizer.observe`): every door's audio, labelled with the
    door of the request that opened the stream (read now, in the request's context)."""
    return measured(chunks, DOOR.get())


def voice_loaded(voice_id: str, seconds: float, size: int) -> None:
    """The catalog's on_load hook."""
    VOICE_LOAD.observe(seconds)


class _StateCollector:
    """Gauges read at scrape time: the queue in the database and this process's jobs and voices."""

    def __init__(self, services: Any) -> None:
        self.services = services

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from voicesmith.tasks.store import TaskRow, VoiceJobRow

        store = self.services.store
        for name, model, text in (
            ("voicesmith_tasks", TaskRow, "Synthesis tasks by status (scheduled: the queue depth)"),
            ("voicesmith_voice_jobs", VoiceJobRow, "Custom-voice jobs by status (pending: the queue depth)"),
        ):
            family = GaugeMetricFamily(name, text, labels=["status"])
            try:
                for status, count in store.count_by_status(model).items():
                    family.add_metric([status], count)
            except Exception:  # the database is down: say nothing rather than fail the scrape
                _LOGGER.exception("reading %s for /metrics failed", name)
            yield family
        runner = self.services.runner
        running = GaugeMetricFamily("voicesmith_jobs_in_flight", "Jobs this process is running now")
        running.add_metric([], runner.in_flight if runner is not None else 0)
        yield running
        memory = GaugeMetricFamily(
            "voicesmith_voice_memory_bytes", "Memory of this process's loaded voices", labels=["voice"]
        )
        for voice_id, loaded in self.services.synthesizer.catalog.loaded().items():
            memory.add_metric([voice_id], loaded.bytes)
        yield memory


def exposition(services: Any) -> tuple[bytes, str]:
    """The body and content type of ``GET /metrics``."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    state = CollectorRegistry(auto_describe=False)
    state.register(_StateCollector(services))
    return generate_latest(registry) + generate_latest(state), CONTENT_TYPE_LATEST
