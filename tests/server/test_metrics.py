"""Operations: Prometheus /metrics (also across worker processes), request ids in (JSON) logs, tracing."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from .harness import (
    ACCESS_KEY,
    OPENAI_KEY,
    SECRET_KEY,
    free_port,
    make_settings,
    openai_client,
    polly_client,
    serving,
    wait_for,
)

SRC = Path(__file__).resolve().parents[2] / "src"


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    answer = httpx.get(f"{url}/metrics", timeout=30)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture(scope="module")
def running(tmp_path_factory, shared_cache):
    settings = make_settings(tmp_path_factory.mktemp("metrics"), shared_cache, task_workers=0)
    with serving(settings) as server:
        yield server


def test_requests_latency_audio_and_queue_are_measured(running):
    before = scrape(running.url)
    polly = polly_client(running.url)
    polly.synthesize_speech(Text="Measured speech.", VoiceId="joe", OutputFormat="mp3")["AudioStream"].read()
    openai_client(running.url).audio.speech.create(model="tts-1", voice="alloy", input="Measured too.").read()
    with pytest.raises(polly.exceptions.ValidationException):
        polly.synthesize_speech(Text="x", VoiceId="joe", OutputFormat="nope")
    polly.start_speech_synthesis_task(
        Text="Queued.", VoiceId="joe", OutputFormat="mp3", OutputS3BucketName="q-1"
    )
    after = scrape(running.url)

    ok = {"api": "polly", "route": "/v1/speech", "status": "200"}
    assert (
        value(after, "voicesmith_http_requests_total", **ok)
        == value(before, "voicesmith_http_requests_total", **ok) + 1
    )
    bad = {"api": "polly", "route": "/v1/speech", "status": "400"}
    assert value(after, "voicesmith_http_requests_total", **bad) >= 1
    route = {"api": "openai", "route": "/v1/audio/speech"}
    assert value(after, "voicesmith_http_time_to_first_byte_seconds_count", **route) >= 1
    assert value(after, "voicesmith_http_request_duration_seconds_sum", **route) > 0
    for api in ("polly", "openai"):
        produced = value(after, "voicesmith_audio_seconds_total", api=api) - value(
            before, "voicesmith_audio_seconds_total", api=api
        )
        assert 0.5 < produced < 5
    assert value(after, "voicesmith_synthesis_real_time_factor_count") >= 2
    assert value(after, "voicesmith_synthesis_in_flight") == 0
    assert value(after, "voicesmith_tasks", status="scheduled") >= 1  # no workers here: the queue
    assert value(after, "voicesmith_jobs_in_flight") == 0
    assert value(after, "voicesmith_voice_memory_bytes", voice="joe") > 10_000_000
    assert value(after, "voicesmith_voice_load_seconds_count") >= 1


def test_log_lines_carry_the_request_id_and_can_be_json(running):
    from voicesmith.server import logs

    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    logs.configure("json", "INFO", stream)
    try:
        answer = httpx.post(
            f"{running.url}/v1/synthesisTasks",
            json={"Text": "Logged.", "VoiceId": "joe", "OutputFormat": "pcm", "OutputS3BucketName": "logs-1"},
        )
        assert answer.status_code == 200
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    scheduled = [e for e in entries if "scheduled" in e["message"]]
    assert scheduled and scheduled[0]["request_id"] == answer.headers["x-amzn-RequestId"]
    assert {"time", "level", "logger", "message"} <= set(scheduled[0])


def test_with_auth_on_metrics_take_a_scrape_token_that_opens_nothing_else(tmp_path, shared_cache):
    keys = {"aws_credentials": {ACCESS_KEY: SECRET_KEY}, "openai_api_keys": [OPENAI_KEY]}
    settings = make_settings(
        tmp_path / "data", shared_cache, task_workers=0, metrics_tokens=["scrape-1"], **keys
    )
    with serving(settings) as server:
        assert httpx.get(f"{server.url}/metrics").status_code == 403
        assert httpx.get(f"{server.url}/metrics", headers={"Authorization": "Bearer nope"}).status_code == 403
        scraped = httpx.get(f"{server.url}/metrics", headers={"Authorization": "Bearer scrape-1"})
        assert scraped.status_code == 200 and "voicesmith_http_requests_total" in scraped.text
        as_api_key = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {OPENAI_KEY}"})
        assert as_api_key.status_code == 200
        speech = httpx.post(
            f"{server.url}/v1/audio/speech",
            headers={"Authorization": "Bearer scrape-1"},
            json={"model": "tts-1", "voice": "alloy", "input": "Not for the scraper."},
        )
        assert speech.status_code == 401  # the scrape token is not an API key
        polly_route = httpx.get(f"{server.url}/v1/voices", headers={"Authorization": "Bearer scrape-1"})
        assert polly_route.status_code in (400, 403)  # Polly's answers to a credential it does not take


def test_metrics_public_opens_only_metrics(tmp_path, shared_cache):
    settings = make_settings(
        tmp_path / "data", shared_cache, task_workers=0, metrics_public=True, openai_api_keys=[OPENAI_KEY]
    )
    with serving(settings) as server:
        assert httpx.get(f"{server.url}/metrics").status_code == 200
        assert httpx.get(f"{server.url}/v1/voices").status_code in (401, 403)


def test_requests_are_traced_with_opentelemetry(tmp_path, shared_cache):
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    settings = make_settings(tmp_path / "data", shared_cache, task_workers=0, otel_enabled=True)
    with serving(settings) as server:
        answer = httpx.get(f"{server.url}/v1/voices")
    spans = [s for s in exporter.get_finished_spans() if s.attributes.get("voicesmith.request_id")]
    assert spans and spans[0].attributes["voicesmith.request_id"] == answer.headers["x-amzn-RequestId"]
    assert spans[0].name == "GET /v1/voices"


@pytest.mark.slow
def test_metrics_add_up_across_worker_processes(tmp_path, shared_cache):
    data = make_settings(tmp_path / "data", shared_cache).data_dir
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "VOICESMITH_DATA_DIR": str(data),
        "VOICESMITH_TASK_WORKERS": "0",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp_path / "serve.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "voicesmith.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            assert process.poll() is None, f"serve exited: {log.read_text()[-2000:]}"
            try:
                return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=180, interval=0.25)
        for _ in range(20):  # new connections: spread over both workers
            assert httpx.get(f"{url}/v1/voices", headers={"Connection": "close"}).status_code == 200
        counted = value(
            scrape(url), "voicesmith_http_requests_total", api="polly", route="/v1/voices", status="200"
        )
        assert counted == 20  # whichever worker answers the scrape counts both workers' requests
    finally:
        process.terminate()
        process.wait(60)
