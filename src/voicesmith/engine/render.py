"""How each planned utterance is rendered: rate, voice parameters and audio transform.

Pitch and effects from SSML, and the emotion of the utterance (from SSML ``amazon:emotion`` /
``mstts:express-as``, the request, or the analyser with ``auto``), become one
:class:`~voicesmith.audio.effects.Transform` and a rate factor per utterance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from voicesmith.audio.effects import Transform
from voicesmith.emotion.render import emotion_prosody, route_utterance_emotions
from voicesmith.engine.model import VoiceParams
from voicesmith.text.planner import PlannedUtterance

if TYPE_CHECKING:
    from voicesmith.engine.requests import SynthesisRequest

_REFERENCE_F0 = 110.0
"""F0 used to turn SSML pitch given in Hz into semitones (a typical adult voice)."""


@dataclass(frozen=True)
class UtteranceRendering:
    rate: float = 1.0
    """Speaking-rate factor on top of the request's (emotion)."""
    transform: Transform = Transform()
    emotion: str | None = None
    speaker_id: int | None = None
    """Speaker that speaks this emotion in a voice trained with emotions."""
    noise_w: float | None = None
    blend: tuple[int, int, float] | None = None
    """For voices with a style table: (neutral speaker, emotion speaker, intensity)."""

    def params(self, base: VoiceParams) -> VoiceParams:
        changes: dict = {}
        if self.speaker_id is not None:
            changes["speaker_id"] = self.speaker_id
        if self.blend is not None:
            changes["blend"] = self.blend
        if self.noise_w is not None and base.noise_w is None:
            changes["noise_w"] = self.noise_w
        return replace(base, **changes) if changes else base


def _ssml_transform(utterance: PlannedUtterance) -> Transform:
    """The utterance's SSML pitch and effects as one audio transform."""
    prosody, effects = utterance.prosody, utterance.effects
    semitones = prosody.pitch_semitones
    if prosody.pitch_hz:
        semitones += 12 * math.log2(max(_REFERENCE_F0 + prosody.pitch_hz, 20.0) / _REFERENCE_F0)
    return Transform(
        semitones=semitones,
        whisper=effects.whispered,
        drc=effects.drc,
        soft=0.6 if effects.soft_phonation else 0.0,
        vtl_percent=effects.vocal_tract_length_percent - 100.0,
    )


def rendering_for(
    utterances: Sequence[PlannedUtterance],
    request: SynthesisRequest,
    styles: dict[str, int] | None = None,
    blendable: bool = False,
    aliases: dict[str, str] | None = None,
) -> list[UtteranceRendering]:
    """One rendering per utterance, emotions routed over the whole text. ``styles`` (emotion -> speaker
    id) are the emotions a voice was trained with: those are spoken by their speaker, not by rules.
    With a style table (``blendable``) the intensity moves the embedding from the neutral speaker
    towards the emotion's (0: neutral, 1: the emotion as recorded, 2: beyond it). ``aliases``: the
    keyword arguments of :func:`~voicesmith.emotion.render.route_utterance_emotions` from the settings:
    ``disgust_as`` and ``fear_as`` (the emotions spoken for those two) and ``lexicon`` (the operator's
    phrase list that ``auto`` applies before the analyser)."""
    emotions = route_utterance_emotions(
        utterances, request.emotion, request.intensity, request.text.encode(), **(aliases or {})
    )
    out = []
    for utterance, (label, intensity) in zip(utterances, emotions, strict=True):
        transform = _ssml_transform(utterance)
        rate, noise_w, speaker_id, blend = 1.0, None, None, None
        if label is not None and label != "neutral":
            if styles and label in styles:
                speaker_id = styles[label]
                if blendable and "neutral" in styles:
                    speaker_id = styles["neutral"]
                    blend = (styles["neutral"], styles[label], float(intensity))
            else:
                prosody = emotion_prosody(label, intensity)
                transform = transform.combined(prosody.transform)
                rate, noise_w = prosody.rate, prosody.noise_w
        out.append(UtteranceRendering(rate, transform, label, speaker_id, noise_w, blend))
    return out
