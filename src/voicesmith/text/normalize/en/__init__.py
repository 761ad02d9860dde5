"""English text rules (en-US, en-GB and the other English variants)."""

from __future__ import annotations

from .._core import LanguageRules, Piece
from . import abbreviations
from .say_as import say_as
from .scanner import EnglishScanner


class EnglishRules(LanguageRules):
    """English reading. ``british``: day-first numeric dates, "the fifth of March", "one hundred and one"."""

    def __init__(self, codes: tuple[str, ...], british: bool = False) -> None:
        self.codes = codes
        self.british = british

    def normalize(self, text: str) -> list[Piece]:
        return EnglishScanner(text, self.british).run()

    def say_as(self, text: str, interpret_as: str, format: str | None, detail: str | None) -> list[Piece]:
        return say_as(text, interpret_as, format, detail, self.british)

    def is_sentence_end(self, text: str, punct_start: int, punct_end: int) -> bool:
        return abbreviations.is_sentence_end(text, punct_start, punct_end)


AMERICAN = EnglishRules(("en-US", "en", "en-CA"))
BRITISH = EnglishRules(("en-GB", "en-AU", "en-NZ", "en-IE", "en-IN", "en-ZA", "en-GB-WLS"), british=True)
