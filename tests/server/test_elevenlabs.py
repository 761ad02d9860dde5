"""The ElevenLabs door, driven by the official ``elevenlabs`` SDK (and ``websockets`` sending the SDK's
documented messages where the SDK has no helper for a message)."""

from __future__ import annotations

import base64
import datetime
import io
import json
import threading
import time

import numpy as np
import pytest
import soundfile as sf
from elevenlabs.client import ElevenLabs
from elevenlabs.core.api_error import ApiError
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from .harness import OPENAI_KEY, free_port, make_settings

TEXT = "The lights are on. The door is locked."


@pytest.fixture(scope="module")
def server(doors_server):
    return doors_server


@pytest.fixture(scope="module")
def client(server):
    return ElevenLabs(base_url=f"{server.url}/elevenlabs", api_key="any-key")


def ws_url(server, path: str) -> str:
    return server.url.replace("http://", "ws://") + "/elevenlabs/v1/text-to-speech/" + path


def pcm(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768


def receive_all(ws, limit: float = 120) -> list[dict]:
    messages = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            message = json.loads(ws.recv(timeout=limit))
        except Exception:  # closed by the server
            break
        messages.append(message)
        if message.get("isFinal") is True and "contextId" not in message:
            continue
    return messages


def audio_of(messages: list[dict], context: str | None = None) -> bytes:
    return b"".join(
        base64.b64decode(m["audio"]) for m in messages if m.get("audio") and m.get("contextId") == context
    )


# -- REST through the SDK ------------------------------------------------------------------------------------


def test_convert_mp3_and_pcm(client):
    mp3 = b"".join(client.text_to_speech.convert("joe", text=TEXT, model_id="eleven_multilingual_v2"))
    audio, rate = sf.read(io.BytesIO(mp3))
    assert rate == 44100 and 1.5 < len(audio) / rate < 6
    raw = b"".join(client.text_to_speech.convert("joe", text=TEXT, output_format="pcm_16000"))
    assert abs(len(raw) / 2 / 16000 - len(audio) / rate) < 0.15
    ulaw = b"".join(client.text_to_speech.convert("joe", text="Hi there.", output_format="ulaw_8000"))
    assert len(ulaw) > 4000


def test_stream_arrives_in_pieces(client):
    pieces = list(client.text_to_speech.stream("joe", text=TEXT * 3, output_format="pcm_22050"))
    assert len(pieces) > 3 and sum(map(len, pieces)) > 22050 * 2 * 4


def test_with_timestamps_aligns_every_character(client):
    result = client.text_to_speech.convert_with_timestamps("joe", text=TEXT, output_format="pcm_24000")
    audio = base64.b64decode(result.audio_base_64)
    duration = len(audio) / 2 / 24000
    alignment = result.alignment
    assert "".join(alignment.characters) == TEXT
    starts, ends = alignment.character_start_times_seconds, alignment.character_end_times_seconds
    assert starts == sorted(starts) and all(e >= s for s, e in zip(starts, ends, strict=True))
    assert abs(ends[-1] - duration) < 0.1
    door = TEXT.index("door")
    assert 0.6 < starts[door] < duration - 0.3


def test_stream_with_timestamps_parts(client):
    parts = list(client.text_to_speech.stream_with_timestamps("joe", text=TEXT, output_format="pcm_16000"))
    chars = "".join("".join(p.alignment.characters) for p in parts if p.alignment)
    assert chars.strip() == TEXT
    assert sum(len(base64.b64decode(p.audio_base_64)) for p in parts) > 16000 * 2


def test_voices_models_user(client):
    assert "joe" in [v.voice_id for v in client.voices.get_all().voices]
    assert client.voices.search().voices[0].voice_id
    assert client.voices.get("joe").name == "Joe"
    assert "eleven_flash_v2_5" in [m.model_id for m in client.models.list()]
    assert client.user.get().subscription.tier
    assert client.voices.settings.get_default().speed == 1.0
    assert client.voices.settings.get("joe").stability == 0.5


def test_errors_in_elevenlabs_shape(client, server):
    import httpx

    with pytest.raises(ApiError) as error:
        b"".join(client.text_to_speech.convert("nobody", text="Hi."))
    assert error.value.status_code == 404 and error.value.body["detail"]["status"] == "voice_not_found"
    with pytest.raises(ApiError) as error:
        b"".join(client.text_to_speech.convert("joe", text="Hi.", output_format="flac_9"))
    assert error.value.status_code == 400 and "output_format" in error.value.body["detail"]["message"]
    with pytest.raises(ApiError) as error:
        b"".join(client.text_to_speech.convert("joe", text="Hi.", model_id="gpt-9"))
    assert error.value.status_code == 400
    # a model id ElevenLabs may add later still speaks
    assert b"".join(client.text_to_speech.convert("joe", text="Hi.", model_id="eleven_flash_v9"))
    answer = httpx.post(f"{server.url}/elevenlabs/v1/text-to-speech/joe", json={"no_text": 1})
    assert answer.status_code == 400 and "text" in answer.json()["detail"]["message"]
    # Polly's DescribeVoices keeps its own path and shape
    assert "Voices" in httpx.get(f"{server.url}/v1/voices").json()


def test_keys_when_configured(keyed_doors_server):
    for running in [keyed_doors_server]:
        bad = ElevenLabs(base_url=f"{running.url}/elevenlabs", api_key="wrong")
        with pytest.raises(ApiError) as error:
            bad.voices.get_all()
        assert error.value.status_code == 401 and error.value.body["detail"]["status"] == "invalid_api_key"
        good = ElevenLabs(base_url=f"{running.url}/elevenlabs", api_key=OPENAI_KEY)
        assert good.voices.get_all().voices
        url = running.url.replace("http://", "ws://") + "/elevenlabs/v1/text-to-speech/joe/stream-input"
        with connect(url) as ws:  # the key in the first message, as the protocol allows
            ws.send(json.dumps({"text": " ", "xi_api_key": OPENAI_KEY}))
            ws.send(json.dumps({"text": "Hi there. "}))
            ws.send(json.dumps({"text": ""}))
            assert audio_of(receive_all(ws))
        with connect(url) as ws:
            ws.send(json.dumps({"text": " ", "xi_api_key": "wrong"}))
            (message,) = receive_all(ws)
            assert message["error"] == "invalid_api_key" and ws.close_code == 1008


# -- the WebSockets ------------------------------------------------------------------------------------------


def test_pieces_equal_one_shot(server, client):
    """Text sent in arbitrary pieces is spoken as the same utterances as one-shot synthesis."""
    with connect(ws_url(server, "joe/stream-input?output_format=pcm_22050")) as ws:
        ws.send(json.dumps({"text": " ", "generation_config": {"chunk_length_schedule": [500]}}))
        for piece in ["The li", "ghts are ", "on. The d", "oor is", " locked."]:
            ws.send(json.dumps({"text": piece}))
        ws.send(json.dumps({"text": ""}))
        messages = receive_all(ws)
    assert messages[-1] == {"isFinal": True}
    streamed = pcm(audio_of(messages))
    whole = pcm(b"".join(client.text_to_speech.convert("joe", text=TEXT, output_format="pcm_22050")))
    assert abs(len(streamed) - len(whole)) <= 256
    n = min(len(streamed), len(whole))
    assert np.corrcoef(streamed[:n], whole[:n])[0, 1] > 0.98
    chars = "".join("".join(m["alignment"]["chars"]) for m in messages if m.get("alignment"))
    assert chars == TEXT
    # pipecat's arithmetic: each alignment's last start + duration is where the next one begins
    total = sum(
        m["alignment"]["charStartTimesMs"][-1] + m["alignment"]["charDurationsMs"][-1]
        for m in messages
        if m.get("alignment")
    )
    assert abs(total / 1000 - len(streamed) / 22050) < 0.05


def test_first_sentence_is_spoken_before_the_rest_arrives_and_flush(server):
    with connect(ws_url(server, "joe/stream-input?output_format=pcm_16000")) as ws:
        ws.send(json.dumps({"text": " "}))
        ws.send(json.dumps({"text": "Good morning. And then "}))
        first = json.loads(ws.recv(timeout=60))  # no more text sent: the complete sentence is spoken
        assert first["audio"] and "".join(first["alignment"]["chars"]) == "Good morning."
        ws.send(json.dumps({"text": "some more", "flush": True}))  # flush speaks an unfinished sentence
        flushed = []
        while not any(m.get("alignment") for m in flushed):
            flushed.append(json.loads(ws.recv(timeout=60)))
        assert "some more" in "".join("".join(m["alignment"]["chars"]) for m in flushed if m.get("alignment"))
        ws.send(json.dumps({"text": ""}))
        assert receive_all(ws)[-1] == {"isFinal": True}


@pytest.mark.slow
def test_sdk_convert_realtime_over_tls(tmp_path, shared_cache, monkeypatch):
    """The SDK's stream-input helper always speaks wss://: a TLS listener with a test certificate."""
    cert, key = _self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    import uvicorn

    from voicesmith.server.app import create_app

    settings = make_settings(tmp_path / "tls", shared_cache)
    port = free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        client = ElevenLabs(base_url=f"https://127.0.0.1:{port}/elevenlabs", api_key="k")

        def text():
            yield "Hello there, "
            yield "how are you? "
            yield "I am fine."

        audio = b"".join(
            client.text_to_speech.convert_realtime("joe", text=text(), output_format="pcm_16000")
        )
        assert len(audio) / 2 / 16000 > 1.0
    finally:
        server.should_exit = True
        thread.join(30)


def _self_signed(folder):
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_multi_context_cancel_stops_within_one_chunk(server):
    """pipecat's multi-stream-input messages; close_context (an interruption) stops the audio at once."""
    long_text = " ".join(f"This is sentence number {n}, which goes on for a while." for n in range(12))
    with connect(ws_url(server, "joe/multi-stream-input?output_format=pcm_16000&auto_mode=false")) as ws:
        ws.send(json.dumps({"text": " ", "context_id": "a", "voice_settings": {"speed": 1.1}}))
        ws.send(json.dumps({"text": long_text + " ", "context_id": "a"}))
        ws.send(json.dumps({"context_id": "a", "flush": True}))
        ws.send(json.dumps({"text": "", "context_id": "a"}))  # keep-alive: no effect
        first = json.loads(ws.recv(timeout=60))
        assert first["contextId"] == "a" and first["audio"]
        ws.send(json.dumps({"context_id": "a", "close_context": True}))
        after = []
        while True:
            message = json.loads(ws.recv(timeout=60))
            after.append(message)
            if message.get("isFinal"):
                break
        assert after[-1] == {"isFinal": True, "contextId": "a"}
        assert len([m for m in after if m.get("audio")]) <= 2  # the chunk in flight, nothing queued
        # a new context on the same connection speaks normally
        ws.send(json.dumps({"text": " ", "context_id": "b"}))
        ws.send(json.dumps({"text": "Sorry, go on. ", "context_id": "b", "flush": True}))
        got = []
        while not got or not any(m.get("alignment") for m in got):
            got.append(json.loads(ws.recv(timeout=60)))
        assert all(m["contextId"] == "b" for m in got)
        ws.send(json.dumps({"close_socket": True}))


def test_bad_messages_end_with_an_error_message(server):
    with connect(ws_url(server, "nobody/stream-input")) as ws:
        ws.send(json.dumps({"text": " "}))
        (message,) = receive_all(ws)
        assert message["error"] == "voice_not_found" and message["code"] == 1008
    with connect(ws_url(server, "joe/stream-input?output_format=wav_1")) as ws:
        (message,) = receive_all(ws)
        assert "output_format" in message["message"]
    with connect(ws_url(server, "joe/stream-input")) as ws:
        ws.send("not json")
        (message,) = receive_all(ws)
        assert message["error"] == "invalid_message"
    with connect(ws_url(server, "joe/stream-input?inactivity_timeout=1")) as ws:
        ws.send(json.dumps({"text": " "}))
        (message,) = receive_all(ws)
        assert message["error"] == "input_timeout_exceeded"


def test_text_faster_than_speech_is_bounded(server):
    with connect(ws_url(server, "joe/stream-input?output_format=pcm_16000")) as ws:
        ws.send(json.dumps({"text": " "}))
        sentence = "This sentence is sent again and again, far faster than it can be spoken. "
        for _ in range(400):
            try:
                ws.send(json.dumps({"text": sentence}))
            except ConnectionClosed:  # refused already
                break
        messages = receive_all(ws)
    errors = [m for m in messages if m.get("error")]
    assert errors and "characters wait to be spoken" in errors[0]["message"] and ws.close_code == 1008


def test_client_gone_mid_stream_cancels_quietly(server, caplog):
    long_text = "This is a long sentence that takes a while to speak, with several clauses in it. " * 6
    with connect(ws_url(server, "joe/stream-input?output_format=pcm_16000")) as ws:
        ws.send(json.dumps({"text": " "}))
        ws.send(json.dumps({"text": long_text, "flush": True}))
        assert json.loads(ws.recv(timeout=60))["audio"]
    time.sleep(1.0)  # the server notices, stops the synthesis, and logs no error
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    with connect(ws_url(server, "joe/stream-input?output_format=pcm_16000")) as ws:  # still serving
        ws.send(json.dumps({"text": " "}))
        ws.send(json.dumps({"text": "Still here. "}))
        ws.send(json.dumps({"text": ""}))
        assert audio_of(receive_all(ws))


def test_inline_breaks_and_unspeakable_pieces(server, client):
    """ElevenLabs' <break time="..."/> tags pause; a piece with nothing to say does not end the stream."""
    plain = client.text_to_speech.convert_with_timestamps("joe", text="Wait. Now.", output_format="pcm_16000")
    paused = client.text_to_speech.convert_with_timestamps(
        "joe", text='Wait. <break time="1.5s" /> Now & then.', output_format="pcm_16000"
    )
    extra = (len(base64.b64decode(paused.audio_base_64)) - len(base64.b64decode(plain.audio_base_64))) / 32000
    assert extra > 1.5
    assert "".join(paused.alignment.characters) == "Wait.  Now & then."  # the tag is not read out
    with connect(ws_url(server, "joe/stream-input?output_format=pcm_16000")) as ws:
        ws.send(json.dumps({"text": " "}))
        for piece in ["Okay. ", "\U0001f44d ", '<break time="500ms"/> ', "Done. "]:
            ws.send(json.dumps({"text": piece, "flush": True}))
        ws.send(json.dumps({"text": ""}))
        messages = receive_all(ws)
    assert messages[-1] == {"isFinal": True} and not [m for m in messages if m.get("error")]
    chars = "".join("".join(m["alignment"]["chars"]) for m in messages if m.get("alignment"))
    assert chars.split() == ["Okay.", "Done."]
