"""Emotion rendering on the bundled voice moves prosody in the published directions."""

from __future__ import annotations

import numpy as np
import parselmouth
import pytest

from voicesmith.emotion.render import emotion_prosody
from voicesmith.engine.requests import SynthesisRequest
from voicesmith.errors import ValidationError

SENTENCES = ["I have told you three times that the order was wrong.", "The train was cancelled again today."]


def _measure(result) -> tuple[float, float, float]:
    pitch = parselmouth.Sound(result.audio.astype(np.float64), result.sample_rate).to_pitch(pitch_floor=60)
    f0 = pitch.selected_array["frequency"]
    semitones = float(np.median(12 * np.log2(f0[f0 > 0] / 100)))
    level = float(20 * np.log10(np.sqrt(np.mean(result.audio**2))))
    return semitones, level, result.duration


@pytest.fixture(scope="module")
def rendered(synthesizer):
    out = {}
    for emotion in (None, "angry", "sad", "happy"):
        out[emotion] = [
            _measure(synthesizer.synthesize(SynthesisRequest(text=t, emotion=emotion))) for t in SENTENCES
        ]
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    ("emotion", "f0", "level", "duration"),
    [
        ("angry", +1, +1, -1),
        ("happy", +1, +1, -1),
        ("sad", -1, -1, +1),
    ],
)
def test_directions(rendered, emotion, f0, level, duration):
    for neutral, emotional in zip(rendered[None], rendered[emotion], strict=True):
        assert np.sign(emotional[0] - neutral[0]) == f0
        assert np.sign(emotional[1] - neutral[1]) == level
        assert np.sign(emotional[2] - neutral[2]) == duration


@pytest.mark.slow
def test_angry_is_clearly_angry(rendered):
    """Magnitudes on two sentences; the 30-sentence figures are in benchmarks/emotion_prosody.py."""
    for neutral, angry in zip(rendered[None], rendered["angry"], strict=True):
        assert angry[0] - neutral[0] >= 1.0  # semitones
        assert angry[1] - neutral[1] >= 3.0  # dB
        assert angry[2] < 0.97 * neutral[2]  # faster


def test_intensity_scales_every_change():
    none, half, full, double = (emotion_prosody("angry", i) for i in (0, 0.5, 1, 2))
    assert none.transform.is_identity and none.rate == 1.0
    assert half.transform.semitones == pytest.approx(full.transform.semitones / 2)
    assert double.transform.gain_db == pytest.approx(2 * full.transform.gain_db)
    assert 1.0 < half.rate < full.rate < double.rate


def test_ssml_emotion_wins_over_the_request(synthesizer):
    ssml = '<speak><amazon:emotion name="sad" intensity="high">Oh no.</amazon:emotion> Fine then.</speak>'
    result = synthesizer.synthesize(SynthesisRequest(text=ssml, text_type="ssml", emotion="happy"))
    assert result.emotions == ["sad", "happy"]


def test_unknown_emotion_lists_the_accepted_names(synthesizer):
    with pytest.raises(ValidationError, match="angry"):
        synthesizer.synthesize(SynthesisRequest(text="Hello.", emotion="grumpy-ish"))


def test_auto_analyses_each_sentence(synthesizer):
    text = "Thank you, that is wonderful news! This is absolutely unacceptable, I am furious."
    result = synthesizer.synthesize(SynthesisRequest(text=text, emotion="auto"))
    assert result.emotions[0] == "happy" and result.emotions[-1] == "angry"


def test_ssml_auto_tag_analyses_its_sentences(synthesizer):
    ssml = (
        '<speak><amazon:emotion name="auto">'
        "This is absolutely unacceptable, I am furious.</amazon:emotion></speak>"
    )
    assert synthesizer.synthesize(SynthesisRequest(text=ssml, text_type="ssml")).emotions == ["angry"]


def test_fear_and_disgust_follow_the_settings(data_dir, monkeypatch):
    from voicesmith.engine.synthesizer import Synthesizer
    from voicesmith.settings import Settings

    ssml = '<speak><amazon:emotion name="fear">Is someone there?</amazon:emotion></speak>'
    request = SynthesisRequest(text=ssml, text_type="ssml")
    assert Synthesizer(Settings()).synthesize(request).emotions == ["sad"]
    monkeypatch.setenv("VOICESMITH_EMOTION_FEAR_AS", "surprise")
    assert Synthesizer(Settings()).synthesize(request).emotions == ["surprise"]
