"""Emotion names from other APIs resolve to the five voicesmith labels; intensities to 0..2."""

from __future__ import annotations

import pytest

from voicesmith.emotion.labels import (
    SPOKEN_EMOTIONS,
    Emotion,
    accepted_emotion_names,
    resolve_emotion,
    resolve_intensity,
)
from voicesmith.errors import ValidationError


@pytest.mark.parametrize("emotion", list(Emotion))
def test_own_labels_resolve_to_themselves(emotion):
    assert resolve_emotion(emotion.value) is emotion
    assert resolve_emotion(f"  {emotion.value.upper()} ") is emotion


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("anger", Emotion.ANGRY),
        ("joy", Emotion.HAPPY),
        ("sadness", Emotion.SAD),
        ("surprise", Emotion.SURPRISE),
        # Amazon Polly / Alexa
        ("excited", Emotion.HAPPY),
        ("disappointed", Emotion.SAD),
        ("news", Emotion.NEUTRAL),
        # Azure mstts:express-as styles, with their own spellings
        ("cheerful", Emotion.HAPPY),
        ("friendly", Emotion.HAPPY),
        ("unfriendly", Emotion.ANGRY),
        ("shouting", Emotion.ANGRY),
        ("depressed", Emotion.SAD),
        ("narration-professional", Emotion.NEUTRAL),
        ("advertisement_upbeat", Emotion.HAPPY),
        ("newscast-casual", Emotion.NEUTRAL),
    ],
)
def test_aliases(name, expected):
    assert resolve_emotion(name) is expected


def test_disgust_and_fear_default_and_configurable():
    assert resolve_emotion("disgust") is Emotion.ANGRY
    assert resolve_emotion("fear") is Emotion.SAD
    assert resolve_emotion("terrified") is Emotion.SAD
    assert resolve_emotion("disgust", disgust_as="sad") is Emotion.SAD
    assert resolve_emotion("fearful", fear_as="surprise") is Emotion.SURPRISE
    # the mapping of one does not change the other
    assert resolve_emotion("fear", disgust_as="neutral") is Emotion.SAD


def test_disgust_as_must_be_a_spoken_label():
    with pytest.raises(ValidationError, match="disgust_as"):
        resolve_emotion("disgust", disgust_as="auto")
    with pytest.raises(ValidationError, match="fear_as"):
        resolve_emotion("fear", fear_as="scared-ish")


def test_unknown_name_lists_accepted_names():
    with pytest.raises(ValidationError) as caught:
        resolve_emotion("melancholic")
    message = caught.value.message
    assert "melancholic" in message
    for emotion in SPOKEN_EMOTIONS:
        assert emotion.value in message
    assert "cheerful" in message
    assert set(accepted_emotion_names()) >= {"auto", "neutral", "excited", "terrified"}


def test_emotion_is_a_str_enum():
    assert Emotion.ANGRY == "angry"
    assert f"{Emotion.HAPPY}" == "happy"
    assert Emotion.AUTO not in SPOKEN_EMOTIONS


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("low", 0.5),
        ("medium", 1.0),
        ("HIGH", 1.5),
        ("x-high", 2.0),
        (None, 1.0),
        (0, 0.0),
        (2, 2.0),
        (1.25, 1.25),
        ("0.7", 0.7),
    ],
)
def test_intensity(value, expected):
    assert resolve_intensity(value) == pytest.approx(expected)


@pytest.mark.parametrize("value", ["loud", "2.5", -0.1, 3, float("nan"), True])
def test_bad_intensity(value):
    with pytest.raises(ValidationError, match="ntensity"):
        resolve_intensity(value)
