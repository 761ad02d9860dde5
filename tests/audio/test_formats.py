from __future__ import annotations

import pytest

from voicesmith.audio.formats import FORMATS, format_for_path, get_format, resolve_rate
from voicesmith.errors import InvalidSampleRateError, UnsupportedFormatError


def test_polly_content_types():
    expected = {
        "mp3": "audio/mpeg",
        "ogg_vorbis": "audio/ogg",
        "ogg_opus": "audio/ogg",
        "pcm": "audio/pcm",
        "mulaw": "audio/mulaw",
        "alaw": "audio/alaw",
    }
    assert {name: FORMATS[name].content_type for name in expected} == expected
    assert {name for name, spec in FORMATS.items() if spec.is_polly_format} == set(expected)


def test_every_format_is_consistent():
    for spec in FORMATS.values():
        assert spec.default_rate in spec.sample_rates
        assert set(spec.polly_rates) <= set(spec.sample_rates)
        assert list(spec.sample_rates) == sorted(spec.sample_rates)
        assert format_for_path(f"out{spec.extension}") is spec


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("say.mp3", "mp3"),
        ("A.WAV", "wav"),
        ("x.opus", "ogg_opus"),
        ("x.ogg", "ogg_vorbis"),
        ("dir.v1/x.raw", "pcm"),
        ("x.ul", "mulaw"),
        ("x.alaw", "alaw"),
        ("x.aac", "aac"),
        ("x.flac", "flac"),
    ],
)
def test_format_for_path(path, name):
    assert format_for_path(path).name == name


@pytest.mark.parametrize("path", ["speech", "speech.m4a", "archive.tar"])
def test_format_for_unknown_path(path):
    with pytest.raises(UnsupportedFormatError, match=r"\.mp3"):
        format_for_path(path)


def test_get_format_is_case_insensitive_and_rejects_unknown_names():
    assert get_format("MP3").name == "mp3"
    with pytest.raises(UnsupportedFormatError, match="ogg_vorbis") as info:
        get_format("json")
    assert info.value.status == 400


def test_resolve_rate():
    assert resolve_rate("mp3", 16000) == 16000
    assert resolve_rate("pcm", "8000") == 8000  # Polly sends SampleRate as a string
    assert resolve_rate("mp3", None, 22050) == 22050  # keep the voice's rate
    assert resolve_rate("ogg_opus", None, 22050) == 24000  # nearest allowed rate above
    assert resolve_rate("mulaw", None, 22050) == 8000
    assert resolve_rate("pcm", None) == 16000  # Polly's default
    assert resolve_rate("ogg_opus", None) == 48000


@pytest.mark.parametrize(
    ("fmt", "rate"), [("ogg_opus", 44100), ("mulaw", 16000), ("mp3", 11025), ("wav", "fast"), ("pcm", -8000)]
)
def test_resolve_rate_rejects_rates_the_format_lacks(fmt, rate):
    with pytest.raises(InvalidSampleRateError) as info:
        resolve_rate(fmt, rate)
    for allowed in get_format(fmt).sample_rates:
        assert str(allowed) in info.value.message
    assert info.value.polly_type == "InvalidSampleRateException"
