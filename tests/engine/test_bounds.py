"""What one request may cost: its audio limit (checked before any audio), silence made in bounded blocks,
per-word gains applied window by window, nested volumes clamped, and text that is not valid Unicode."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from voicesmith.engine import synthetic_audio
from voicesmith.engine.requests import SynthesisRequest
from voicesmith.engine.synthesizer import Synthesizer
from voicesmith.engine.voice import PiperModel
from voicesmith.errors import AudioDurationExceededError, InvalidTextError, ValidationError
from voicesmith.settings import Settings
from voicesmith.text.ssml import parse_ssml
from voicesmith.text.ssml.values import MAX_VOLUME_DB


def _breaks(count: int) -> str:
    return "<speak>Hello." + '<break time="10s"/>' * count + "Goodbye.</speak>"


@pytest.fixture()
def no_decoding(monkeypatch):
    """Any audio decoded by the voice fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("audio was decoded")

    monkeypatch.setattr(PiperModel, "decode_windows", refuse)


def test_314_breaks_are_refused_before_any_audio(synthesizer, no_decoding):
    request = SynthesisRequest(text=_breaks(314), text_type="ssml")
    with pytest.raises(AudioDurationExceededError) as caught:
        synthesizer.open(request)
    message = caught.value.message
    assert "3140 s" in message and "limit is 600 s" in message and "max_speech_audio_seconds" in message
    assert caught.value.polly_type == "ValidationException" and caught.value.status == 400


def test_a_task_limit_lets_the_same_breaks_through(synthesizer):
    request = SynthesisRequest(text=_breaks(314), text_type="ssml", max_audio_seconds=4000)
    stream = synthesizer.open(request)  # planned and accepted; nothing made yet
    first = next(iter(stream))
    assert first.offset == 0 and len(first.audio) > 0


def test_long_silence_streams_in_bounded_blocks(synthesizer):
    request = SynthesisRequest(text=_breaks(59), text_type="ssml")  # 590 s: under the 600 s limit
    block = synthesizer.settings.stream_window_frames * 256
    largest, expected_offset, total = 0, 0, 0
    for chunk in synthesizer.stream(request):
        assert chunk.offset == expected_offset
        largest = max(largest, len(chunk.audio))
        expected_offset += len(chunk.audio)
        total += len(chunk.audio)
    assert 590 < total / 22050 < 600
    assert largest <= block  # ~3.7 s at most at once, whatever the silence


def test_speech_over_the_limit_is_measured_exactly_and_refused(tmp_path, shared_cache, no_decoding):
    (tmp_path / "cache").symlink_to(shared_cache, target_is_directory=True)
    tight = Synthesizer(Settings(data_dir=tmp_path, max_speech_audio_seconds=2.0))
    request = SynthesisRequest(text="This sentence certainly takes longer than two seconds to say aloud.")
    with pytest.raises(AudioDurationExceededError, match="s of audio; the limit is 2 s"):
        tight.open(request)


def test_the_stream_stops_before_an_utterance_past_the_limit(
    tmp_path, shared_cache, monkeypatch, no_decoding
):
    """Should the estimate ever be low, the stream itself refuses the utterance that would cross the limit."""
    from voicesmith.engine import synthesizer as synthesizer_module

    monkeypatch.setattr(synthesizer_module, "SPOKEN_SECONDS_PER_CHARACTER", 0.0)
    (tmp_path / "cache").symlink_to(shared_cache, target_is_directory=True)
    tight = Synthesizer(Settings(data_dir=tmp_path, max_speech_audio_seconds=2.0))
    stream = tight.open(
        SynthesisRequest(text="This sentence certainly takes longer than two seconds to say.")
    )
    with pytest.raises(AudioDurationExceededError, match="the limit is 2 s"):
        next(iter(stream))


def test_lead_blocks_tile_the_lead_with_breaths_at_its_end():
    utterance = dataclasses.make_dataclass("U", [("breaths_before", int)])(2)
    rate, samples = 22050, 3 * 22050
    blocks = list(synthetic_audio.lead_blocks(utterance, rate, samples, 5000))
    assert all(len(b) <= 5000 for b in blocks) and sum(len(b) for b in blocks) == samples
    whole = np.concatenate(blocks)
    single = next(synthetic_audio.lead_blocks(utterance, rate, samples, samples))
    assert np.array_equal(whole, single)
    breath_len = int(0.35 * rate)
    assert not whole[: samples - 2 * breath_len].any() and np.abs(whole[-2 * breath_len :]).max() > 0


def test_word_gain_window_by_window_equals_whole():
    rng = np.random.default_rng(0)
    audio = rng.standard_normal(10_000).astype(np.float32)
    whole = audio.copy()
    synthetic_audio.apply_gain(whole, 1200, 7300, 0.25, 22050)
    windows = [audio[i : i + 1024].copy() for i in range(0, len(audio), 1024)]
    for index, window in enumerate(windows):
        synthetic_audio.apply_gain(window, 1200, 7300, 0.25, 22050, origin=index * 1024)
    assert np.allclose(np.concatenate(windows), whole, atol=1e-6)


def test_per_word_volume_is_streamed_window_by_window(synthesizer):
    ssml = '<speak>Hello <prosody volume="-20dB">there quiet friend of mine</prosody> and goodbye.</speak>'
    chunks = list(synthesizer.stream(SynthesisRequest(text=ssml, text_type="ssml")))
    plain = list(
        synthesizer.stream(
            SynthesisRequest(text=ssml.replace('volume="-20dB"', 'rate="100%"'), text_type="ssml")
        )
    )
    assert len(chunks) == len(plain)  # not collected into one array
    quiet, loud = np.concatenate([c.audio for c in chunks]), np.concatenate([c.audio for c in plain])
    assert len(quiet) == len(loud) and np.abs(quiet).sum() < np.abs(loud).sum()


def test_nested_volumes_are_clamped():
    ssml = "<speak>" + '<prosody volume="+60dB">' * 120 + "loud" + "</prosody>" * 120 + "</speak>"
    (run,) = [item for item in parse_ssml(ssml) if hasattr(item, "style")]
    assert run.style.prosody.volume_db == MAX_VOLUME_DB
    soft = "<speak>" + '<prosody volume="-60dB">' * 5 + "soft" + "</prosody>" * 5 + "</speak>"
    (run,) = [item for item in parse_ssml(soft) if hasattr(item, "style")]
    assert run.style.prosody.volume_db == -MAX_VOLUME_DB


def test_deeply_nested_volume_synthesizes(synthesizer):
    ssml = "<speak>Now " + '<prosody volume="+60dB">' * 120 + "loud" + "</prosody>" * 120 + "</speak>"
    result = synthesizer.synthesize(SynthesisRequest(text=ssml, text_type="ssml"))
    assert result.duration > 0.2 and np.abs(result.audio).max() <= 1.0


@pytest.mark.parametrize("text", ["bad \ud800 text", "\udfff", "<speak>x\udc80</speak>"])
def test_lone_surrogates_are_a_validation_error(synthesizer, text):
    with pytest.raises(InvalidTextError, match="lone surrogate"):
        synthesizer.open(SynthesisRequest(text=text, text_type="ssml" if "speak" in text else "text"))


def test_a_non_ascii_digit_is_not_a_speaker_id(synthesizer):
    with pytest.raises(ValidationError, match="no speaker"):
        synthesizer.open(SynthesisRequest(text="Hello.", speaker="²"))
