"""The response cache: identical requests are answered from memory, byte for byte; anything that
changes the audio (text, format, voice model, lexicon content) misses; off by a setting."""

from __future__ import annotations

import httpx
import pytest

from voicesmith.server.cache import CachedAnswer, ResponseCache

from .harness import make_settings, openai_client, polly_client, serving, wait_for

LEXICON = (
    '<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" alphabet="ipa" '
    'xml:lang="en-US"><lexeme><grapheme>IVR</grapheme><alias>{alias}</alias></lexeme></lexicon>'
)


def speak(url: str, **fields):
    body = {"Text": "Press one for sales.", "VoiceId": "joe", "OutputFormat": "mp3", **fields}
    answer = httpx.post(f"{url}/v1/speech", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer


@pytest.fixture(scope="module")
def running(tmp_path_factory, shared_cache):
    settings = make_settings(
        tmp_path_factory.mktemp("cache"), shared_cache, task_workers=0, response_cache_mb=64
    )
    with serving(settings) as server:
        yield server


def test_identical_polly_requests_are_answered_from_the_cache(running):
    first = speak(running.url)
    again = speak(running.url)
    assert first.headers["x-voicesmith-cache"] == "miss" and again.headers["x-voicesmith-cache"] == "hit"
    assert again.content == first.content and again.headers["content-type"] == "audio/mpeg"
    assert again.headers["x-amzn-RequestCharacters"] == first.headers["x-amzn-RequestCharacters"]
    assert again.headers["x-amzn-RequestId"] != first.headers["x-amzn-RequestId"]
    for change in ({"OutputFormat": "pcm"}, {"Text": "Press two for support."}, {"SampleRate": "16000"}):
        assert speak(running.url, **change).headers["x-voicesmith-cache"] == "miss"
    marks = {"OutputFormat": "json", "SpeechMarkTypes": ["word"]}
    assert speak(running.url, **marks).headers["x-voicesmith-cache"] == "miss"
    replay = speak(running.url, **marks)
    assert replay.headers["x-voicesmith-cache"] == "hit" and b'"value":"Press"' in replay.content.replace(
        b" ", b""
    )
    polly = polly_client(running.url)  # boto3 reads a cached answer like any other
    audio = polly.synthesize_speech(Text="Press one for sales.", VoiceId="joe", OutputFormat="mp3")
    assert audio["AudioStream"].read() == first.content


def test_a_changed_lexicon_misses(running):
    polly = polly_client(running.url)
    polly.put_lexicon(Name="ivr", Content=LEXICON.format(alias="interactive voice response"))
    one = speak(running.url, Text="Our IVR.", LexiconNames=["ivr"])
    assert speak(running.url, Text="Our IVR.", LexiconNames=["ivr"]).headers["x-voicesmith-cache"] == "hit"
    polly.put_lexicon(Name="ivr", Content=LEXICON.format(alias="phone menu"))
    changed = speak(running.url, Text="Our IVR.", LexiconNames=["ivr"])
    assert changed.headers["x-voicesmith-cache"] == "miss" and changed.content != one.content
    polly.delete_lexicon(Name="ivr")
    gone = httpx.post(
        f"{running.url}/v1/speech",
        json={"Text": "Our IVR.", "VoiceId": "joe", "OutputFormat": "mp3", "LexiconNames": ["ivr"]},
    )
    assert gone.status_code == 404  # never answered from the cache once the lexicon is gone


def test_a_replaced_voice_misses(running, joe_files, tiny_voices):
    catalog = running.app.state.services.synthesizer.catalog
    model, config = joe_files
    catalog.add(model, voice_id="swap", config_path=config)
    first = speak(running.url, VoiceId="swap")
    assert speak(running.url, VoiceId="swap").headers["x-voicesmith-cache"] == "hit"
    catalog.remove("swap")
    catalog.add(tiny_voices[1], voice_id="swap")  # same id, another model
    replaced = speak(running.url, VoiceId="swap")
    assert replaced.headers["x-voicesmith-cache"] == "miss" and replaced.content != first.content


def test_openai_speech_is_cached_per_stream_format(running):
    client = openai_client(running.url)
    first = client.audio.speech.with_raw_response.create(model="tts-1", voice="alloy", input="Cached.")
    raw = client.audio.speech.with_raw_response.create(model="tts-1", voice="alloy", input="Cached.")
    assert first.headers["x-voicesmith-cache"] == "miss" and raw.headers["x-voicesmith-cache"] == "hit"
    assert raw.content == first.content and raw.headers["content-type"] == first.headers["content-type"]
    sse = httpx.post(
        f"{running.url}/v1/audio/speech",
        json={"model": "tts-1", "voice": "alloy", "input": "Cached.", "stream_format": "sse"},
    )
    assert sse.headers["x-voicesmith-cache"] == "miss" and sse.text.startswith("data: ")


def test_off_by_default_and_by_a_setting(tmp_path, shared_cache):
    from voicesmith.settings import Settings

    assert Settings.model_fields["response_cache_mb"].default == 0
    settings = make_settings(tmp_path / "data", shared_cache, task_workers=0, response_cache_mb=0)
    with serving(settings) as server:
        assert "x-voicesmith-cache" not in speak(server.url).headers
        assert "x-voicesmith-cache" not in speak(server.url).headers


def test_the_cache_stays_within_its_budget():
    cache = ResponseCache(1000)
    for n in range(20):
        cache.put(str(n), CachedAnswer(b"x" * 200, "audio/mpeg", {}))
    assert cache.bytes <= 1000 and len(cache) == 5
    assert cache.get("0") is None and cache.get("19") is not None
    cache.put("big", CachedAnswer(b"x" * 300, "audio/mpeg", {}))  # over a quarter of the budget
    assert cache.get("big") is None


def test_the_shared_tier_serves_one_node_s_answer_on_another(tmp_path, shared_cache, s3_endpoint):
    common = {
        "task_workers": 0,
        "db_url": f"sqlite:///{tmp_path / 'shared.db'}",
        "shared_storage_url": f"s3://{s3_endpoint.bucket('cache-shared')}/run",
        "s3_endpoint_url": s3_endpoint.url,
        "response_cache_mb": 64,
        "response_cache_shared": True,
    }
    a = make_settings(tmp_path / "a", shared_cache, **common)
    b = make_settings(tmp_path / "b", shared_cache, **common)
    with serving(a) as node_a, serving(b) as node_b:
        first = speak(node_a.url, Text="Shared between nodes.")
        assert first.headers["x-voicesmith-cache"] == "miss"
        client = s3_endpoint.client()
        wait_for(
            lambda: client.list_objects_v2(Bucket="cache-shared", Prefix="run/response-cache/").get(
                "Contents"
            )
        )
        other = speak(node_b.url, Text="Shared between nodes.")
        assert other.headers["x-voicesmith-cache"] == "hit" and other.content == first.content
        assert other.headers["content-type"] == "audio/mpeg"
