"""English number words, all built on num2words (no hand-written number tables).

Every function returns a list of single words ("twenty", "one"), the unit the normaliser emits tokens in.
``british`` keeps the "and" of British usage ("one hundred and one"); American English drops it.
"""

from __future__ import annotations

import unicodedata
from fractions import Fraction
from functools import lru_cache

MAX_CARDINAL_DIGITS = 15
"""Longer digit strings are read digit by digit (num2words' names run out, and nobody says them)."""

CURRENCIES: dict[str, tuple[str, str, str | None, str | None]] = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "¥": ("yen", "yen", None, None),
    "₹": ("rupee", "rupees", "paisa", "paise"),
    "₩": ("won", "won", None, None),
}
"""Currency symbol -> (major singular, major plural, minor singular, minor plural)."""

SCALES = {
    "k": "thousand",
    "K": "thousand",
    "m": "million",
    "M": "million",
    "mm": "million",
    "b": "billion",
    "B": "billion",
    "bn": "billion",
    "mn": "million",
    "thousand": "thousand",
    "million": "million",
    "billion": "billion",
    "trillion": "trillion",
}


@lru_cache(maxsize=4096)
def _spell(value: int, to: str) -> str:
    """num2words is the slow part of reading numbers; texts repeat the same few numbers. It is imported
    on the first number read (~0.1 s, with its 50 languages' tables), not when a voice loads."""
    from num2words import num2words

    return num2words(value, lang="en", to=to)


def _words(spelled: str, british: bool) -> list[str]:
    words = spelled.replace(",", " ").replace("-", " ").split()
    return words if british else [word for word in words if word != "and"]


def cardinal(value: int, british: bool = False) -> list[str]:
    """Cardinal words; negative values read with "minus"; very long ones digit by digit."""
    if value < 0:
        return ["minus", *cardinal(-value, british)]
    if len(str(value)) > MAX_CARDINAL_DIGITS:
        return digits(str(value))
    return _words(_spell(value, "cardinal"), british)


def ordinal(value: int, british: bool = False) -> list[str]:
    if len(str(abs(value))) > MAX_CARDINAL_DIGITS:
        return [*digits(str(value)), "th"]
    return _words(_spell(value, "ordinal"), british)


def year(value: int, british: bool = False) -> list[str]:
    """Year reading: 1995 "nineteen ninety five", 2005 "two thousand five", 1900 "nineteen hundred"."""
    return _words(_spell(value, "year"), british)


def digits(text: str) -> list[str]:
    """Each decimal digit of ``text`` as a word; other characters are skipped."""
    return [_spell(int(char), "cardinal") for char in text if char.isdecimal()]


def number_string(int_part: str, frac_part: str | None = None, british: bool = False) -> list[str]:
    """Read a written number: ``int_part`` may hold thousands commas, ``frac_part`` the digits after "."."""
    plain = int_part.replace(",", "")
    if not plain:
        words = ["zero"] if frac_part is None else []
    elif (len(plain) > 1 and plain.startswith("0") and "," not in int_part) or len(
        plain
    ) > MAX_CARDINAL_DIGITS:
        words = digits(plain)  # 007, 0800: an identifier, read digit by digit; or too long to name
    else:
        words = cardinal(int(plain), british)
    if frac_part:
        words = [*words, "point", *digits(frac_part)]
    return words


def decade(value: int, british: bool = False) -> list[str] | None:
    """1990 -> "nineteen nineties", 1900 -> "nineteen hundreds", 80 -> "eighties"; None if not a decade."""
    if value % 10 or value <= 0:
        return None
    words = year(value, british) if value >= 1000 else cardinal(value, british)
    return [*words[:-1], plural(words[-1])]


def plural(word: str) -> str:
    if word.endswith("y"):
        return word[:-1] + "ies"
    if word == "half":
        return "halves"
    return word + "s"


def fraction(numerator: int, denominator: int, british: bool = False) -> list[str]:
    """3/4 -> "three quarters", 1/2 -> "one half", 5/8 -> "five eighths", 7/301 -> "seven over ..."."""
    if denominator <= 1 or denominator > 1000 or (denominator > 100 and denominator % 100):
        return [*cardinal(numerator, british), "over", *cardinal(denominator, british)]
    if denominator == 2:
        name = "half"
    elif denominator == 4:
        name = "quarter"
    else:
        name = ordinal(denominator, british)[-1]
    lead = ordinal(denominator, british)[:-1] if denominator not in (2, 4) else []
    last = name if numerator == 1 else plural(name)
    return [*cardinal(numerator, british), *lead, last]


def mixed_fraction(whole: int, numerator: int, denominator: int, british: bool = False) -> list[str]:
    """2 1/2 -> "two and a half"; 1 3/4 -> "one and three quarters"."""
    tail = fraction(numerator, denominator, british)
    if numerator == 1 and "over" not in tail:
        tail = ["a", *tail[1:]]
    return [*cardinal(whole, british), "and", *tail]


def vulgar_fraction(char: str) -> tuple[int, int] | None:
    """The (numerator, denominator) of a Unicode vulgar fraction such as "½", else None."""
    if not unicodedata.name(char, "").startswith("VULGAR FRACTION"):
        return None
    value = Fraction(unicodedata.numeric(char)).limit_denominator(100)
    return value.numerator, value.denominator


def currency(
    symbol: str, int_part: str, frac_part: str | None, scale: str | None = None, british: bool = False
) -> list[str]:
    """$5.20 -> "five dollars and twenty cents"; $1M -> "one million dollars"; ¥1000 -> "one thousand yen"."""
    major_one, major_many, minor_one, minor_many = CURRENCIES[symbol]
    plain = int_part.replace(",", "") or "0"
    if scale:
        return [*number_string(int_part, frac_part, british), SCALES[scale], major_many]
    if (frac_part and (len(frac_part) > 2 or minor_one is None)) or len(plain) > MAX_CARDINAL_DIGITS:
        return [*number_string(int_part, frac_part, british), major_many]
    whole = int(plain)
    minor = int(frac_part.ljust(2, "0")) if frac_part else 0
    words: list[str] = []
    if whole or not minor:
        words = [*number_string(int_part, None, british), major_one if whole == 1 else major_many]
    if minor and minor_one and minor_many:
        if words:
            words.append("and")
        words += [*cardinal(minor, british), minor_one if minor == 1 else minor_many]
    return words
