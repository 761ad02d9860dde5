"""How an utterance is rendered: the voice's own emotion speakers, a blend of its style table, or the
prosody rules on any voice; and SSML pitch and effects as one transform (no voice needed)."""

from __future__ import annotations

import pytest

from voicesmith.audio.effects import Transform
from voicesmith.emotion.render import RULES, emotion_prosody
from voicesmith.engine.model import VoiceParams
from voicesmith.engine.render import UtteranceRendering, rendering_for
from voicesmith.engine.requests import SynthesisRequest
from voicesmith.text.planner import PlannedUtterance, PlannedWord
from voicesmith.text.ssml import Effects, EmotionSpec, Prosody

STYLES = {"neutral": 0, "angry": 2, "sad": 3}


def utterance(emotion: EmotionSpec | None = None, **kwargs) -> PlannedUtterance:
    effects = kwargs.pop("effects", Effects(emotion=emotion))
    return PlannedUtterance([PlannedWord("word", 0, 4)], 0, (0, 4), effects=effects, **kwargs)


def render(utterances, styles=None, blendable=False, **request) -> list[UtteranceRendering]:
    return rendering_for(utterances, SynthesisRequest(text="word", **request), styles, blendable)


def test_no_emotion_no_change() -> None:
    (rendering,) = render([utterance()])
    assert rendering == UtteranceRendering()
    assert rendering.params(VoiceParams(length_scale=1.0)) == VoiceParams(length_scale=1.0)


def test_any_voice_speaks_an_emotion_by_the_prosody_rules() -> None:
    (rendering,) = render([utterance()], emotion="angry", intensity=0.5)
    expected = emotion_prosody("angry", 0.5)
    assert (rendering.emotion, rendering.speaker_id, rendering.blend) == ("angry", None, None)
    assert rendering.rate == pytest.approx(RULES["angry"].rate ** 0.5)
    assert rendering.transform == expected.transform


def test_a_voice_trained_with_the_emotion_speaks_it_with_that_speaker_not_the_rules() -> None:
    (rendering,) = render([utterance()], styles={"angry": 2}, emotion="angry")
    assert (rendering.speaker_id, rendering.blend, rendering.rate) == (2, None, 1.0)
    assert rendering.transform.is_identity
    assert rendering.params(VoiceParams()).speaker_id == 2


def test_a_style_table_blends_from_neutral_by_the_intensity() -> None:
    (rendering,) = render([utterance()], styles=STYLES, blendable=True, emotion="angry", intensity=1.5)
    assert (rendering.speaker_id, rendering.blend) == (0, (0, 2, 1.5))
    assert rendering.params(VoiceParams(noise_w=0.3)) == VoiceParams(
        noise_w=0.3, speaker_id=0, blend=(0, 2, 1.5)
    )
    without_neutral = render(
        [utterance()], styles={"angry": 2}, blendable=True, emotion="angry", intensity=1.5
    )
    assert (without_neutral[0].speaker_id, without_neutral[0].blend) == (2, None)


def test_an_emotion_the_voice_was_not_trained_with_falls_to_the_rules() -> None:
    (rendering,) = render([utterance()], styles={"sad": 3}, emotion="happy")
    assert rendering.speaker_id is None
    assert rendering.rate == pytest.approx(RULES["happy"].rate)


def test_ssml_emotion_wins_over_the_request_where_it_applies() -> None:
    tagged, plain = render([utterance(EmotionSpec("sad", 1.0)), utterance()], styles=STYLES, emotion="angry")
    assert (tagged.emotion, tagged.speaker_id) == ("sad", 3)
    assert (plain.emotion, plain.speaker_id) == ("angry", 2)


def test_ssml_pitch_and_effects_become_one_transform_with_the_emotion() -> None:
    ssml = utterance(
        prosody=Prosody(pitch_semitones=1.0, pitch_hz=110.0),
        effects=Effects(whispered=True, soft_phonation=True, vocal_tract_length_percent=120.0, drc=True),
    )
    (rendering,) = render([ssml])
    assert rendering.transform == Transform(
        semitones=13.0, whisper=True, drc=True, soft=0.6, vtl_percent=20.0
    )
    (emotional,) = render([ssml], emotion="sad")
    assert emotional.transform == rendering.transform.combined(emotion_prosody("sad").transform)
