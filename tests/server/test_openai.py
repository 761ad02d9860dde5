"""The OpenAI speech API through the stock openai SDK."""

from __future__ import annotations

import base64
import json

import httpx
import numpy as np
import openai
import pytest

from voicesmith.audio.encode import decode
from voicesmith.server.openai_api import emotion_from_instructions

TEXT = "The quick brown fox jumps over the lazy dog."


@pytest.mark.parametrize(
    ("response_format", "fmt", "content_type"),
    [
        ("mp3", "mp3", "audio/mpeg"),
        ("opus", "ogg_opus", "audio/ogg"),
        ("aac", "aac", "audio/aac"),
        ("flac", "flac", "audio/flac"),
        ("wav", "wav", "audio/wav"),
        ("pcm", "pcm", "audio/pcm"),
    ],
)
def test_every_response_format_at_24khz(oai, response_format, fmt, content_type):
    answer = oai.audio.speech.create(
        model="tts-1", voice="alloy", input=TEXT, response_format=response_format
    )
    assert answer.response.headers["content-type"] == content_type
    audio, rate = decode(answer.content, fmt, 24000)
    assert rate == 24000
    assert 1.5 < len(audio) / rate < 6.0 and np.abs(audio).max() > 0.05


def test_streaming_response_and_speed(oai):
    with oai.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts", voice="joe", input=TEXT, response_format="pcm"
    ) as answer:
        blocks = list(answer.iter_bytes())
    normal = b"".join(blocks)
    fast = oai.audio.speech.create(
        model="tts-1-hd", voice={"id": "joe"}, input=TEXT, response_format="pcm", speed=2.0
    )
    assert 0.35 < len(fast.content) / len(normal) < 0.7


def test_sse_stream_format(oai):
    events = []
    with oai.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts", voice="coral", input="Hello.", response_format="wav", stream_format="sse"
    ) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        for line in answer.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[len("data: ") :]))
    assert events[-1]["type"] == "speech.audio.done"
    deltas = [e for e in events if e["type"] == "speech.audio.delta"]
    assert deltas
    audio, rate = decode(b"".join(base64.b64decode(e["audio"]) for e in deltas), "wav")
    assert rate == 24000 and len(audio) > 0.2 * rate


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"model": "tts-2"}, "model"),
        ({"voice": "nobody"}, "voice"),
        ({"input": "x" * 4097}, "input"),
        ({"input": "   "}, "input"),
        ({"response_format": "ogg"}, "response_format"),
        ({"speed": 5.0}, "speed"),
        ({"speed": 0.1}, "speed"),
    ],
)
def test_bad_requests_are_openai_errors(oai, fields, param):
    request = {"model": "tts-1", "voice": "alloy", "input": "Hi.", **fields}
    with pytest.raises(openai.BadRequestError) as caught:
        oai.audio.speech.create(**request)
    error = caught.value.body
    assert caught.value.status_code == 400
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["message"]


def test_missing_field_is_an_openai_error(server):
    answer = httpx.post(f"{server.url}/v1/audio/speech", json={"model": "tts-1", "voice": "alloy"})
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "input"


def test_models_and_voices(oai, server):
    assert {m.id for m in oai.models.list()} >= {"tts-1", "tts-1-hd", "gpt-4o-mini-tts"}
    voices = httpx.get(f"{server.url}/v1/audio/voices").json()
    assert "joe" in [v["id"] for v in voices["voices"]]
    assert voices["aliases"]["alloy"] == "joe"


@pytest.mark.parametrize(
    ("instructions", "emotion"),
    [
        ("Speak angrily, like a furious customer.", "angry"),
        ("Sound cheerful and upbeat!", "happy"),
        ("A sad, melancholic tone.", "sad"),
        ("Be amazed.", "surprise"),
        ("Read it calmly.", "neutral"),
        ("Speak with a British accent.", None),
        (None, None),
    ],
)
def test_instructions_name_emotions(instructions, emotion):
    assert emotion_from_instructions(instructions) == emotion


def test_instructions_set_the_emotion(oai):
    def speak(instructions):
        extra = {"instructions": instructions} if instructions else {}
        return oai.audio.speech.create(
            model="gpt-4o-mini-tts", voice="alloy", input="I told you twice.", response_format="pcm", **extra
        ).content

    plain, angry, british = speak(None), speak("speak angrily"), speak("with a British accent")
    assert british == plain  # names no emotion: nothing changes
    assert angry != plain
    louder = np.abs(np.frombuffer(angry, np.int16)).mean() > np.abs(np.frombuffer(plain, np.int16)).mean()
    assert louder
