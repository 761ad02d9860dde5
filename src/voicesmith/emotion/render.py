"""Speaking with an emotion on any voice: prosody rules applied to the voice's own output.

For voices without emotional training data (the bundled joe included) an emotion is a change of
F0 level and range, speaking rate (through the voice's length scale, not time-stretching), loudness
and spectral tilt, following the published rule systems: Schröder's dimensional prosody rules
(MaryTTS; activation raises F0, range, rate and loudness, power flattens the spectral tilt) and
Burkhardt's emofilt settings. Intensity 0-2 scales every change (0: neutral, 1: nominal, 2: strong).
Voices trained with emotions (one speaker per emotion) use that speaker instead (see engine/render).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from voicesmith.audio.effects import Transform

_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class EmotionRule:
    semitones: float
    """F0 level change."""
    range_scale: float
    """F0 excursions around the median multiplied by this."""
    rate: float
    """Speaking-rate factor on the voice's durations (1.2: 20 % shorter durations before rounding; each
    phoneme id's duration is rounded up to whole frames, so the measured rate change is about half)."""
    gain_db: float
    tilt_db_per_octave: float
    """Positive: more high-frequency energy (tense, pressed voice)."""
    soft: float = 0.0
    """Breathiness 0-1 (lax voice)."""
    drc: bool = False
    """Compress the dynamics: loud without clipping, as shouting sounds."""


RULES: dict[str, EmotionRule] = {
    # hot anger: high activation and power, negative evaluation
    "angry": EmotionRule(
        semitones=3.0, range_scale=1.5, rate=1.2, gain_db=4.0, tilt_db_per_octave=2.5, drc=True
    ),
    # joy: positive evaluation, raised activation
    "happy": EmotionRule(semitones=2.0, range_scale=1.35, rate=1.1, gain_db=2.0, tilt_db_per_octave=1.0),
    # sadness: low activation and power
    "sad": EmotionRule(
        semitones=-2.0, range_scale=0.6, rate=0.85, gain_db=-4.0, tilt_db_per_octave=-2.0, soft=0.25
    ),
    # surprise: high activation, wide range
    "surprise": EmotionRule(semitones=4.0, range_scale=1.6, rate=1.03, gain_db=3.0, tilt_db_per_octave=1.0),
}


@dataclass(frozen=True)
class EmotionProsody:
    rate: float
    transform: Transform
    noise_w: float | None = None


def emotion_prosody(label: str, intensity: float = 1.0) -> EmotionProsody:
    """The rendering of ``label`` (a resolved voicesmith emotion) at ``intensity`` 0-2."""
    rule = RULES.get(label)
    if rule is None or intensity <= 0:
        return EmotionProsody(1.0, Transform())
    i = float(intensity)
    transform = Transform(
        semitones=rule.semitones * i,
        range_scale=rule.range_scale**i,
        tilt_db_per_octave=rule.tilt_db_per_octave * i,
        gain_db=rule.gain_db * i,
        soft=min(1.0, rule.soft * i),
        drc=rule.drc,
    )
    return EmotionProsody(rule.rate**i, transform)


def route_utterance_emotions(
    utterances,
    request_emotion: str | None,
    intensity: float,
    source: bytes = b"",
    *,
    disgust_as: str = "angry",
    fear_as: str = "sad",
    lexicon: str | Path | None = None,
) -> list[tuple[str | None, float]]:
    """The emotion and intensity of each planned utterance.

    SSML emotion tags win where they apply; then the request's emotion; ``auto`` analyses each
    sentence (with the operator ``lexicon`` file, if any, before the model) and switches only when
    the analyser is confident, never inside a sentence; a paragraph's emotion carries to its short
    follow-ups (:mod:`voicesmith.emotion.context`; paragraphs: blank lines, or SSML ``<p>``).
    """
    if not request_emotion and all(u.emotion is None for u in utterances):
        return [(None, 1.0)] * len(utterances)
    from voicesmith.emotion.labels import resolve_emotion

    explicit = None
    if request_emotion and request_emotion != "auto":
        explicit = str(resolve_emotion(request_emotion, disgust_as=disgust_as, fear_as=fear_as))
    tagged = [
        str(resolve_emotion(u.emotion.label, disgust_as=disgust_as, fear_as=fear_as)) if u.emotion else None
        for u in utterances
    ]
    per_sentence: dict[int, tuple[str, float]] = {}
    if request_emotion == "auto" or "auto" in tagged:
        per_sentence = _auto(utterances, source, disgust_as=disgust_as, fear_as=fear_as, lexicon=lexicon)
    out: list[tuple[str | None, float]] = []
    for utterance, label in zip(utterances, tagged, strict=True):
        if label == "auto" and utterance.sentence in per_sentence:  # <amazon:emotion name="auto">
            routed, strength = per_sentence[utterance.sentence]
            out.append((routed, strength * utterance.emotion.intensity))
        elif label is not None:
            out.append((label, utterance.emotion.intensity))
        elif explicit is not None:
            out.append((explicit, intensity))
        elif utterance.sentence in per_sentence:
            label, strength = per_sentence[utterance.sentence]
            out.append((label, strength * intensity))
        else:
            out.append((None, 1.0))
    return out


def _auto(
    utterances, source: bytes, *, disgust_as: str, fear_as: str, lexicon: str | Path | None
) -> dict[int, tuple[str, float]]:
    """Analyse each sentence as written (the source text, not the normalised words), in context."""
    from voicesmith.emotion.analyze import load_operator_lexicon, route_emotions
    from voicesmith.emotion.context import paragraph_numbers

    texts: dict[int, str] = {}
    spans: dict[int, tuple[int, int]] = {}
    for utterance in utterances:
        start, end = utterance.sentence_span
        written = source[start:end].decode("utf-8", errors="replace") if source else ""
        written = " ".join(_TAG.sub(" ", written).split())  # SSML tags inside a sentence
        if utterance.sentence not in texts:
            texts[utterance.sentence] = written or " ".join(w.text + w.punctuation for w in utterance.words)
            spans[utterance.sentence] = (start, end)
    order = sorted(texts)
    paragraphs = paragraph_numbers(source, [spans[s] for s in order]) if source else None
    routed = route_emotions(
        [texts[s] for s in order],
        explicit=None,
        paragraphs=paragraphs,
        lexicon=load_operator_lexicon(lexicon, disgust_as=disgust_as, fear_as=fear_as),
        disgust_as=disgust_as,
        fear_as=fear_as,
    )
    return {s: (str(label), float(strength)) for s, (label, strength) in zip(order, routed, strict=True)}
