"""OpenTelemetry tracing of the HTTP service (optional: the ``otel`` extra, ``otel_enabled = true``).

FastAPI's instrumentation makes a span per request (route template, status, and the request id as
``voicesmith.request_id``). Where no tracer provider was set up already (``opentelemetry-instrument``
does that), an SDK provider is made that exports over OTLP/HTTP when the exporter is installed and
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set.
"""

from __future__ import annotations

import logging
import os
import uuid

from fastapi import FastAPI

from voicesmith.errors import ValidationError

_LOGGER = logging.getLogger(__name__)


def instrument(app: FastAPI) -> None:
    try:
        from opentelemetry import trace
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    except ImportError as error:
        raise ValidationError(
            "otel_enabled is set but OpenTelemetry is not installed: pip install 'voicesmith[otel]'"
        ) from error
    _default_provider(trace)

    def request_hook(span, scope) -> None:  # noqa: ANN001 - OpenTelemetry's hook signature
        # The tracing middleware is outermost: name the request here; the request middleware keeps it.
        request_id = scope.setdefault("state", {}).setdefault("request_id", str(uuid.uuid4()))
        if span is not None and span.is_recording():
            span.set_attribute("voicesmith.request_id", request_id)

    FastAPIInstrumentor.instrument_app(app, server_request_hook=request_hook, excluded_urls="metrics,healthz")
    _LOGGER.info("OpenTelemetry tracing on")


def _default_provider(trace) -> None:  # noqa: ANN001 - the opentelemetry.trace module
    if type(trace.get_tracer_provider()).__name__ != "ProxyTracerProvider":
        return  # set up by the application or by opentelemetry-instrument
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "voicesmith"}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            _LOGGER.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but the OTLP/HTTP exporter is not installed")
        else:
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
