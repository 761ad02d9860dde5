"""Text normalisation: turn written text into the words a voice should speak, with exact source spans.

``normalize("Dr. Smith paid $5.20")`` gives one :class:`Token` per spoken word ("doctor", "Smith", "five",
"dollars", "and", "twenty", "cents"); every token carries the UTF-8 byte span of the source piece it was read
from (all five money words carry the span of "$5.20"), plus ``base_offset``. Punctuation that shapes prosody
(, . ! ? ; : and dashes, which read as ",") stays as "punct" tokens; quotes, brackets and emoji are dropped.

Languages plug in through :class:`LanguageRules` and :func:`register_language`; English (en-US, en-GB and
other English variants) is built in. See ``en/`` for the English readings and their heuristics.
"""

from __future__ import annotations

from ._core import (
    LanguageRules,
    Piece,
    Token,
    TokenKind,
    byte_offsets,
    get_language_rules,
    register_language,
    spoken_text,
    to_tokens,
)
from .en import AMERICAN, BRITISH

__all__ = [
    "LanguageRules",
    "Piece",
    "Token",
    "TokenKind",
    "byte_offsets",
    "get_language_rules",
    "normalize",
    "register_language",
    "say_as",
    "spoken_text",
]

register_language(AMERICAN)
register_language(BRITISH)


def normalize(text: str, language: str = "en-US", base_offset: int = 0) -> list[Token]:
    """Read ``text`` aloud as ``language`` does; never raises on any text (unknown languages do raise
    :class:`~voicesmith.errors.LanguageNotSupportedError`)."""
    rules = get_language_rules(language)
    return to_tokens(rules.normalize(text), text, base_offset)


def say_as(
    text: str,
    interpret_as: str,
    format: str | None = None,
    detail: str | None = None,
    language: str = "en-US",
    base_offset: int = 0,
) -> list[Token]:
    """SSML ``<say-as>`` as Amazon Polly reads it.

    ``interpret_as``: characters, spell-out, cardinal, number, ordinal, digits, fraction, unit, date, time,
    address, expletive, telephone. ``format`` is the date order for "date" (mdy dmy ymd md dm ym my d m y
    yyyymmdd; default mdy); other types ignore it, and ``detail`` is accepted and ignored (Polly has none).
    "expletive" gives one Token with text "" and kind "bleep" over the whole content. Content that does not
    fit the type ("abc" as cardinal) is read as ordinary text, as Polly does.
    Raises :class:`~voicesmith.errors.InvalidSsmlError` for an unknown interpret-as or date format.
    """
    rules = get_language_rules(language)
    return to_tokens(rules.say_as(text, interpret_as, format, detail), text, base_offset)
