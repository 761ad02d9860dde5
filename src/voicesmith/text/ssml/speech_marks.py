"""Request-level SSML rules that need no parse: which speech-mark types a text type allows."""

from __future__ import annotations

from collections.abc import Iterable

from voicesmith.errors import SsmlMarksNotSupportedForTextTypeError, ValidationError

SPEECH_MARK_TYPES: tuple[str, ...] = ("sentence", "ssml", "viseme", "word")
"""The speech-mark types Polly knows, in the order of its enum (and its error messages). The one
definition: the engine (``engine.marks``) and every door read it from here."""
TIMED_TEXT_MARK_TYPES: tuple[str, ...] = ("sentence", "word")
"""The marks that say where in the text the audio is: what the doors that stream timings beside the audio
(OpenAI's SSE, Wyoming's audio chunks) forward."""
TEXT_TYPES = frozenset({"text", "ssml"})


def check_speech_mark_types(text_type: str, speech_mark_types: Iterable[str]) -> frozenset[str]:
    """Validate a request's ``SpeechMarkTypes`` against its ``TextType`` the way Polly does.

    Returns the set of mark types. ``ssml`` marks need SSML input
    (:class:`SsmlMarksNotSupportedForTextTypeError` otherwise); unknown types or text types are a
    :class:`ValidationError`.
    """
    if text_type not in TEXT_TYPES:
        raise ValidationError(f"TextType {text_type!r} is not one of: ssml, text")
    types = frozenset(speech_mark_types)
    unknown = sorted(types.difference(SPEECH_MARK_TYPES))
    if unknown:
        raise ValidationError(f"SpeechMarkTypes {unknown[0]!r} is not one of: {', '.join(SPEECH_MARK_TYPES)}")
    if "ssml" in types and text_type != "ssml":
        raise SsmlMarksNotSupportedForTextTypeError(
            "SSML speech marks need SSML input: set TextType to 'ssml' or drop 'ssml' from SpeechMarkTypes"
        )
    return types
