"""Unchanged OpenAI client code: every current voice name, dated models, an operator's model aliases,
``speed`` as a plain multiplier, and the model lists Open WebUI and the SDK read."""

from __future__ import annotations

import httpx
import numpy as np
import openai
import pytest

from .harness import make_settings, openai_client, serve

TEXT = "The quick brown fox jumps over the lazy dog, into the forest."
VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse")


def speech_span(pcm: bytes, rate: int = 24000) -> float:
    """Seconds from the first to the last 10 ms window louder than 5 % of the loudest one."""
    audio = np.frombuffer(pcm, np.int16).astype(np.float64)
    hop = rate // 100
    windows = audio[: len(audio) // hop * hop].reshape(-1, hop)
    loudness = np.sqrt((windows**2).mean(axis=1))
    loud = np.nonzero(loudness > 0.05 * loudness.max())[0]
    return (loud[-1] - loud[0] + 1) * hop / rate


@pytest.fixture(scope="module")
def aliased(tmp_path_factory, shared_cache):
    settings = make_settings(
        tmp_path_factory.mktemp("aliased"), shared_cache, openai_model_aliases=["kokoro", "piper"]
    )
    yield from serve(settings)


def test_marin_with_a_dated_model(oai):
    answer = oai.audio.speech.create(
        model="gpt-4o-mini-tts-2025-12-15",
        voice="marin",
        input="Hello from Home Assistant.",
        response_format="pcm",
    )
    assert speech_span(answer.content) > 0.5


@pytest.mark.parametrize("model", ["tts-1-1106", "tts-1-hd-1106", "gpt-4o-mini-tts-2025-03-20", "tts-1-hd"])
def test_dated_models_of_each_family(oai, model):
    assert oai.audio.speech.create(model=model, voice="cedar", input="Hi.", response_format="pcm").content


@pytest.mark.parametrize("model", ["tts-2", "gpt-4o-mini-tts-latest", "tts-1-hd-v2", "kokoro"])
def test_other_models_are_refused(oai, model):
    with pytest.raises(openai.BadRequestError) as caught:
        oai.audio.speech.create(model=model, voice="alloy", input="Hi.")
    assert caught.value.body["param"] == "model"


def test_every_current_voice_name_speaks(oai):
    for voice in VOICES:
        assert oai.audio.speech.create(model="tts-1", voice=voice, input="Hi.", response_format="pcm").content


def test_an_operators_aliases_are_models(aliased):
    client = openai_client(aliased.url)
    for model in ("kokoro", "piper"):
        assert client.audio.speech.create(
            model=model, voice="marin", input="Hi.", response_format="pcm"
        ).content
    assert {"kokoro", "piper", "tts-1"} <= {m.id for m in client.models.list()}
    listed = httpx.get(f"{aliased.url}/v1/audio/models").json()
    assert [m["id"] for m in listed["models"]] == ["tts-1", "tts-1-hd", "gpt-4o-mini-tts", "kokoro", "piper"]


def test_models_can_be_retrieved(oai):
    assert oai.models.retrieve("gpt-4o-mini-tts-2025-12-15").id == "gpt-4o-mini-tts-2025-12-15"
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve("gpt-5")


def test_open_webui_reads_models_and_voices(server):
    models = httpx.get(f"{server.url}/v1/audio/models").json()
    assert {"tts-1", "tts-1-hd", "gpt-4o-mini-tts"} <= {m["id"] for m in models["models"]}
    assert models["data"] == models["models"] and models["object"] == "list"
    voices = httpx.get(f"{server.url}/v1/audio/voices").json()["voices"]
    named = {voice["id"]: voice["name"] for voice in voices}  # what Open WebUI builds from it
    assert named["joe"] == "Joe" and named["marin"] == "marin (Joe)" and set(VOICES) <= set(named)


@pytest.mark.slow
def test_speed_is_a_plain_multiplier(oai):
    """Speeds 0.25, 0.5, 2 and 4: the speech span (silence trimmed) is 1/speed as long, within 10 %."""

    def span(value: float) -> float:
        answer = oai.audio.speech.create(
            model="tts-1", voice="marin", input=TEXT, response_format="pcm", speed=value
        )
        return speech_span(answer.content)

    normal = span(1.0)
    ratios = {speed: span(speed) / normal for speed in (0.25, 0.5, 2.0, 4.0)}
    assert ratios == pytest.approx({speed: 1 / speed for speed in ratios}, rel=0.10)
