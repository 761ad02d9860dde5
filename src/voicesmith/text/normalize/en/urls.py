"""URLs, e-mail addresses and telephone numbers, read part by part with each part's own source span.

"www.example.com/docs" -> "w w w dot example dot com slash docs"; "jane.doe@example.com" -> "jane dot doe
at example dot com"; "(555) 123-4567" -> "five five five, one two three, four five six seven".
"""

from __future__ import annotations

import re

from .._core import Piece
from . import numbers

_TLDS = "com|org|net|edu|gov|mil|int|io|dev|app|ai|co|uk|us|de|fr|es|it|nl|eu|ca|au|info|biz|me|tv|ly|gg"
_URL_CHARS = r"[^\s<>\"'()\[\]{}]"
_URL = re.compile(
    rf"(?:(?:https?|ftp)://{_URL_CHARS}+|www\.{_URL_CHARS}+"
    rf"|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*\.(?:{_TLDS})\b(?!\.[A-Za-z0-9])"
    rf"(?::\d+)?(?:/{_URL_CHARS}*)?)"
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_PHONE = re.compile(
    r"(?:\+\d{1,3}(?:[ .-]\(?\d{1,4}\)?){2,5}"  # +1 555 123 4567, +44 (20) 7946 0958
    r"|(?:1[ .-])?\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}"  # (555) 123-4567
    r"|(?:1-)?\d{3}-\d{3}-\d{4}|\d{3}\.\d{3}\.\d{4})"  # 555-123-4567, 1-800-555-0199, 555.123.4567
    r"(?![\w-])"
)

SYMBOL_NAMES = {
    ".": "dot",
    "/": "slash",
    ":": "colon",
    "-": "dash",
    "_": "underscore",
    "@": "at",
    "?": "question mark",
    "=": "equals",
    "&": "and",
    "#": "hash",
    "%": "percent",
    "~": "tilde",
    "+": "plus",
    ",": "comma",
    ";": "semicolon",
    "!": "exclamation mark",
    "*": "star",
    "$": "dollar",
}
_SPOKEN_LABELS = {"com", "org", "net", "edu", "gov", "co", "info", "biz", "app", "dev", "mail", "docs"}
_LETTERED = {"www", "http", "https", "ftp"}
_VOWELS = set("aeiouyAEIOUY")
_TRAILING = ".,;:!?"


def _label_words(label: str) -> list[str]:
    """A run of letters: a pronounceable word stays, short or vowel-less runs are spelled."""
    low = label.lower()
    if low in _SPOKEN_LABELS:
        return [low]
    if low in _LETTERED or len(label) <= 2 or not _VOWELS & set(label):
        return list(low)
    return [label]


def spell_address(text: str, start: int, end: int) -> list[Piece]:
    """Read ``text[start:end]`` (a URL or e-mail address) part by part."""
    pieces: list[Piece] = []
    for match in re.finditer(r"[^\W\d_]+|\d+|\S", text[start:end]):
        part = match[0]
        s, e = start + match.start(), start + match.end()
        if part[0].isdecimal():
            words = numbers.number_string(part) if len(part) <= 4 else numbers.digits(part)
        elif part[0].isalpha():
            words = _label_words(part)
        else:
            words = SYMBOL_NAMES.get(part, "").split()
        pieces += [Piece(word, s, e) for word in words]
    return pieces


def match_email(text: str, pos: int) -> tuple[list[Piece], int] | None:
    if pos and (text[pos - 1].isalnum() or text[pos - 1] in "._%+-@"):
        return None
    match = _EMAIL.match(text, pos)
    if not match:
        return None
    return spell_address(text, pos, match.end()), match.end()


def match_url(text: str, pos: int) -> tuple[list[Piece], int] | None:
    if pos and (text[pos - 1].isalnum() or text[pos - 1] in "._-@/"):
        return None
    match = _URL.match(text, pos)
    if not match:
        return None
    end = match.end()
    while end > pos and text[end - 1] in _TRAILING:
        end -= 1
    if end - pos < 4:
        return None
    return spell_address(text, pos, end), end


def separator_pause(text: str, start: int, end: int) -> Piece:
    """A "," between digit groups, spanning the separator without its whitespace ("-", ")"), or the
    whitespace itself where that is all there is."""
    core = text[start:end].strip()
    if core:
        start = text.index(core, start)
        end = start + len(core)
    return Piece(",", start, end, "punct")


def match_phone(text: str, pos: int) -> tuple[list[Piece], int] | None:
    """Digit groups read digit by digit, a "," between groups (spanning the separator) for the pause."""
    if pos and (text[pos - 1].isalnum() or text[pos - 1] in "+-"):
        return None
    match = _PHONE.match(text, pos)
    if not match:
        return None
    pieces: list[Piece] = []
    for group in re.finditer(r"\+?\d+", match[0]):
        s, e = pos + group.start(), pos + group.end()
        if pieces:
            pieces.append(separator_pause(text, pieces[-1].end, s))
        words = (["plus"] if group[0].startswith("+") else []) + numbers.digits(group[0])
        pieces += [Piece(word, s, e) for word in words]
    return pieces, match.end()
