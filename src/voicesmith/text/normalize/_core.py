"""Language-neutral pieces of the normaliser: the token types, byte offsets and the language registry.

A language plugs in by subclassing :class:`LanguageRules` and calling :func:`register_language`. Rules work
on *character* offsets of the input (:class:`Piece`); this module turns them into UTF-8 *byte* offsets
(:class:`Token`) once, in :func:`to_tokens`, so no language has to think about encodings.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

from voicesmith.errors import LanguageNotSupportedError

_LOGGER = logging.getLogger(__name__)

TokenKind = Literal["word", "punct", "bleep"]


@dataclass(frozen=True)
class Token:
    """One spoken word (or prosodic mark) and the part of the input it was read from.

    A source piece that reads as several words ("$5.20", "1995", "FBI") gives one Token per spoken word,
    and all of them carry the span of that source piece, so speech marks can map every spoken word back
    to its source and merge consecutive tokens with the same span into the one word mark Polly reports.
    """

    text: str
    """What is spoken: a single word ("twenty", "doctor", "NASA", "F"), a punctuation mark for prosody
    ("," "." "!" "?" ";" ":"; dashes and mid-sentence ellipses read as ","), or "" for a bleep."""
    start: int
    """UTF-8 byte offset of the source piece in the original input, plus ``base_offset``."""
    end: int
    """Exclusive UTF-8 byte offset of the end of the source piece, plus ``base_offset``."""
    kind: TokenKind
    """"word", "punct", or "bleep" (say-as expletive: the engine plays a beep for the span)."""


@dataclass(frozen=True)
class Piece:
    """What language rules produce: like :class:`Token` but with character offsets into the input."""

    text: str
    start: int
    end: int
    kind: TokenKind = "word"


def byte_offsets(text: str) -> list[int]:
    """``result[i]`` is the UTF-8 byte offset of character ``i``; ``result[len(text)]`` the byte length.

    Lone surrogates (possible in strings decoded from JSON) count as the 3 bytes ``surrogatepass`` gives.
    """
    offsets = [0] * (len(text) + 1)
    total = 0
    for index, char in enumerate(text):
        offsets[index] = total
        code = ord(char)
        total += 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4
    offsets[len(text)] = total
    return offsets


def to_tokens(pieces: list[Piece], text: str, base_offset: int) -> list[Token]:
    """Turn character-offset pieces into byte-offset tokens, merging runs of punctuation into one mark."""
    offsets = byte_offsets(text)
    tokens: list[Token] = []
    for piece in pieces:
        if piece.kind == "word" and not piece.text:
            continue
        token = Token(
            piece.text, base_offset + offsets[piece.start], base_offset + offsets[piece.end], piece.kind
        )
        if token.kind == "punct" and tokens and tokens[-1].kind == "punct":
            previous = tokens[-1]
            stronger = token.text if _PUNCT_RANK[token.text] > _PUNCT_RANK[previous.text] else previous.text
            tokens[-1] = Token(stronger, previous.start, max(previous.end, token.end), "punct")
            continue
        tokens.append(token)
    return tokens


_PUNCT_RANK = {",": 0, ":": 1, ";": 2, ".": 3, "!": 4, "?": 5}


def spoken_text(tokens: list[Token]) -> str:
    """The text to hand a phonemiser: words separated by spaces, punctuation attached, bleeps left out."""
    parts: list[str] = []
    for token in tokens:
        if token.kind == "word":
            parts.append(" " + token.text if parts else token.text)
        elif token.kind == "punct":
            parts.append(token.text)
    return "".join(parts).strip()


class LanguageRules(ABC):
    """Everything language-specific about reading text aloud. One instance per supported language tag."""

    codes: tuple[str, ...] = ()
    """BCP-47 tags this instance serves, e.g. ("en-US", "en"). Matched case-insensitively."""

    @abstractmethod
    def normalize(self, text: str) -> list[Piece]:
        """Read arbitrary text; must never raise on any input string."""

    @abstractmethod
    def say_as(self, text: str, interpret_as: str, format: str | None, detail: str | None) -> list[Piece]:
        """Read ``text`` as SSML ``<say-as>`` asks; raises InvalidSsmlError for unknown types/formats."""

    @abstractmethod
    def is_sentence_end(self, text: str, punct_start: int, punct_end: int) -> bool:
        """Whether the terminal punctuation ``text[punct_start:punct_end]`` ends a sentence.

        ``punct_end`` is just past the punctuation (and any closing quotes); whitespace follows it.
        """


_REGISTRY: dict[str, LanguageRules] = {}


def register_language(rules: LanguageRules) -> None:
    """Make ``rules`` serve each of its ``codes``; a later registration for a code replaces the earlier."""
    for code in rules.codes:
        _REGISTRY[code.lower()] = rules
    _LOGGER.debug("registered text rules for %s", ", ".join(rules.codes))


def get_language_rules(language: str) -> LanguageRules:
    """The rules for a BCP-47 tag: exact match first, then the primary language ("en-NZ" -> "en")."""
    key = language.strip().replace("_", "-").lower()
    rules = _REGISTRY.get(key) or _REGISTRY.get(key.split("-", 1)[0])
    if rules is None:
        supported = ", ".join(sorted(_REGISTRY))
        raise LanguageNotSupportedError(
            f"No text normalisation rules for language {language!r}; supported: {supported}."
        )
    return rules
