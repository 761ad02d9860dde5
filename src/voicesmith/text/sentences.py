"""Split text into sentences, knowing the abbreviations the normaliser knows.

"Dr. Smith arrived at 3.5 p.m. in the U.S. Army base." is one sentence; "I live in the U.S. The weather is
fine." is two. The decision for each candidate break (".", "!", "?", an ellipsis, followed by optional
closing quotes or brackets and whitespace) comes from the language's
:meth:`~voicesmith.text.normalize.LanguageRules.is_sentence_end`; a blank line always ends a sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from voicesmith.text.normalize import byte_offsets, get_language_rules

_CANDIDATE = re.compile(r"(?:\.\.\.+|…|[.!?]+)[\"'”’»›)\]}]*(?=\s|$)|\n[ \t]*\n")


@dataclass(frozen=True)
class Sentence:
    """One sentence, without surrounding whitespace, with its span in characters and in UTF-8 bytes."""

    text: str
    start: int
    """Character offset of the first character (Python string index)."""
    end: int
    """Character offset just past the last character."""
    byte_start: int
    """UTF-8 byte offset of the first character (what Polly's speech marks report)."""
    byte_end: int

    @property
    def span(self) -> tuple[int, int]:
        return self.start, self.end

    @property
    def byte_span(self) -> tuple[int, int]:
        return self.byte_start, self.byte_end


def split_sentences(text: str, language: str = "en-US") -> list[Sentence]:
    """The sentences of ``text`` in order; whitespace between them belongs to none. Empty text gives []."""
    rules = get_language_rules(language)
    boundaries: list[int] = []
    for match in _CANDIDATE.finditer(text):
        if match[0].startswith("\n") or rules.is_sentence_end(text, match.start(), match.end()):
            boundaries.append(match.end())
    offsets = byte_offsets(text)
    sentences: list[Sentence] = []
    start = 0
    for end in [*boundaries, len(text)]:
        chunk = text[start:end]
        stripped = chunk.strip()
        if stripped:
            s = start + len(chunk) - len(chunk.lstrip())
            e = s + len(stripped)
            sentences.append(Sentence(stripped, s, e, offsets[s], offsets[e]))
        start = end
    return sentences
