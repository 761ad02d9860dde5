"""English abbreviations, titles, acronyms, Roman numerals, and the "does this period end a sentence" rule.

The sentence splitter and the normaliser share :func:`is_sentence_end`, so a period the normaliser
reads as part of "Dr." is never a sentence break for the splitter, and vice versa.

Acronym heuristic: an all-caps word of 2+ ASCII letters is spelled letter by letter ("FBI" -> F B I) when
it is a known initialism or has no vowel (A E I O U Y); otherwise it is kept as a word ("NASA", "NATO",
"HELLO"). Words of shouted all-caps text that happen to be initialisms ("US", "IT" is not listed) are spelled.
"""

from __future__ import annotations

import re

TITLES = {
    "mr": "mister",
    "mrs": "missus",
    "ms": "miz",
    "messrs": "messieurs",
    "prof": "professor",
    "gen": "general",
    "capt": "captain",
    "lt": "lieutenant",
    "col": "colonel",
    "sgt": "sergeant",
    "cpl": "corporal",
    "maj": "major",
    "adm": "admiral",
    "rev": "reverend",
    "hon": "honorable",
    "gov": "governor",
    "sen": "senator",
    "rep": "representative",
    "pres": "president",
    "fr": "father",
    "mt": "mount",
}
"""Read before a name; never end a sentence."""

TITLE_OR_ADDRESS = {"dr": ("doctor", "drive"), "st": ("saint", "street")}

ADDRESS = {
    "ave": "avenue",
    "blvd": "boulevard",
    "rd": "road",
    "ln": "lane",
    "ct": "court",
    "hwy": "highway",
    "pkwy": "parkway",
    "apt": "apartment",
    "ste": "suite",
}

DOTTED: dict[str, tuple[tuple[str, ...], bool]] = {
    "etc.": (("et", "cetera"), True),
    "vs.": (("versus",), False),
    "approx.": (("approximately",), False),
    "dept.": (("department",), True),
    "inc.": (("incorporated",), True),
    "ltd.": (("limited",), True),
    "co.": (("company",), True),
    "corp.": (("corporation",), True),
    "bros.": (("brothers",), True),
    "jr.": (("junior",), True),
    "sr.": (("senior",), True),
    "vol.": (("volume",), False),
    "pp.": (("pages",), False),
    "fig.": (("figure",), False),
    "cf.": (("compare",), False),
    "ca.": (("circa",), False),
    "govt.": (("government",), True),
    "intl.": (("international",), True),
    "univ.": (("university",), True),
    "est.": (("established",), False),
    "e.g.": (("for", "example"), False),
    "i.e.": (("that", "is"), False),
    "a.k.a.": (("also", "known", "as"), False),
    "a.m.": (("AM",), True),
    "p.m.": (("PM",), True),
}
"""Abbreviation (lower case, with its periods) -> (spoken words, whether it can end a sentence)."""

WEEKDAYS = {
    "mon": "Monday",
    "tue": "Tuesday",
    "tues": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "thur": "Thursday",
    "thurs": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
}
"""Capitalised and with a period ("Mon."); "Sun." is left alone (the Sun)."""

UNDOTTED = {"vs": ("versus",), "etc": ("et", "cetera")}

NUMBER_ABBREVIATIONS = {"no.": "number", "nos.": "numbers", "p.": "page", "ch.": "chapter", "nr.": "number"}
"""Read as the word only when a number follows ("No. 5"); "I said no." stays a word."""

INITIALISMS = frozenset(
    """AC AI AOL API ATM BBC BMW CD CEO CFO CIA CPU CSS CTO DC DIY DJ DNA DVD EA ETA EU EV FAQ FBI FYI GPS GPU
    HP HR HTML HTTP HTTPS IBM ICU ID IMF IMHO IOU IP IQ IRS ISP LA LCD MC MIT MVP NBA NFL NHS NYC OMG OS PC
    PDF PR RIP SUV SQL TBA TBD TV UAE UCLA UFO UI UK UN UPS URL US USA USB USPS USSR UX VIP VPN XML""".split()
)
"""Spelled even though they have a vowel. "IT" is left out: in shouted text it is mostly the word "it"."""

SENTENCE_STARTERS = frozenset(
    """A After Also An And As At Before But During Even For From He Her Here His How However I If In It Its
    Many Meanwhile Most My No Now Of On One Our She So Some Still That The Their Then There These They This
    Those Today Tomorrow We What When Where While Who Why With Yes Yesterday You Your""".split()
)
"""After an ambiguous abbreviation ("U.S.", an initial), only these capitalised words start a sentence."""

REGNAL_NAMES = frozenset(
    """Alexander Alfonso Anne Benedict Boniface Catherine Charles Clement Constantine Edward Elizabeth
    Ferdinand Francis Frederick George Gregory Henry Innocent James John Leo Louis Mary Napoleon Nicholas
    Paul Peter Philip Pius Ramesses Richard Robert Rudolf Sixtus Stephen Urban Victor Victoria Wilhelm
    William""".split()
)
CARDINAL_CONTEXT = frozenset(
    """act appendix article book bowl chapter class episode grade level mark part phase psalm round scene
    season section stage step title type unit vol volume war""".split()
)
"""A Roman numeral after these words is a cardinal: "Chapter IV" -> chapter four, "World War II"."""

_ROMAN_RE = re.compile(r"M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
_OPENERS = "\"'“‘«„‹([{"
_CLOSERS = "\"'”’»‹›)]}"
_VOWELS = set("AEIOUY")
_NEXT_WORD = re.compile(r"\s*[" + re.escape(_OPENERS) + r"]*(\S{0,64})")
_LOOK_BACK = 64


def roman_value(word: str) -> int | None:
    """The value of an upper-case, well-formed Roman numeral ("XIV" -> 14), else None."""
    if not word or not _ROMAN_RE.fullmatch(word):
        return None
    total = 0
    for index, char in enumerate(word):
        value = _ROMAN_VALUES[char]
        following = _ROMAN_VALUES[word[index + 1]] if index + 1 < len(word) else 0
        total += -value if value < following else value
    return total


def roman_reading(word: str, previous: str) -> tuple[str, int] | None:
    """How a Roman numeral after ``previous`` reads: ("cardinal" | "regnal", value), or None if not one."""
    value = roman_value(word)
    if value is None:
        return None
    prev_bare = previous.rstrip(".,;:").strip(_OPENERS + _CLOSERS)
    if prev_bare.lower() in CARDINAL_CONTEXT:
        return "cardinal", value
    if prev_bare in REGNAL_NAMES:
        return "regnal", value
    if len(word) >= 2 and set(word) <= {"I", "V", "X"} and prev_bare[:1].isupper() and prev_bare.isalpha():
        return "regnal", value
    return None


def spell_acronym(word: str) -> list[str] | None:
    """Letters of an initialism ("FBI" -> [F, B, I], "CEOs" -> [C, E, O's]), or None to keep it a word."""
    match = re.fullmatch(r"([A-Z]{2,})(['’]?s)?", word)
    if match is None:
        return None
    base = match[1]
    if base not in INITIALISMS and _VOWELS & set(base):
        return None
    letters = list(base)
    if match[2]:
        letters[-1] += "'s"
    return letters


def prev_word(text: str, pos: int) -> tuple[str, int]:
    """The whitespace-delimited word before ``pos`` without quotes/brackets, and where it starts."""
    end = pos
    while end > max(0, pos - _LOOK_BACK) and text[end - 1].isspace():
        end -= 1
    start = end
    while start > max(0, end - _LOOK_BACK) and not text[start - 1].isspace():
        start -= 1
    word = text[start:end]
    stripped = word.lstrip(_OPENERS)
    return stripped.rstrip(_CLOSERS), start + len(word) - len(stripped)


def next_word(text: str, pos: int) -> str:
    """The whitespace-delimited word from ``pos`` on, without leading quotes/brackets."""
    match = _NEXT_WORD.match(text, pos)
    return match[1] if match else ""


def at_sentence_start(text: str, pos: int, _depth: int = 0) -> bool:
    """Whether the word at ``pos`` starts a sentence (start of text or after a sentence-ending mark)."""
    index = pos
    while index > max(0, pos - _LOOK_BACK) and (text[index - 1].isspace() or text[index - 1] in _OPENERS):
        index -= 1
    if index == 0:
        return True
    if text[index - 1] in "!?…":
        return True
    if text[index - 1] != ".":
        return False
    if _depth > 2:
        return True  # a chain of "Dr."-like words: stop looking back
    word, word_start = prev_word(text, index)
    return _period_ends_sentence(text, word_start, word, pos, _depth + 1)


def title_or_address_is_address(text: str, start: int, end: int, _depth: int = 0) -> bool:
    """ "Dr."/"St.": a street type after a capitalised or numbered word ("Elm Dr.", "5th St."), else title."""
    previous, prev_start = prev_word(text, start)
    following = next_word(text, end)
    if not previous or not (previous[0].isupper() or previous[0].isdigit()):
        return False
    if not following or not following[0].isupper():
        return True
    return not at_sentence_start(text, prev_start, _depth)


def is_sentence_end(text: str, punct_start: int, punct_end: int) -> bool:
    """Whether ``text[punct_start:punct_end]`` (terminal punctuation plus closing quotes) ends a sentence."""
    following = next_word(text, punct_end)
    if not following or "\n\n" in text[punct_end : punct_end + 8].replace("\r", ""):
        return True
    if following[0] in ",;:":  # "12 High St., London": the period is the abbreviation's
        return False
    if following[0].islower():
        return False
    punct = text[punct_start:punct_end].rstrip(_CLOSERS)
    if punct != ".":
        return True
    word, word_start = prev_word(text, punct_start)
    return _period_ends_sentence(text, word_start, word + ".", punct_end)


def _period_ends_sentence(text: str, word_start: int, word: str, after: int, _depth: int = 0) -> bool:
    """``word`` ends with the period in question, starts at ``word_start``; ``after`` is past the period."""
    following = next_word(text, after)
    if not following:
        return True
    if following[0].islower():
        return False
    bare = word[:-1].rstrip(_CLOSERS) if word.endswith(".") else word
    low = bare.lower()
    if low in TITLES:
        return False
    if low in TITLE_OR_ADDRESS:
        return title_or_address_is_address(text, word_start, word_start + len(word), _depth)
    if (low + "." in NUMBER_ABBREVIATIONS or low in ADDRESS) and following[0] in "0123456789#":
        return False  # "No. 5", "Apt. 4B", "Ste. 200"
    entry = DOTTED.get(low + ".")
    if entry is not None:
        return entry[1]
    if (len(bare) == 1 and bare.isalpha()) or re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]", bare):
        return following.rstrip(".,;:!?") in SENTENCE_STARTERS
    return True
