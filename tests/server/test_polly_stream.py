"""Polly's StartSpeechSynthesisStream on the HTTP/2 port (``polly_stream_port``), driven by the stock AWS
SDK for JavaScript (``@aws-sdk/client-polly``'s StartSpeechSynthesisStreamCommand, run by node: HTTP/2,
SigV4 on the request and on every event), plus raw HTTP/2 (httpx) for unsigned and malformed events."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf

from voicesmith.engine.synthesizer import SynthesisRequest
from voicesmith.server import eventstream, polly_stream

from .harness import ACCESS_KEY, SECRET_KEY, make_settings, polly_client, serve, wait_for

JS_DIR = Path(__file__).resolve().parents[1] / "js"
NODE = shutil.which("node")
SENTENCES = "Hello there, this is a streaming test. The text arrives in pieces. Goodbye for now."
PIECES = [
    "Hello there, ",
    "this is a stream",
    "ing test. The text ",
    "arrives in pieces. Good",
    "bye for now.",
]


def _stream_url(running) -> str:
    return f"http://127.0.0.1:{running.app.state.polly_stream.port}"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory, shared_cache, synthesizer):
    # The first synthesis of a process loads and prepares the voice: done here, so that the node
    # runs' timeout covers the streams only.
    synthesizer.synthesize(SynthesisRequest(text="Warm up.", voice="joe"))
    settings = make_settings(
        tmp_path_factory.mktemp("polly-stream"),
        shared_cache,
        aws_credentials={ACCESS_KEY: SECRET_KEY},
        polly_stream_port=0,
    )
    yield from serve(settings, synthesizer=synthesizer)


@pytest.fixture(scope="module")
def open_server(tmp_path_factory, shared_cache, synthesizer):
    settings = make_settings(tmp_path_factory.mktemp("polly-stream-open"), shared_cache, polly_stream_port=0)
    yield from serve(settings, synthesizer=synthesizer)


def js_stream(
    url: str, tmp_path: Path | None = None, secret: str = SECRET_KEY, **options
) -> tuple[dict, bytes]:
    """Runs tests/js/synthesis_stream.mjs; its JSON result and the audio it received."""
    if NODE is None or not (JS_DIR / "node_modules" / "@aws-sdk" / "client-polly").is_dir():
        pytest.fail("node and tests/js/node_modules are needed: `make test` runs npm ci --prefix tests/js")
    out = (tmp_path / "audio.bin") if tmp_path is not None else None
    options = {
        "endpoint": url,
        "region": "us-east-1",
        "accessKeyId": ACCESS_KEY,
        "secretAccessKey": secret,
        **options,
    }
    if out is not None:
        options["out"] = str(out)
    done = subprocess.run(
        [NODE, str(JS_DIR / "synthesis_stream.mjs"), json.dumps(options)],
        capture_output=True,
        text=True,
        timeout=240,  # seconds on a loaded machine; a few on an idle one
        cwd=JS_DIR,
        env={"PATH": "/usr/bin:/bin", "NODE_NO_WARNINGS": "1", "HOME": str(JS_DIR)},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result, out.read_bytes() if out is not None and out.exists() else b""


def _pcm(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768


@pytest.mark.slow
def test_sdk_stream_speaks_text_sent_in_pieces(keyed, tmp_path):
    """TextEvents in pieces (signed, checked one by one) -> AudioEvents that make the same speech as
    SynthesizeSpeech of the whole text, then StreamClosedEvent with the characters."""
    params = {"VoiceId": "Joanna", "Engine": "neural", "OutputFormat": "pcm", "SampleRate": "16000"}
    result, audio = js_stream(
        _stream_url(keyed), tmp_path, params=params, events=[{"Text": p} for p in PIECES], delayMs=30
    )
    assert result["error"] is None, result
    assert result["statusCode"] == 200
    assert result["requestCharacters"] == len(SENTENCES)
    assert result["audioEvents"] >= 3  # one sentence at a time, not one blob at the end
    assert len(audio) == result["audioBytes"] and len(audio) % 2 == 0
    one_shot = polly_client(keyed.url).synthesize_speech(Text=SENTENCES, **params)["AudioStream"].read()
    streamed, whole = _pcm(audio), _pcm(one_shot)
    assert abs(len(streamed) - len(whole)) <= 0.03 * len(whole), (len(streamed), len(whole))
    assert len(streamed) / 16000 > 3.0
    rms = lambda x: float(np.sqrt(np.mean(x**2)))  # noqa: E731
    assert rms(streamed) > 0.3 * rms(whole)


def test_sdk_stream_mp3_with_flush_is_one_file(keyed, tmp_path):
    """Force speaks what is pending; the AudioEvents of a stream join into one valid mp3."""
    params = {"VoiceId": "joe", "Engine": "standard", "OutputFormat": "mp3"}
    events = [{"Text": "Speak this part now", "Flush": True}, {"Text": " and then this one."}]
    result, audio = js_stream(_stream_url(keyed), tmp_path, params=params, events=events)
    assert result["error"] is None, result
    assert result["requestCharacters"] == len("Speak this part now and then this one.")
    decoded, rate = sf.read(io.BytesIO(audio), dtype="float32")
    assert rate == 24000  # Polly's mp3 default
    assert 1.5 < len(decoded) / rate < 8


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"VoiceId": "Nobody", "Engine": "neural", "OutputFormat": "pcm"}, "Nobody"),
        ({"VoiceId": "Joanna", "Engine": "neural", "OutputFormat": "wav"}, "outputFormat"),
        ({"VoiceId": "Joanna", "Engine": "neural", "OutputFormat": "json"}, "speech marks"),
        ({"VoiceId": "Joanna", "Engine": "turbo", "OutputFormat": "pcm"}, "engine"),
    ],
)
def test_bad_parameters_are_the_sdks_typed_validation_exception(keyed, params, needle):
    result, _ = js_stream(_stream_url(keyed), params=params, events=[{"Text": "Hello."}])
    error = result["error"]
    assert error is not None and error["name"] == "ValidationException", result
    assert error["typed"] == "ValidationException"  # the SDK's own exception class
    assert error["statusCode"] == 400
    assert needle in error["message"]
    assert result["audioEvents"] == 0


def test_bad_ssml_on_the_stream_ends_it_with_a_validation_exception_event(keyed):
    params = {"VoiceId": "joe", "Engine": "neural", "OutputFormat": "pcm"}
    events = [{"Text": "Fine so far. "}, {"Text": "<speak>unclosed", "TextType": "ssml"}]
    result, _ = js_stream(_stream_url(keyed), params=params, events=events, delayMs=20)
    error = result["error"]
    assert error is not None and error["typed"] == "ValidationException", result
    # Raised from the stream (by send() itself when it is the stream's first event: the SDK reads one
    # event before it returns), not an HTTP error.
    assert "statusCode" not in error
    assert error["fields"]["reason"] == "fieldValidationFailed"


def test_wrong_secret_is_refused_before_the_stream(keyed):
    params = {"VoiceId": "joe", "Engine": "neural", "OutputFormat": "pcm"}
    result, _ = js_stream(_stream_url(keyed), params=params, events=[{"Text": "Hi."}], secret="wrong")
    assert result["error"]["name"] == "InvalidSignatureException", result
    assert result["error"]["statusCode"] == 403


def test_client_that_goes_away_mid_stream_frees_it(keyed):
    """The client aborts after its first AudioEvent, never sending CloseStreamEvent: the server stops
    speaking and closes the stream at once, not after the inbound-event timeout."""
    params = {"VoiceId": "joe", "Engine": "neural", "OutputFormat": "pcm"}
    events = [{"Text": "This sentence is spoken first. " * 3, "Flush": True}]
    result, _ = js_stream(
        _stream_url(keyed), params=params, events=events, close=False, abortAfterAudioEvents=1
    )
    assert result["audioEvents"] == 1, result
    wait_for(lambda: polly_stream._STREAMS.open == 0, timeout=15)
    assert polly_stream.INBOUND_EVENT_TIMEOUT > 15


def test_a_client_that_stops_sending_gets_the_quota_exception(keyed, monkeypatch):
    monkeypatch.setattr(polly_stream, "INBOUND_EVENT_TIMEOUT", 1.0)
    params = {"VoiceId": "joe", "Engine": "neural", "OutputFormat": "pcm"}
    result, _ = js_stream(_stream_url(keyed), params=params, events=[], close=False, holdMs=20000)
    error = result["error"]
    assert error is not None and error["typed"] == "ServiceQuotaExceededException", result
    assert error["fields"]["quotaCode"] == "input-stream-inbound-event-timeout"
    assert error["fields"]["serviceCode"] == "polly"


def test_the_js_sdks_other_calls_work_on_the_http2_port(keyed, tmp_path):
    """The JS SDK v3 sends every Polly call over HTTP/2: the port serves the whole API."""
    params = {"VoiceId": "Joanna", "OutputFormat": "mp3", "Text": "Hello over HTTP two."}
    result, audio = js_stream(_stream_url(keyed), tmp_path, operation="SynthesizeSpeech", params=params)
    assert result["contentType"] == "audio/mpeg" and result["requestCharacters"] == len(params["Text"])
    assert result["voices"] > 50 and len(audio) == result["audioBytes"] > 4000


# -- raw HTTP/2 (httpx, prior knowledge) with auth off ----------------------------------------------------


def _raw_stream(running, body: bytes, **headers: str) -> httpx.Response:
    base = {
        "x-amzn-VoiceId": "joe",
        "x-amzn-Engine": "neural",
        "x-amzn-OutputFormat": "pcm",
        "content-type": eventstream.CONTENT_TYPE,
    }
    with httpx.Client(http1=False, http2=True, timeout=60) as client:
        answer = client.post(
            f"{_stream_url(running)}/v1/synthesisStream", content=body, headers={**base, **headers}
        )
    assert answer.http_version == "HTTP/2"
    return answer


def _events(answer: httpx.Response) -> list[eventstream.Message]:
    reader = eventstream.MessageReader(max_bytes=1 << 24)
    return list(reader.feed(answer.content))


def test_unsigned_events_are_taken_with_auth_off(open_server):
    text = {"Text": "Unsigned events are fine without keys."}
    body = eventstream.event("TextEvent", json.dumps(text).encode())
    body += eventstream.event("CloseStreamEvent", b"{}")
    answer = _raw_stream(open_server, body)
    assert answer.status_code == 200 and answer.headers["content-type"] == eventstream.CONTENT_TYPE
    messages = _events(answer)
    assert [m.event_type for m in messages[:-1]] == ["AudioEvent"] * (len(messages) - 1)
    assert messages[-1].event_type == "StreamClosedEvent"
    assert json.loads(messages[-1].payload) == {"RequestCharacters": len(text["Text"])}
    assert sum(len(m.payload) for m in messages[:-1]) > 16000  # over half a second of 16 kHz pcm


def test_malformed_and_unknown_events_get_validation_exception_events(open_server):
    cases = {
        b"\x00\x00\x00\x20garbage-garbage-garbage-garbage!": "malformed",
        eventstream.event("ShoutEvent", b"{}"): "unknown inbound event",
        eventstream.event("TextEvent", b"not json"): "not JSON",
    }
    for body, needle in cases.items():
        messages = _events(_raw_stream(open_server, body))
        assert messages[-1].message_type == "exception", messages
        assert messages[-1].headers[":exception-type"] == "ValidationException"
        fields = json.loads(messages[-1].payload)
        assert needle in fields["message"] and fields["reason"] == "invalidInboundEvent", fields


def test_signed_events_are_refused_when_auth_is_on_and_the_request_is_unsigned(keyed):
    answer = _raw_stream(keyed, eventstream.event("CloseStreamEvent", b"{}"))
    assert answer.status_code == 403
    assert answer.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


# -- the signature chain ---------------------------------------------------------------------------------


def test_event_signatures_chain_from_the_request_signature():
    creds = eventstream.StreamCredentials(SECRET_KEY, "us-east-1", "polly", "ab" * 32)
    now = int(time.time() * 1000)
    first_event = eventstream.event("TextEvent", b'{"Text":"one"}')
    first, signature = eventstream.sign_envelope(
        SECRET_KEY, "us-east-1", "polly", "ab" * 32, now, first_event
    )
    second, _ = eventstream.sign_envelope(SECRET_KEY, "us-east-1", "polly", signature, now + 5, b"")
    verifier = eventstream.EventVerifier(creds)
    inner = verifier.open(eventstream.decode_message(first))
    assert inner is not None and inner.event_type == "TextEvent" and inner.payload == b'{"Text":"one"}'
    assert verifier.open(eventstream.decode_message(second)) is None  # the end frame
    # Out of order, tampered, or unsigned: refused.
    with pytest.raises(eventstream.InvalidSignatureError):
        eventstream.EventVerifier(creds).open(eventstream.decode_message(second))
    tampered = eventstream.decode_message(first)
    tampered.payload = eventstream.event("TextEvent", b'{"Text":"two"}')
    with pytest.raises(eventstream.InvalidSignatureError):
        eventstream.EventVerifier(creds).open(tampered)
    with pytest.raises(eventstream.InvalidSignatureError):
        eventstream.EventVerifier(creds).open(eventstream.decode_message(first_event))
