"""The English reading pass: one left-to-right scan that turns text into spoken :class:`Piece` objects.

At each position the scanner tries the specific readers first (e-mail, URL, phone, dates, times, money,
numbers with their units, abbreviations) and falls back to a plain word, a punctuation mark or a symbol.
Every reader returns the pieces it read and where it stopped, so each spoken word keeps the character
span of the source it came from. Characters nobody reads aloud (quotes, brackets, emoji) yield nothing.
"""

from __future__ import annotations

import re

from .._core import Piece
from . import abbreviations as abbr
from . import dates, numbers, units, urls

_Result = tuple[list[Piece], int] | None

_MARK = r"\u0300-\u036f"
_WORD = re.compile(rf"(?:[^\W\d_]|[{_MARK}])+(?:['’\-](?:[^\W\d_]|[{_MARK}])+)*")
_DOTTED = re.compile(r"(?:[A-Za-z]{1,2}\.){2,}(?![A-Za-z])")
_ABBREV = re.compile(r"[A-Za-z]+\.")
_NUMBER = re.compile(
    r"(?P<sign>[-−+])?(?:(?P<int>\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.(?P<frac>\d+))?|\.(?P<frac2>\d+))"
)
_DOTTED_NUMBER = re.compile(r"\d+(?:\.\d+){2,}(?![\d])")
_CURRENCY = re.compile(
    r"(?P<sign>[-−])?(?P<sym>[$€£¥₹₩])\s?(?P<int>\d{1,3}(?:,\d{3})+(?!\d)|\d+)?(?:\.(?P<frac>\d+))?"
    r"(?:\s?(?P<scale>thousand|million|billion|trillion|bn|mm|[kKmMbB])(?![\w]))?"
)
_GLUED_SCALE = re.compile(r"(M|B|bn|mn)(?![\w])")
_BY = re.compile(r"[ \u00a0]?x[ \u00a0]?(?=\d)")
_RATIO = re.compile(r"(\d{1,3}):(\d{1,3})(?![\d:])")
_RANGE_DASH = re.compile(r"(?:[ \u00a0]?[–—][ \u00a0]?|-)(?=[-−]?[$€£¥]?\.?\d)")
_ELLIPSIS = re.compile(r"\.\.\.+|…|\. \. \.")
_TERMINAL = re.compile(r"[.!?]+")
_CLOSERS = "\"'”’»›)]}"
_PUNCT_OR_END = re.compile(r"\s*(?:$|[.,;:!?)\]\"'”’])")
_SYMBOLS = {
    "&": "and",
    "@": "at",
    "+": "plus",
    "=": "equals",
    "×": "times",
    "÷": "divided by",
    "±": "plus or minus",
    "≈": "approximately",
    "°": "degrees",
    "%": "percent",
    "§": "section",
    "©": "copyright",
    "®": "registered",
    "™": "trademark",
}
YEAR_PRECEDERS = frozenset(
    """in since from until till by of during before after around circa c. ca. year early late mid between
    spring summer autumn fall winter born died founded established through 'til""".split()
)
SHORT_TITLES = {"Mr", "Mrs", "Ms", "Dr", "St", "Prof"}
_UNIT_WORDS = frozenset(
    """apt apartment flat room rm suite ste unit gate platform no number building bldg block seat row
    level floor house office box pier stand bay dock terminal""".split()
)
"""Words before a house, flat or room number: "Apt 4B" is the letter B, not four billion."""


class EnglishScanner:
    """Reads one text. ``british`` selects en-GB habits (day-first dates, "and" in numbers)."""

    def __init__(self, text: str, british: bool = False) -> None:
        self.text = text
        self.british = british

    def run(self) -> list[Piece]:
        pieces: list[Piece] = []
        pos, text = 0, self.text
        while pos < len(text):
            if text[pos].isspace():
                pos += 1
                continue
            result = self._read_at(pos)
            if result is None:
                pos += 1  # a character that is not spoken
                continue
            read, end = result
            pieces += read
            pos = max(end, pos + 1)
        return pieces

    # ----- dispatch ---------------------------------------------------------------------------------

    def _read_at(self, pos: int) -> _Result:
        char, text = self.text[pos], self.text
        following = text[pos + 1 : pos + 2]
        if char.isalnum():
            result = urls.match_email(text, pos) or urls.match_url(text, pos)
            if result:
                return result
        if char.isdecimal() or (char == "." and following.isdecimal() and not self._prev_is_digit(pos)):
            return self._numeric(pos)
        if char in "-−+" and (following.isdecimal() or following == ".") and self._sign_position(pos):
            return urls.match_phone(text, pos) or self._number(pos)
        if char in numbers.CURRENCIES or (char in "-−" and following in numbers.CURRENCIES):
            return self._currency(pos) or self._symbol(pos)
        if char.isalpha():
            return self._wordish(pos)
        if char == "(" and following.isdecimal():
            return urls.match_phone(text, pos) or self._symbol(pos)
        return self._symbol(pos)

    def _prev_is_digit(self, pos: int) -> bool:
        return pos > 0 and self.text[pos - 1].isdecimal()

    def _sign_position(self, pos: int) -> bool:
        """A "-" or "+" is a sign only where a number may start: not glued to a preceding word or number."""
        return pos == 0 or not (self.text[pos - 1].isalnum() or self.text[pos - 1] in ".,/")

    def _ends_sentence(self, dot: int) -> bool:
        end = dot + 1
        while end < len(self.text) and self.text[end] in _CLOSERS:
            end += 1
        return abbr.is_sentence_end(self.text, dot, end)

    def _with_period(
        self, words: list[str] | tuple[str, ...], start: int, end: int, can_end: bool
    ) -> _Result:
        """Words read from ``text[start:end]`` whose last character is an abbreviation's period; when that
        period also ends the sentence it becomes a "." token of its own."""
        if can_end and self._ends_sentence(end - 1):
            return [*(Piece(w, start, end - 1) for w in words), Piece(".", end - 1, end, "punct")], end
        return [Piece(w, start, end) for w in words], end

    # ----- numbers ----------------------------------------------------------------------------------

    def _numeric(self, pos: int) -> _Result:
        text, british = self.text, self.british
        return (
            urls.match_phone(text, pos)
            or dates.match_iso_date(text, pos, british)
            or dates.match_numeric_date(text, pos, british)
            or dates.match_time(text, pos, british, self._ends_sentence)
            or dates.match_day_first(text, pos, british, abbr.prev_word(text, pos)[0].lower() == "the")
            or self._dotted_number(pos)
            or self._ratio(pos)
            or self._number(pos)
        )

    def _ratio(self, pos: int) -> _Result:
        """ "16:9" -> sixteen to nine (clock times were tried first)."""
        match = _RATIO.match(self.text, pos)
        if not match:
            return None
        words = [*numbers.number_string(match[1]), "to", *numbers.number_string(match[2])]
        return [Piece(w, pos, match.end()) for w in words], match.end()

    def _dotted_number(self, pos: int) -> _Result:
        """Versions and addresses: "1.2.3" -> one point two point three; "10.0.0.1" -> ten dot zero ..."""
        match = _DOTTED_NUMBER.match(self.text, pos)
        if not match:
            return None
        groups = match[0].split(".")
        joiner = "dot" if len(groups) >= 4 else "point"
        words: list[str] = []
        for index, group in enumerate(groups):
            words += ([joiner] if index else []) + numbers.number_string(group, None, self.british)
        return [Piece(w, pos, match.end()) for w in words], match.end()

    def _number(self, pos: int) -> _Result:
        text, british = self.text, self.british
        match = _NUMBER.match(text, pos)
        if not match:
            return None
        sign, int_part, frac = match["sign"], match["int"] or "", match["frac"] or match["frac2"]
        start, end = pos, match.end()
        sign_words = {"-": ["minus"], "−": ["minus"], "+": ["plus"]}.get(sign or "", [])
        plain = not sign and not frac and "," not in int_part
        rest = text[end : end + 32]  # enough for every suffix; keeps long texts linear

        special = self._number_forms(int_part, plain, end, rest)
        if special is not None:
            words, end = special
            return [Piece(w, start, end) for w in [*sign_words, *words]], end

        value = int(int_part) if int_part.isdecimal() and len(int_part) == 4 else 0
        code = start > 0 and text[start - 1].isalpha()  # "B2B", "A4", "B52s": a code, not a quantity
        unit = None if code else units.match_unit(text, end, start)
        scale = self._glued_scale(start, end, frac) if unit is None and not code else None
        if scale:  # "1.5M users", "2bn"
            words = [*sign_words, *numbers.number_string(int_part, frac, british), numbers.SCALES[scale[1]]]
            end = scale.end()
            return [Piece(w, start, end) for w in words] + self._range_to(end), self._range_end(end)
        if plain and len(int_part) == 4 and unit is None and self._is_year(start, end, value):
            words = numbers.year(value, british)
        else:
            words = [*sign_words, *numbers.number_string(int_part, frac, british)]
        plural_code = re.match(r"['’]?s(?![\w])", text[end : end + 3]) if code else None
        if plural_code:  # "B52s" -> B fifty twos
            words[-1] = numbers.plural(words[-1])
            end += plural_code.end()
        pieces = [Piece(w, start, end) for w in words]
        if unit is not None:
            singular, plural, unit_start, unit_end = unit
            # "a 12V battery": a measure before its noun is singular (a twelve volt battery)
            attributive = abbr.prev_word(text, start)[0].lower() in ("a", "an")
            name = singular if attributive or units.is_singular(int_part, frac) else plural
            if text[unit_end - 1] == "." and self._ends_sentence(unit_end - 1):
                pieces += [Piece(w, unit_start, unit_end - 1) for w in name.split()]
                pieces.append(Piece(".", unit_end - 1, unit_end, "punct"))
            else:
                pieces += [Piece(w, unit_start, unit_end) for w in name.split()]
            end = unit_end
        else:
            suffix = re.match(r"[ \u00a0]?([$€£¥₹₩])(?![\d])", text[end : end + 4])
            if suffix and frac is None:
                name = numbers.CURRENCIES[suffix[1]][0 if units.is_singular(int_part, frac) else 1]
                pieces.append(Piece(name, end + suffix.start(1), end + suffix.end()))
                end += suffix.end()
            elif suffix:
                words = numbers.currency(suffix[1], int_part, frac, None, british)
                end += suffix.end()
                pieces = [Piece(w, start, end) for w in [*sign_words, *words]]
        return pieces + self._range_to(end), self._range_end(end)

    def _glued_scale(self, start: int, end: int, frac: str | None) -> re.Match | None:
        """A scale glued to a number ("1.5M users", "2bn"), or None where the letter is part of a house
        number or a code: "221B Baker St." (a capitalised word follows), "Apt 4B", "Room 101B"."""
        text = self.text
        match = _GLUED_SCALE.match(text, end)
        if match is None or match[1] in ("bn", "mn") or frac:
            return match
        following = abbr.next_word(text, match.end())
        if following[:1].isupper():
            return None
        previous = abbr.prev_word(text, start)[0].rstrip(".:,").lower()
        return None if previous in _UNIT_WORDS or text[start - 1 : start] == "#" else match

    def _number_forms(self, int_part: str, plain: bool, end: int, rest: str) -> tuple[list[str], int] | None:
        """Readings decided by what follows the digits: 1st, 1990s, 3/4, 2 1/2, 2½."""
        british = self.british
        if not int_part or len(int_part.replace(",", "")) > numbers.MAX_CARDINAL_DIGITS:
            return None
        value = int(int_part.replace(",", ""))
        if plain and re.match(r"(?i:st|nd|rd|th)(?![A-Za-z])", rest):
            return numbers.ordinal(value, british), end + 2
        plural_s = re.match(r"['’]?s(?![A-Za-z])", rest) if plain else None
        if plural_s and value in (100, 1000, 1000000, 1000000000):  # "100s of people" -> hundreds
            return [numbers.plural(numbers.cardinal(value)[-1])], end + plural_s.end()
        if plain and len(int_part) in (2, 4):
            decade = plural_s
            words = numbers.decade(value, british) if decade else None
            if words:
                return words, end + decade.end()
        if not plain:
            return None
        fraction = re.match(r"/(\d{1,4})(?![\d/])", rest)
        if fraction and int(fraction[1]):
            if int_part == "24" and fraction[1] == "7":
                return ["twenty", "four", "seven"], end + fraction.end()
            return numbers.fraction(value, int(fraction[1]), british), end + fraction.end()
        if rest[:1] and (vulgar := numbers.vulgar_fraction(rest[0])):
            return numbers.mixed_fraction(value, *vulgar, british), end + 1
        mixed = re.match(r"[ \u00a0]+(\d{1,3})/(\d{1,4})(?![\d/])", rest)
        if mixed and 0 < int(mixed[1]) < int(mixed[2]):
            return numbers.mixed_fraction(value, int(mixed[1]), int(mixed[2]), british), end + mixed.end()
        return None

    def _is_year(self, start: int, end: int, value: int) -> bool:
        """A four-digit number reads as a year after "in", "since", a month..., in a year range, or when
        nothing but punctuation follows it; "1995 people" stays a cardinal."""
        if not 1000 <= value <= 2099:
            return False
        text = self.text
        previous = abbr.prev_word(text, start)[0]
        if previous.lower().rstrip(",") in YEAR_PRECEDERS or previous.rstrip(".,") in dates.MONTHS:
            return True
        if re.search(
            r"\d{4}[ \u00a0]?(?:[-–—/]|to|and|or|through)[ \u00a0]?$", text[max(0, start - 14) : start]
        ):
            return True
        if re.match(r"[ \u00a0]?[-–—][ \u00a0]?\d{2,4}(?!\d)", text[end : end + 8]):
            return True
        return bool(_PUNCT_OR_END.match(text, end))

    def _range_to(self, end: int) -> list[Piece]:
        """ "to" for the dash of a range ("10-12"), "by" for the x of a dimension ("1920x1080")."""
        by = _BY.match(self.text, end)
        if by:
            x = by.start() + len(by[0]) - len(by[0].lstrip())
            return [Piece("by", x, x + 1)]
        match = _RANGE_DASH.match(self.text, end)
        if not match:
            return []
        dash = match.start() + len(match[0]) - len(match[0].lstrip())
        return [Piece("to", dash, dash + 1)]

    def _range_end(self, end: int) -> int:
        match = _BY.match(self.text, end) or _RANGE_DASH.match(self.text, end)
        return match.end() if match else end

    def _currency(self, pos: int) -> _Result:
        match = _CURRENCY.match(self.text, pos)
        if not match or not (match["int"] or match["frac"]):
            return None
        words = numbers.currency(
            match["sym"], match["int"] or "", match["frac"], match["scale"], self.british
        )
        if match["sign"]:
            words = ["minus", *words]
        end = match.end()
        return [Piece(w, pos, end) for w in words] + self._range_to(end), self._range_end(end)

    # ----- words ------------------------------------------------------------------------------------

    def _wordish(self, pos: int) -> _Result:
        text = self.text
        if text[pos].isupper():
            date = dates.match_month_first(text, pos, self.british)
            if date:
                return date
        return self._dotted(pos) or self._abbreviation(pos) or self._word(pos)

    def _dotted(self, pos: int) -> _Result:
        """Dotted abbreviations and initialisms: "e.g.", "a.m.", "U.S.", "Ph.D."."""
        match = _DOTTED.match(self.text, pos)
        if not match:
            return None
        entry = abbr.DOTTED.get(match[0].lower())
        if entry is not None:
            return self._with_period(entry[0], pos, match.end(), entry[1])
        letters = [char.upper() for char in match[0] if char.isalpha()]
        return self._with_period(letters, pos, match.end(), True)

    def _abbreviation(self, pos: int) -> _Result:
        text = self.text
        match = _ABBREV.match(text, pos)
        if not match or (pos and text[pos - 1].isalnum()):
            return None
        word, end = match[0], match.end()
        low = word.lower()
        bare = low[:-1]
        if low in abbr.NUMBER_ABBREVIATIONS and re.match(r"\s{0,3}#?\d", text[end : end + 5]):
            return [Piece(abbr.NUMBER_ABBREVIATIONS[low], pos, end)], end
        if word[0].isupper() and bare in abbr.TITLE_OR_ADDRESS:
            title, address = abbr.TITLE_OR_ADDRESS[bare]
            if abbr.title_or_address_is_address(text, pos, end):
                return self._with_period([address], pos, end, True)
            return [Piece(title, pos, end)], end
        if word[0].isupper() and bare in abbr.TITLES:
            return [Piece(abbr.TITLES[bare], pos, end)], end
        if word[0].isupper() and bare in abbr.WEEKDAYS:
            return self._with_period([abbr.WEEKDAYS[bare]], pos, end, True)
        if word[0].isupper() and bare in abbr.ADDRESS:
            return self._with_period([abbr.ADDRESS[bare]], pos, end, True)
        if low in abbr.DOTTED:
            spoken, can_end = abbr.DOTTED[low]
            return self._with_period(spoken, pos, end, can_end)
        if len(word) == 2 and word[0].isupper():  # an initial: "J. R. R. Tolkien"
            return self._with_period([word[0]], pos, end, True)
        return None

    def _word(self, pos: int) -> _Result:
        text = self.text
        match = _WORD.match(text, pos)
        if not match:
            return [Piece(text[pos], pos, pos + 1)], pos + 1  # a letter the pattern does not cover
        word, end = match[0], match.end()
        following = abbr.next_word(text, end)
        if word in SHORT_TITLES and following[:1].isupper():
            bare = word.lower()
            if bare in abbr.TITLE_OR_ADDRESS:
                title, address = abbr.TITLE_OR_ADDRESS[bare]
                spoken = address if abbr.title_or_address_is_address(text, pos, end) else title
            else:
                spoken = abbr.TITLES[bare]
            return [Piece(spoken, pos, end)], end
        address = self._undotted_address(word, pos, following)
        if address is not None:
            return [Piece(address, pos, end)], end
        if word.lower() in abbr.UNDOTTED and word.islower():
            return [Piece(w, pos, end) for w in abbr.UNDOTTED[word]], end
        if word.isupper() and len(word) <= 9:
            previous = abbr.prev_word(text, pos)[0]
            roman = abbr.roman_reading(word, previous)
            if roman is not None:
                kind, value = roman
                words = numbers.cardinal(value) if kind == "cardinal" else ["the", *numbers.ordinal(value)]
                return [Piece(w, pos, end) for w in words], end
        if word.isupper() and len(word) <= 3 and "&" in text[max(0, pos - 1) : end + 1]:
            return [Piece(letter, pos, end) for letter in word], end  # AT&T, R&D, P&G
        letters = abbr.spell_acronym(word)
        if letters is not None:
            return [Piece(letter, pos, end) for letter in letters], end
        return [Piece(word.replace("’", "'"), pos, end)], end

    def _undotted_address(self, word: str, pos: int, following: str) -> str | None:
        """A street type written without its period after a name or number ("Baker St and", "5th Ave at",
        "Elm Rd,"), or "Apt"/"Ste" before a number ("Apt 4B"); None otherwise ("St Andrews" is a title)."""
        bare = word.lower()
        if not word[:1].isupper() or (bare not in abbr.ADDRESS and bare not in abbr.TITLE_OR_ADDRESS):
            return None
        spoken = abbr.TITLE_OR_ADDRESS[bare][1] if bare in abbr.TITLE_OR_ADDRESS else abbr.ADDRESS[bare]
        if bare in ("apt", "ste"):
            return spoken if following[:1].isdigit() or following[:1] == "#" else None
        if following[:1].isupper():
            return None
        previous = abbr.prev_word(self.text, pos)[0]
        return spoken if previous[:1].isupper() or previous[:1].isdigit() else None

    # ----- punctuation and symbols ------------------------------------------------------------------

    def _symbol(self, pos: int) -> _Result:
        text, char = self.text, self.text[pos]
        following = text[pos + 1 : pos + 2]
        ellipsis = _ELLIPSIS.match(text, pos)
        if ellipsis:
            end = ellipsis.end()
            mark = "." if abbr.is_sentence_end(text, pos, end) else ","
            return [Piece(mark, pos, end, "punct")], end
        terminal = _TERMINAL.match(text, pos)
        if terminal:
            run = terminal[0]
            mark = "?" if "?" in run else "!" if "!" in run else "."
            return [Piece(mark, pos, terminal.end(), "punct")], terminal.end()
        if char in ",;:":
            return [Piece(char, pos, pos + 1, "punct")], pos + 1
        if char in "–—―" or text.startswith("--", pos):
            end = pos + 2 if text.startswith("--", pos) else pos + 1
            return [Piece(",", pos, end, "punct")], end
        if char == "-":
            spaced = (pos == 0 or text[pos - 1].isspace()) and (not following or following.isspace())
            at_line_start = pos == 0 or text[pos - 1] == "\n"
            return ([Piece(",", pos, pos + 1, "punct")] if spaced and not at_line_start else []), pos + 1
        if char == "#":
            if following.isdecimal():
                return [Piece("number", pos, pos + 1)], pos + 1
            return ([Piece("hashtag", pos, pos + 1)] if following.isalpha() else []), pos + 1
        if char == "~" and following.isdecimal():
            return [Piece("about", pos, pos + 1)], pos + 1
        if char in _SYMBOLS:
            return [Piece(w, pos, pos + 1) for w in _SYMBOLS[char].split()], pos + 1
        vulgar = numbers.vulgar_fraction(char)
        if vulgar:
            return [Piece(w, pos, pos + 1) for w in numbers.fraction(*vulgar, self.british)], pos + 1
        return [], pos + 1  # quotes, brackets, emoji and other symbols are not spoken
