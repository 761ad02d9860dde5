"""Speaking rate is exact: SSML prosody rate and the request's rate scale the speech span as asked, the
marks follow the audio, and rate 1 keeps piper's durations."""

from __future__ import annotations

import numpy as np
import pytest

from voicesmith.engine.requests import SynthesisRequest
from voicesmith.engine.voice import scaled_frames

TEXT = "The quick brown fox jumps over the lazy dog, into the forest."


def speech_span(audio: np.ndarray, rate: int) -> float:
    """Seconds from the first to the last 10 ms window louder than 5 % of the loudest one."""
    hop = rate // 100
    windows = audio[: len(audio) // hop * hop].reshape(-1, hop)
    loudness = np.sqrt((windows.astype(np.float64) ** 2).mean(axis=1))
    loud = np.nonzero(loudness > 0.05 * loudness.max())[0]
    return (loud[-1] - loud[0] + 1) * hop / rate


def test_scaled_frames_keep_piper_at_rate_one_and_the_ratio_elsewhere():
    durations = np.array([0.2, 0.4, 3.6, 0.05, 7.1, 0.5, 2.2], dtype=np.float32)
    assert scaled_frames(durations, 1.0, None).tolist() == np.ceil(durations).astype(int).tolist()
    base = int(np.ceil(durations).sum())
    for factor in (0.25, 0.5, 2.0, 4.0):
        frames = scaled_frames(durations, factor, None)
        assert abs(int(frames.sum()) - base * factor) <= 0.5 and frames.min() >= 0
    halves = scaled_frames(durations, 1.0, np.array([1, 1, 1, 2, 2, 2, 2], dtype=np.float32))
    assert halves[:3].tolist() == [1, 1, 4] and abs(int(halves[3:].sum()) - 2 * 13) <= 1


@pytest.mark.slow
@pytest.mark.parametrize(("rate", "expected"), [("50%", 2.0), ("200%", 0.5)])
def test_prosody_rate_scales_the_speech_span(synthesizer, rate, expected):
    plain = synthesizer.synthesize(SynthesisRequest(TEXT))
    ssml = f'<speak><prosody rate="{rate}">{TEXT}</prosody></speak>'
    scaled = synthesizer.synthesize(SynthesisRequest(ssml, text_type="ssml"))
    ratio = speech_span(scaled.audio, scaled.sample_rate) / speech_span(plain.audio, plain.sample_rate)
    assert ratio == pytest.approx(expected, rel=0.05)
    marks = synthesizer.speech_marks(SynthesisRequest(ssml, text_type="ssml"), ["word"])
    assert [(m.time, m.value) for m in marks] == [(m.time, m.value) for m in scaled.marks if m.type == "word"]
    plain_words = [m for m in plain.marks if m.type == "word"]
    last = [m for m in scaled.marks if m.type == "word"][-1]
    assert last.value == plain_words[-1].value == "forest"
    assert last.time / plain_words[-1].time == pytest.approx(expected, rel=0.05)
    assert last.time / 1000 < len(scaled.audio) / scaled.sample_rate


def test_a_slow_word_inside_a_sentence_slows_only_that_word(synthesizer):
    plain = synthesizer.speech_marks(SynthesisRequest("one two three four"), ["word"])
    ssml = '<speak>one <prosody rate="50%">two</prosody> three four</speak>'
    slow = synthesizer.speech_marks(SynthesisRequest(ssml, text_type="ssml"), ["word"])
    gap = [b.time - a.time for a, b in zip(plain, plain[1:], strict=False)]
    slow_gap = [b.time - a.time for a, b in zip(slow, slow[1:], strict=False)]
    assert slow_gap[0] == pytest.approx(gap[0], abs=25)  # "one" is unchanged
    assert slow_gap[1] == pytest.approx(2 * gap[1], rel=0.15)  # "two" and the pause after it
    assert slow_gap[2] == pytest.approx(gap[2], abs=25)
