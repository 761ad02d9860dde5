"""Amazon Polly's ``<say-as interpret-as=...>`` for English.

Polly's values: characters / spell-out, cardinal / number, ordinal, digits, fraction, unit, date (with a
format), time, address, expletive, telephone. A value the content does not fit (say-as cardinal "abc") is
read as ordinary text, as Polly does; an unknown interpret-as or date format is an InvalidSsmlError.
"""

from __future__ import annotations

import logging
import re

from voicesmith.errors import InvalidSsmlError

from .._core import Piece
from . import abbreviations as abbr
from . import dates, numbers, units, urls
from .scanner import EnglishScanner
from .urls import separator_pause

_LOGGER = logging.getLogger(__name__)

INTERPRET_AS = (
    "characters spell-out cardinal number ordinal digits fraction unit date time address expletive telephone"
).split()
DATE_FORMATS = "mdy dmy ymd md dm ym my d m y yyyymmdd".split()

_CHARACTER_NAMES = {
    " ": "space",
    "-": "dash",
    ".": "dot",
    ",": "comma",
    "'": "apostrophe",
    "/": "slash",
    "@": "at",
    "&": "and",
    "+": "plus",
    "#": "hash",
    "_": "underscore",
    "*": "star",
    "%": "percent",
    "$": "dollar",
}


def say_as(
    text: str, interpret_as: str, format: str | None, detail: str | None, british: bool
) -> list[Piece]:
    kind = interpret_as.strip().lower()
    if kind not in INTERPRET_AS:
        raise InvalidSsmlError(
            f"say-as interpret-as={interpret_as!r} is not supported; use one of: {', '.join(INTERPRET_AS)}."
        )
    if kind == "date":
        fmt = (format or "mdy").strip().lower()
        if fmt not in DATE_FORMATS:
            raise InvalidSsmlError(
                f"say-as date format={format!r} is not supported; use one of: {', '.join(DATE_FORMATS)}."
            )
    else:
        fmt = (format or "").strip().lower()
    start = len(text) - len(text.lstrip())
    end = len(text.rstrip())
    if start >= end:
        return []
    content = text[start:end]
    pieces = _READERS[kind](text, start, end, content, fmt, british)
    if pieces is None:
        _LOGGER.debug("say-as %s does not fit %r; reading it as text", kind, content)
        pieces = EnglishScanner(text, british).run()
    return pieces


def _whole(words: list[str], start: int, end: int) -> list[Piece]:
    return [Piece(word, start, end) for word in words]


def _characters(text, start, end, content, fmt, british):
    pieces: list[Piece] = []
    for offset, char in enumerate(content):
        index = start + offset
        if char.isalpha():
            pieces.append(Piece(char.upper(), index, index + 1))
        elif char.isdecimal():
            pieces += _whole(numbers.digits(char), index, index + 1)
        elif char in _CHARACTER_NAMES and not char.isspace():
            pieces += _whole(_CHARACTER_NAMES[char].split(), index, index + 1)
    return pieces


def _number_match(content: str):
    return re.fullmatch(r"(?P<sign>[-−+])?(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?", content)


def _cardinal(text, start, end, content, fmt, british):
    match = _number_match(content)
    if not match:
        return None
    words = numbers.number_string(match["int"], match["frac"], british)
    if match["sign"]:
        words = ["plus" if match["sign"] == "+" else "minus", *words]
    return _whole(words, start, end)


def _ordinal(text, start, end, content, fmt, british):
    match = re.fullmatch(r"(\d{1,3}(?:,\d{3})+|\d+)(?:st|nd|rd|th)?", content, re.IGNORECASE)
    if not match or len(match[1]) > numbers.MAX_CARDINAL_DIGITS:
        return None
    return _whole(numbers.ordinal(int(match[1].replace(",", "")), british), start, end)


def _digits(text, start, end, content, fmt, british):
    if not re.search(r"\d", content) or re.search(r"[^\d\s().+-]", content):
        return None
    return [
        Piece(word, start + m.start(), start + m.end())
        for m in re.finditer(r"\d", content)
        for word in numbers.digits(m[0])
    ]


def _fraction(text, start, end, content, fmt, british):
    match = re.fullmatch(r"(?:(\d{1,9})[ +])?(\d{1,9})/(\d{1,9})", content)
    if not match or not int(match[3]):
        return None
    numerator, denominator = int(match[2]), int(match[3])
    if match[1]:
        return _whole(numbers.mixed_fraction(int(match[1]), numerator, denominator, british), start, end)
    return _whole(numbers.fraction(numerator, denominator, british), start, end)


def _unit(text, start, end, content, fmt, british):
    match = re.match(r"(?P<sign>-)?(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?", content)
    if not match:
        return None
    unit = units.match_unit(content, match.end())
    if unit is None or unit[3] != len(content):
        return None
    words = numbers.number_string(match["int"], match["frac"], british)
    if match["sign"]:
        words = ["minus", *words]
    singular, plural, unit_start, _ = unit
    name = singular if units.is_singular(match["int"], match["frac"]) else plural
    return _whole(words, start, start + match.end()) + _whole(name.split(), start + unit_start, end)


def _date(text, start, end, content, fmt, british):
    parts = _date_parts(content, fmt)
    if parts is None:
        return None
    day, month, year_text = parts
    if (month is not None and not 1 <= month <= 12) or (day is not None and not 1 <= day <= 31):
        return None
    words = dates.date_words(day, month, None, british)
    if year_text is not None:
        words += (
            numbers.year(int(year_text), british)
            if len(year_text) == 4
            else dates.two_digit_year(year_text, british)
        )
    return _whole(words, start, end)


def _date_parts(content: str, fmt: str) -> tuple[int | None, int | None, str | None] | None:
    if fmt == "yyyymmdd":
        match = re.fullmatch(r"(\d{4})(\d{2})(\d{2})", content)
        return (int(match[3]), int(match[2]), match[1]) if match else None
    fields = re.split(r"[-/.\s]+", content) if re.search(r"[-/.\s]", content) else None
    if fields is None:  # compact: "0305" for md, "2024" for y
        if len(fmt) == 1:
            fields = [content]
        else:
            widths = [4 if code == "y" else 2 for code in fmt]
            if len(content) != sum(widths):
                widths = [2] * len(fmt)  # two-digit years
                if len(content) != sum(widths):
                    return None
            fields, index = [], 0
            for width in widths:
                fields.append(content[index : index + width])
                index += width
    if len(fields) != len(fmt) or not all(field.isdecimal() for field in fields):
        return None
    values = dict(zip(fmt, fields, strict=True))
    if "y" in values and len(values["y"]) not in (2, 4):
        return None
    day = int(values["d"]) if "d" in values else None
    month = int(values["m"]) if "m" in values else None
    return day, month, values.get("y")


def _time(text, start, end, content, fmt, british):
    duration = re.fullmatch(r"(?:(\d{1,9})h\s*)?(?:(\d{1,9})')?\s*(?:(\d{1,9})(?:\"|''|”))?", content)
    if duration and any(duration.groups()):
        words: list[str] = []
        for value, unit in zip(duration.groups(), ("hour", "minute", "second"), strict=True):
            if value:
                words += [*numbers.cardinal(int(value), british), unit if int(value) == 1 else unit + "s"]
        return _whole(words, start, end)
    clock = dates.match_time(text, start, british, lambda _index: False)
    if clock and clock[1] == end:
        return clock[0]
    return None


_DIRECTIONS = {
    "n": "north",
    "s": "south",
    "e": "east",
    "w": "west",
    "ne": "northeast",
    "nw": "northwest",
    "se": "southeast",
    "sw": "southwest",
}


def _address(text, start, end, content, fmt, british):
    """Street abbreviations read as street types, house numbers in pairs ("1234" -> twelve thirty four)."""
    pieces: list[Piece] = []
    for match in re.finditer(r"\S+", content):
        word, s, e = match[0], start + match.start(), start + match.end()
        core = word.rstrip(".,")
        low = core.lower()
        core_end = s + len(core) + (1 if word[len(core) : len(core) + 1] == "." else 0)
        if low in abbr.TITLE_OR_ADDRESS or low in abbr.ADDRESS:
            spoken = abbr.TITLE_OR_ADDRESS[low][1] if low in abbr.TITLE_OR_ADDRESS else abbr.ADDRESS[low]
            pieces.append(Piece(spoken, s, core_end))
        elif low in _DIRECTIONS and core.isupper():
            pieces.append(Piece(_DIRECTIONS[low], s, core_end))
        elif re.fullmatch(r"\d{3,4}", core) and core[-2:] != "00":
            pieces += _whole(numbers.year(int(core), british), s, s + len(core))
        else:
            pieces += [p for p in EnglishScanner(text[:e], british).run() if p.start >= s]
            continue
        if word.endswith(","):
            pieces.append(Piece(",", e - 1, e, "punct"))
    return pieces


def _expletive(text, start, end, content, fmt, british):
    return [Piece("", start, end, "bleep")]


def _telephone(text, start, end, content, fmt, british):
    phone = urls.match_phone(text, start)
    if phone and phone[1] == end:
        return phone[0]
    if not re.fullmatch(r"[\d\s().+-]+", content):
        return None
    pieces: list[Piece] = []
    for group in re.finditer(r"\+?\d+", content):
        s, e = start + group.start(), start + group.end()
        if pieces:
            pieces.append(separator_pause(text, pieces[-1].end, s))
        words = (["plus"] if group[0].startswith("+") else []) + numbers.digits(group[0])
        pieces += _whole(words, s, e)
    return pieces


_READERS = {
    "characters": _characters,
    "spell-out": _characters,
    "cardinal": _cardinal,
    "number": _cardinal,
    "ordinal": _ordinal,
    "digits": _digits,
    "fraction": _fraction,
    "unit": _unit,
    "date": _date,
    "time": _time,
    "address": _address,
    "expletive": _expletive,
    "telephone": _telephone,
}
