"""Emotion labels and the names other speech APIs use for them.

voicesmith speaks five emotions, the set of the ESD corpus that the emotional voices are trained on:
``neutral``, ``angry``, ``happy``, ``sad`` and ``surprise``; ``auto`` asks the text analyser to choose
per sentence. :func:`resolve_emotion` accepts those names and the ones users bring from elsewhere:

* Ekman / GoEmotions: ``anger``, ``joy``, ``sadness``, ``surprise``, and ``disgust`` / ``fear``, which
  have no voice of their own and map to a configurable label (default: disgust -> angry, fear -> sad).
* Amazon Polly / Alexa: ``<amazon:emotion name="excited|disappointed">``, and the ``news`` /
  ``conversational`` domains (neutral).
* Azure mstts styles (``<mstts:express-as style="...">``), e.g. ``cheerful``, ``friendly`` -> happy,
  ``unfriendly``, ``shouting`` -> angry, ``terrified`` / ``fearful`` -> fear, ``depressed`` -> sad,
  ``newscast``, ``narration-professional`` -> neutral.

:func:`resolve_intensity` turns an intensity word (Alexa's ``low|medium|high``) or a number (Azure's
``styledegree``, 0..2) into the float the renderer scales its transform with (1.0 = nominal).
"""

from __future__ import annotations

import math
from enum import StrEnum

from voicesmith.errors import ValidationError


class Emotion(StrEnum):
    """An emotion voicesmith can render, or ``AUTO`` for "let the analyser decide per sentence"."""

    NEUTRAL = "neutral"
    ANGRY = "angry"
    HAPPY = "happy"
    SAD = "sad"
    SURPRISE = "surprise"
    AUTO = "auto"


#: The labels a sentence can be spoken with (everything but ``auto``), in a fixed order.
SPOKEN_EMOTIONS: tuple[Emotion, ...] = (
    Emotion.NEUTRAL,
    Emotion.ANGRY,
    Emotion.HAPPY,
    Emotion.SAD,
    Emotion.SURPRISE,
)

# Names with no voice of their own; they resolve through the disgust_as / fear_as arguments.
_DISGUST = "disgust"
_FEAR = "fear"

#: Emotion names of corpora and customer files (ESD, EmoV-DB, GoEmotions/Ekman, CSV columns): what a
#: training dataset's labels are read with (:func:`corpus_emotion`); requests accept them too.
CORPUS_NAMES: dict[str, Emotion | str] = {
    "surprised": Emotion.SURPRISE,
    "anger": Emotion.ANGRY,
    "joy": Emotion.HAPPY,
    "happiness": Emotion.HAPPY,
    "sadness": Emotion.SAD,
    "amused": Emotion.HAPPY,  # EmoV-DB
    # Sleepiness (EmoV-DB) is low arousal without the valence of sadness: neutral.
    "sleepiness": Emotion.NEUTRAL,
    "sleepy": Emotion.NEUTRAL,
    "disgust": _DISGUST,
    "disgusted": _DISGUST,
    "fear": _FEAR,
    "afraid": _FEAR,
}

_ALIASES: dict[str, Emotion | str] = {
    **CORPUS_NAMES,
    # plain English
    "none": Emotion.NEUTRAL,
    "default": Emotion.NEUTRAL,
    "normal": Emotion.NEUTRAL,
    "mad": Emotion.ANGRY,
    # Amazon Polly / Alexa emotions and domains
    "excited": Emotion.HAPPY,
    "disappointed": Emotion.SAD,
    "news": Emotion.NEUTRAL,
    "conversational": Emotion.NEUTRAL,
    # Azure mstts:express-as styles
    "cheerful": Emotion.HAPPY,
    "friendly": Emotion.HAPPY,
    "hopeful": Emotion.HAPPY,
    "affectionate": Emotion.HAPPY,
    "advertisement_upbeat": Emotion.HAPPY,
    "sports_commentary_excited": Emotion.HAPPY,
    "unfriendly": Emotion.ANGRY,
    "disgruntled": Emotion.ANGRY,
    "shouting": Emotion.ANGRY,
    "envious": Emotion.ANGRY,
    "depressed": Emotion.SAD,
    "embarrassed": Emotion.SAD,
    "terrified": _FEAR,
    "fearful": _FEAR,
    "calm": Emotion.NEUTRAL,
    "gentle": Emotion.NEUTRAL,
    "serious": Emotion.NEUTRAL,
    "chat": Emotion.NEUTRAL,
    "assistant": Emotion.NEUTRAL,
    "customerservice": Emotion.NEUTRAL,
    "empathetic": Emotion.NEUTRAL,
    "whispering": Emotion.NEUTRAL,
    "lyrical": Emotion.NEUTRAL,
    "poetry_reading": Emotion.NEUTRAL,
    "newscast": Emotion.NEUTRAL,
    "newscast_casual": Emotion.NEUTRAL,
    "newscast_formal": Emotion.NEUTRAL,
    "narration_professional": Emotion.NEUTRAL,
    "narration_relaxed": Emotion.NEUTRAL,
    "documentary_narration": Emotion.NEUTRAL,
    "sports_commentary": Emotion.NEUTRAL,
}

#: Intensity words (Alexa's amazon:emotion intensity, plus the SSML prosody-style extremes).
INTENSITY_WORDS: dict[str, float] = {
    "x-low": 0.25,
    "low": 0.5,
    "medium": 1.0,
    "high": 1.5,
    "x-high": 2.0,
}
MAX_INTENSITY = 2.0


def _normalise(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def accepted_emotion_names() -> list[str]:
    """Every name :func:`resolve_emotion` accepts, sorted (the labels first)."""
    return [e.value for e in Emotion] + sorted(_ALIASES)


def _spoken(name: str, argument: str) -> Emotion:
    try:
        emotion = Emotion(_normalise(name))
    except ValueError:
        emotion = None
    if emotion is None or emotion is Emotion.AUTO:
        allowed = ", ".join(e.value for e in SPOKEN_EMOTIONS)
        raise ValidationError(f"{argument}={name!r} is not a voicesmith emotion; use one of: {allowed}.")
    return emotion


def resolve_emotion(name: str, *, disgust_as: str = "angry", fear_as: str = "sad") -> Emotion:
    """Map an emotion or style name from any supported API to a voicesmith :class:`Emotion`.

    ``disgust_as`` and ``fear_as`` choose the label for the two Ekman emotions voicesmith has no voice for.
    Raises :class:`~voicesmith.errors.ValidationError` listing the accepted names for an unknown name.
    """
    key = _normalise(name)
    try:
        return Emotion(key)
    except ValueError:
        pass
    target = _ALIASES.get(key)
    if target == _DISGUST:
        return _spoken(disgust_as, "disgust_as")
    if target == _FEAR:
        return _spoken(fear_as, "fear_as")
    if isinstance(target, Emotion):
        return target
    raise ValidationError(f"Unknown emotion {name!r}. Use one of: {', '.join(accepted_emotion_names())}.")


def corpus_emotion(name: str) -> Emotion | None:
    """A training dataset's emotion name (a folder, a file-name part, a CSV value) as a label, or None.

    Only the labels and :data:`CORPUS_NAMES` count (not the API style names, so a speaker folder called
    ``default`` or ``chat`` is not taken for an emotion). Disgust is read as anger, whose prosody (tense,
    low pitch) is closest; fear has no voice of its own and stays unlabelled: training data is not
    relabelled by a request setting (``emotion_fear_as``).
    """
    key = name.strip().lower()
    if key in SPOKEN_EMOTIONS:
        return Emotion(key)
    target = CORPUS_NAMES.get(key)
    if target == _DISGUST:
        return Emotion.ANGRY
    return target if isinstance(target, Emotion) else None


def resolve_intensity(value: str | float | int | None) -> float:
    """Return the intensity for a word (``low``/``medium``/``high`` -> 0.5/1.0/1.5) or a number in 0..2.

    ``None`` means the nominal intensity, 1.0. Numbers may come as strings (``"1.3"``, from SSML).
    """
    if value is None:
        return 1.0
    if isinstance(value, str):
        word = value.strip().lower()
        if word in INTENSITY_WORDS:
            return INTENSITY_WORDS[word]
        try:
            number = float(word)
        except ValueError:
            raise ValidationError(
                f"Unknown emotion intensity {value!r}. Use {', '.join(INTENSITY_WORDS)} "
                f"or a number from 0 to {MAX_INTENSITY:g}."
            ) from None
    elif isinstance(value, bool):
        raise ValidationError(f"Emotion intensity must be a word or a number, not {value!r}.")
    else:
        number = float(value)
    if not math.isfinite(number) or not 0.0 <= number <= MAX_INTENSITY:
        raise ValidationError(f"Emotion intensity {value!r} is out of range; use a number from 0 to 2.")
    return number
