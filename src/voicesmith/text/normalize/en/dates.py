"""Dates and clock times: "2024-03-05", "03/05/2024", "March 5, 2024", "5 March 2024", "9:30 a.m.".

Each matcher takes the text and a position and returns (pieces, end) when a date or time starts there,
else None. American English reads "March fifth, twenty twenty four"; British "the fifth of March ...".
Numeric dates are month first in en-US and day first in en-GB, falling back to the other order when the
first is impossible (13/05/2024 is read as the 13th of May in either).
"""

from __future__ import annotations

import re

from .._core import Piece
from . import numbers

MONTH_NAMES = "January February March April May June July August September October November December".split()
MONTHS = {name: full for full in MONTH_NAMES for name in (full, full[:3])} | {"Sept": "September"}

_MONTH_ALT = "|".join(sorted(MONTHS, key=len, reverse=True))
_MONTH_FIRST = re.compile(
    rf"(?P<month>{_MONTH_ALT})(?P<dot>\.)?\s+(?P<day>\d{{1,2}})(?P<suffix>st|nd|rd|th)?(?![\d:/.,]\d)\b"
    r"(?:(?P<comma>,)?\s+(?P<year>\d{4})(?!\d))?"
)
_MONTH_YEAR = re.compile(rf"(?P<month>{_MONTH_ALT})(?P<dot>\.)?\s+(?P<year>\d{{4}})(?![\d,.]\d)")
_DAY_FIRST = re.compile(
    rf"(?P<day>\d{{1,2}})(?P<suffix>st|nd|rd|th)?\s+(?:(?P<of>of)\s+)?(?P<month>{_MONTH_ALT})\b(?P<dot>\.)?"
    r"(?:(?P<comma>,)?\s+(?P<year>\d{4})(?!\d))?"
)
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?![\d-])")
_NUMERIC = re.compile(r"(\d{1,2})([/.])(\d{1,2})\2(\d{4}|\d{2})(?![\d/.]\d)")
_TIME = re.compile(
    r"(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?(?![\d:])"
    r"(?:\s?(?P<suffix>[aApP]\.[mM]\.?|[aApP][mM]\b|noon\b|midnight\b))?"
)
_HOUR_SUFFIX = re.compile(r"(?P<h>\d{1,2})\s?(?P<suffix>[aApP]\.[mM]\.?|[aApP][mM]\b)")


def _whole(words: list[str], start: int, end: int) -> list[Piece]:
    return [Piece(word, start, end) for word in words]


def _valid(day: int, month: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= (29 if month == 2 else 30 if month in (4, 6, 9, 11) else 31)


def date_words(day: int | None, month: int | None, year_: int | None, british: bool) -> list[str]:
    """The reading of a (partial) date; any part may be missing (say-as formats md, ym, y ...)."""
    month_name = MONTH_NAMES[month - 1] if month else None
    words: list[str] = []
    if day and month_name:
        words = (
            ["the", *numbers.ordinal(day, british), "of", month_name]
            if british
            else [month_name, *numbers.ordinal(day, british)]
        )
    elif day:
        words = ["the", *numbers.ordinal(day, british)]
    elif month_name:
        words = [month_name]
    if year_ is not None:
        words += numbers.year(year_, british)
    return words


def two_digit_year(text: str, british: bool) -> list[str]:
    """'24 -> "twenty four", '05 -> "oh five"."""
    return ["oh", *numbers.digits(text[1])] if text.startswith("0") else numbers.cardinal(int(text), british)


def match_iso_date(text: str, pos: int, british: bool) -> tuple[list[Piece], int] | None:
    match = _ISO.match(text, pos)
    if not match or not _valid(int(match[3]), int(match[2])):
        return None
    words = date_words(int(match[3]), int(match[2]), int(match[1]), british)
    return _whole(words, pos, match.end()), match.end()


def match_numeric_date(text: str, pos: int, british: bool) -> tuple[list[Piece], int] | None:
    match = _NUMERIC.match(text, pos)
    if not match:
        return None
    first, second = int(match[1]), int(match[3])
    day, month = (first, second) if british else (second, first)
    if not _valid(day, month):
        day, month = month, day
        if not _valid(day, month):
            return None
    words = date_words(day, month, None, british)
    year_text = match[4]
    words += (
        numbers.year(int(year_text), british) if len(year_text) == 4 else two_digit_year(year_text, british)
    )
    return _whole(words, pos, match.end()), match.end()


def match_month_first(text: str, pos: int, british: bool) -> tuple[list[Piece], int] | None:
    """ "March 5, 2024", "Mar. 5th", "March 2024"."""
    match = _MONTH_FIRST.match(text, pos)
    if match and 1 <= int(match["day"]) <= 31:
        pieces = [
            Piece(MONTHS[match["month"]], pos, match.end("dot") if match["dot"] else match.end("month"))
        ]
        day_end = match.end("suffix") if match["suffix"] else match.end("day")
        pieces += _whole(numbers.ordinal(int(match["day"]), british), match.start("day"), day_end)
        if match["year"]:
            if match["comma"]:
                pieces.append(Piece(",", match.start("comma"), match.end("comma"), "punct"))
            pieces += _whole(
                numbers.year(int(match["year"]), british), match.start("year"), match.end("year")
            )
        return pieces, match.end()
    match = _MONTH_YEAR.match(text, pos)
    if match:
        month_end = match.end("dot") if match["dot"] else match.end("month")
        pieces = [Piece(MONTHS[match["month"]], pos, month_end)]
        pieces += _whole(numbers.year(int(match["year"]), british), match.start("year"), match.end("year"))
        return pieces, match.end()
    return None


def match_day_first(text: str, pos: int, british: bool, after_the: bool) -> tuple[list[Piece], int] | None:
    """ "5 March 2024", "the 3rd of May"; ``after_the`` when the text already says "the"."""
    match = _DAY_FIRST.match(text, pos)
    if not match or not 1 <= int(match["day"]) <= 31:
        return None
    if not match["suffix"] and not match["of"] and match["month"] == "May" and not match["year"]:
        return None  # "5 May" is fine, but "2 May be" would be a guess: require a year or a suffix
    day_end = match.end("suffix") if match["suffix"] else match.end("day")
    month_end = match.end("dot") if match["dot"] else match.end("month")
    pieces = [] if after_the else [Piece("the", pos, day_end)]
    pieces += _whole(numbers.ordinal(int(match["day"]), british), pos, day_end)
    if match["of"]:
        pieces.append(Piece("of", match.start("of"), match.end("of")))
    else:
        pieces.append(Piece("of", match.start("month"), month_end))
    pieces.append(Piece(MONTHS[match["month"]], match.start("month"), month_end))
    if match["year"]:
        if match["comma"]:
            pieces.append(Piece(",", match.start("comma"), match.end("comma"), "punct"))
        pieces += _whole(numbers.year(int(match["year"]), british), match.start("year"), match.end("year"))
    return pieces, match.end()


def _suffix_word(suffix: str) -> str:
    low = suffix.lower()
    if low in ("noon", "midnight"):
        return low
    return "AM" if low.startswith("a") else "PM"


def time_words(hour: int, minute: int, second: int | None, suffix: str | None, british: bool) -> list[str]:
    words = numbers.cardinal(hour, british)
    if minute:
        words += (
            ["oh", *numbers.cardinal(minute, british)] if minute < 10 else numbers.cardinal(minute, british)
        )
    elif suffix is None and second is None:
        words += ["o'clock"] if 1 <= hour <= 12 else ["hundred"]
    if second:
        words += ["and", *numbers.cardinal(second, british), "second" if second == 1 else "seconds"]
    if suffix:
        words.append(_suffix_word(suffix))
    return words


def match_time(text: str, pos: int, british: bool, period_is_sentence_end) -> tuple[list[Piece], int] | None:
    """ "9:30", "9:30 a.m.", "9pm", "21:05", "12:00 noon". ``period_is_sentence_end(index)`` decides
    whether the final period of "a.m." also ends the sentence (then it becomes a "." token)."""
    match = _TIME.match(text, pos)
    if match:
        hour, minute = int(match["h"]), int(match["m"])
        second = int(match["s"]) if match["s"] else None
        if hour > 24 or minute > 59 or (second is not None and second > 59):
            return None
        suffix = match["suffix"]
        clock_end = match.end("s") if match["s"] else match.end("m")
    else:
        match = _HOUR_SUFFIX.match(text, pos)
        if not match or not 1 <= int(match["h"]) <= 12:
            return None
        hour, minute, second, suffix = int(match["h"]), 0, None, match["suffix"]
        clock_end = match.end("h")
    words = time_words(hour, minute, second, suffix, british)
    if suffix:
        words = words[:-1]  # the suffix gets its own span below
    pieces = _whole(words, pos, clock_end)
    end = match.end()
    if suffix:
        suffix_start, suffix_end = match.start("suffix"), match.end("suffix")
        if suffix.endswith(".") and period_is_sentence_end(suffix_end - 1):
            pieces.append(Piece(_suffix_word(suffix), suffix_start, suffix_end - 1))
            pieces.append(Piece(".", suffix_end - 1, suffix_end, "punct"))
        else:
            pieces.append(Piece(_suffix_word(suffix), suffix_start, suffix_end))
    return pieces, end
