"""W3C Pronunciation Lexicons (PLS 1.0) the way Amazon Polly uses them.

:func:`parse_lexicon` validates a lexicon as ``PutLexicon`` does (name, size, root element, alphabet,
language, lexemes, replacement lengths) and raises Polly's error types. :func:`apply_lexicons` finds
lexeme graphemes in a list of word tokens with Polly's rules: matching is case-sensitive, a grapheme
may span several tokens ("Big Apple", "W3C" split as "W 3 C"), the longest match wins at each position,
and among lexicons the first in request order that has the grapheme wins.
Storage is elsewhere; a :class:`Lexicon` keeps its original XML in ``content``.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from voicesmith.errors import (
    InvalidLexiconError,
    LexiconSizeExceededError,
    MaxLexemeLengthExceededError,
    MaxLexiconsNumberExceededError,
    UnsupportedPlsAlphabetError,
    UnsupportedPlsLanguageError,
    ValidationError,
)

from .phonemes import xsampa_to_ipa
from .unicode import check_text

_LOGGER = logging.getLogger(__name__)

PLS_NAMESPACE = "http://www.w3.org/2005/01/pronunciation-lexicon"
MAX_LEXICON_CHARACTERS = 4000
MAX_REPLACEMENT_CHARACTERS = 100
MAX_LEXICONS_PER_REQUEST = 5
MAX_LEXICONS_PER_ACCOUNT = 100
ALPHABETS = frozenset({"ipa", "x-sampa"})
_NAME = re.compile(r"[0-9A-Za-z]{1,20}")
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class LexiconEntry:
    """One grapheme's replacement: an alias (text to speak instead) or a pronunciation."""

    grapheme: str
    alias: str | None = None
    phoneme: str | None = None
    """The pronunciation as written, in ``alphabet``."""
    alphabet: str = "ipa"
    ipa: str | None = None
    """The pronunciation in IPA (X-SAMPA converted); map it to a voice with ``ipa_to_voice_phonemes``."""


@dataclass(frozen=True)
class Lexicon:
    name: str
    content: str
    """The lexicon XML exactly as given (what ``GetLexicon`` returns)."""
    alphabet: str
    language: str
    entries: tuple[LexiconEntry, ...]
    """One entry per grapheme (a lexeme with two graphemes gives two entries)."""
    lexeme_count: int = 0
    _index: dict[str, LexiconEntry] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, LexiconEntry] = {}
        for entry in self.entries:
            index.setdefault(entry.grapheme, entry)  # the first lexeme with a grapheme wins
        object.__setattr__(self, "_index", index)

    @property
    def size(self) -> int:
        """Characters in ``content`` (Polly's ``Size``)."""
        return len(self.content)

    @property
    def max_grapheme_length(self) -> int:
        return max((len(grapheme) for grapheme in self._index), default=0)

    def lookup(self, word: str) -> LexiconEntry | None:
        """The entry for ``word`` (case-sensitive; runs of whitespace count as one space)."""
        return self._index.get(_WHITESPACE.sub(" ", word.strip()))

    def applies_to(self, language: str) -> bool:
        """Polly uses a lexicon only for voices of the lexicon's language."""
        return self.language.lower() == language.lower()

    def attributes(self) -> dict[str, object]:
        """Polly's ``LexiconAttributes`` fields that come from the content."""
        return {
            "Alphabet": self.alphabet,
            "LanguageCode": self.language,
            "LexemesCount": self.lexeme_count,
            "Size": self.size,
        }


def check_lexicon_name(name: str) -> str:
    if _NAME.fullmatch(name) is None:
        raise ValidationError(
            f"lexicon name {name!r} must be 1 to 20 letters and digits ([0-9A-Za-z]{{1,20}})"
        )
    return name


def check_lexicon_names(names: Sequence[str]) -> list[str]:
    """Validate a request's ``LexiconNames``: at most five, each a valid name."""
    if len(names) > MAX_LEXICONS_PER_REQUEST:
        raise MaxLexiconsNumberExceededError(
            f"{len(names)} lexicons requested; at most {MAX_LEXICONS_PER_REQUEST} apply to one request"
        )
    return [check_lexicon_name(name) for name in names]


def check_lexicon_capacity(stored_names: Collection[str], new_name: str) -> None:
    """Raise if storing ``new_name`` would go past the 100 lexicons an account may hold."""
    if new_name not in stored_names and len(stored_names) >= MAX_LEXICONS_PER_ACCOUNT:
        raise MaxLexiconsNumberExceededError(
            f"{len(stored_names)} lexicons are stored; the limit is {MAX_LEXICONS_PER_ACCOUNT}: "
            "delete one before adding another"
        )


def parse_lexicon(name: str, content: str, *, supported_languages: Collection[str] | None = None) -> Lexicon:
    """Parse and validate a PLS lexicon as Polly's ``PutLexicon`` does.

    ``supported_languages`` (voice language codes such as ``en-US``) restricts ``xml:lang``; None
    accepts any well-formed language tag. Raises :class:`LexiconSizeExceededError` (over 4,000
    characters), :class:`InvalidLexiconError`, :class:`UnsupportedPlsAlphabetError`,
    :class:`UnsupportedPlsLanguageError`, :class:`MaxLexemeLengthExceededError` (a replacement over
    100 characters) or :class:`ValidationError` (a bad name).
    """
    check_lexicon_name(name)
    check_text(content, f"lexicon {name!r}")
    if len(content) > MAX_LEXICON_CHARACTERS:
        raise LexiconSizeExceededError(
            f"lexicon {name!r} is {len(content)} characters; the limit is {MAX_LEXICON_CHARACTERS}: "
            "split it into several lexicons"
        )
    root = _parse_xml(name, content)
    if root.tag != f"{{{PLS_NAMESPACE}}}lexicon":
        raise InvalidLexiconError(
            f'lexicon {name!r}: the root element must be <lexicon xmlns="{PLS_NAMESPACE}">, '
            f"not {_plain(root.tag)}"
        )
    if root.get("version") != "1.0":
        raise InvalidLexiconError(f'lexicon {name!r}: <lexicon> needs version="1.0"')
    alphabet = _alphabet(name, root.get("alphabet"))
    language = _language(name, root.get("{http://www.w3.org/XML/1998/namespace}lang"), supported_languages)
    entries: list[LexiconEntry] = []
    lexemes = 0
    for child in root:
        tag = _plain(child.tag)
        if tag == "lexeme":
            entries.extend(_lexeme(name, child, alphabet))
            lexemes += 1
        elif tag not in ("meta", "metadata"):
            raise InvalidLexiconError(f"lexicon {name!r}: unexpected element <{tag}> in <lexicon>")
    _LOGGER.debug("parsed lexicon %s: %d graphemes", name, len(entries))
    return Lexicon(
        name=name,
        content=content,
        alphabet=alphabet,
        language=language,
        entries=tuple(entries),
        lexeme_count=lexemes,
    )


def _parse_xml(name: str, content: str) -> Element:
    try:
        # The content is already text: decode its bytes as UTF-8 whatever the XML declaration says.
        parser = SafeET.DefusedXMLParser(encoding="utf-8", forbid_dtd=True)
        parser.feed(content.encode("utf-8"))
        return parser.close()
    except ParseError as error:
        line, column = error.position
        raise InvalidLexiconError(
            f"lexicon {name!r} is not well-formed XML: {error.msg} (line {line}, column {column + 1})"
        ) from None
    except DefusedXmlException as error:
        raise InvalidLexiconError(
            f"lexicon {name!r}: DTDs, entity declarations and external references are not allowed ({error})"
        ) from None


def _plain(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _alphabet(name: str, alphabet: str | None) -> str:
    if alphabet is None:
        raise InvalidLexiconError(f'lexicon {name!r}: <lexicon> needs alphabet="ipa" or "x-sampa"')
    if alphabet not in ALPHABETS:
        raise UnsupportedPlsAlphabetError(
            f"lexicon {name!r}: alphabet {alphabet!r} is not supported; use 'ipa' or 'x-sampa'"
        )
    return alphabet


def _language(name: str, language: str | None, supported: Collection[str] | None) -> str:
    if language is None:
        raise InvalidLexiconError(f'lexicon {name!r}: <lexicon> needs xml:lang, such as "en-US"')
    if _LANGUAGE_TAG.fullmatch(language) is None:
        raise UnsupportedPlsLanguageError(f"lexicon {name!r}: {language!r} is not a language code")
    if supported is not None and language.lower() not in {code.lower() for code in supported}:
        raise UnsupportedPlsLanguageError(
            f"lexicon {name!r}: language {language!r} is not supported; "
            f"supported: {', '.join(sorted(supported))}"
        )
    return language


def _lexeme(name: str, lexeme: Element, alphabet: str) -> list[LexiconEntry]:
    graphemes: list[str] = []
    replacements: list[tuple[bool, LexiconEntry]] = []
    for child in lexeme:
        tag, text = _plain(child.tag), _WHITESPACE.sub(" ", (child.text or "").strip())
        if tag in ("grapheme", "phoneme", "alias") and not text:
            raise InvalidLexiconError(f"lexicon {name!r}: an empty <{tag}> in a lexeme")
        if tag == "grapheme":
            graphemes.append(text)
        elif tag in ("phoneme", "alias"):
            if len(text) > MAX_REPLACEMENT_CHARACTERS:
                raise MaxLexemeLengthExceededError(
                    f"lexicon {name!r}: the <{tag}> {text[:30]!r}... is {len(text)} characters; "
                    f"the limit is {MAX_REPLACEMENT_CHARACTERS}"
                )
            preferred = child.get("prefer") == "true"
            replacements.append((preferred, _replacement(name, tag, text, child.get("alphabet") or alphabet)))
        elif tag != "example":
            raise InvalidLexiconError(f"lexicon {name!r}: unexpected element <{tag}> in <lexeme>")
    if not graphemes:
        raise InvalidLexiconError(f"lexicon {name!r}: a lexeme has no <grapheme>")
    if not replacements:
        raise InvalidLexiconError(
            f"lexicon {name!r}: the lexeme for {graphemes[0]!r} has neither <phoneme> nor <alias>"
        )
    chosen = next((entry for preferred, entry in replacements if preferred), replacements[0][1])
    return [dataclasses.replace(chosen, grapheme=grapheme) for grapheme in graphemes]


def _replacement(name: str, tag: str, text: str, alphabet: str) -> LexiconEntry:
    if tag == "alias":
        return LexiconEntry(grapheme="", alias=text, alphabet=alphabet)
    alphabet = _alphabet(name, alphabet)
    if alphabet == "ipa":
        return LexiconEntry(grapheme="", phoneme=text, alphabet=alphabet, ipa=text)
    try:
        ipa = xsampa_to_ipa(text)
    except ValueError as error:
        raise InvalidLexiconError(f"lexicon {name!r}: <phoneme> {text!r}: {error}") from None
    return LexiconEntry(grapheme="", phoneme=text, alphabet=alphabet, ipa=ipa)


# -- applying lexicons ---------------------------------------------------------------------------


class TokenLike(Protocol):
    """What :func:`apply_lexicons` needs of a token: its text and its span (any consistent units)."""

    @property
    def text(self) -> str: ...

    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...


T = TypeVar("T", bound=TokenLike)


@dataclass(frozen=True)
class LexiconMatch(Generic[T]):
    """One or more consecutive input tokens, with the lexicon entry that replaces them (or None).

    ``text`` is the matched grapheme as written in the input (tokens joined, a space where their spans
    have a gap). ``entry.alias`` is text to normalise and speak instead; ``entry.ipa`` a pronunciation.
    """

    tokens: tuple[T, ...]
    text: str
    entry: LexiconEntry | None = None
    lexicon: str | None = None

    @property
    def start(self) -> int:
        return self.tokens[0].start

    @property
    def end(self) -> int:
        return self.tokens[-1].end


def apply_lexicons(
    tokens: Sequence[T], lexicons: Sequence[Lexicon], *, language: str | None = None
) -> list[LexiconMatch[T]]:
    """Find lexicon graphemes in ``tokens`` and return the tokens grouped and annotated.

    Every token that is not whitespace appears in exactly one :class:`LexiconMatch`, in order;
    whitespace-only tokens are skipped (a gap in the spans counts as a space). At each position the
    longest grapheme found in any lexicon wins; for the same grapheme, the lexicon listed first wins.
    With ``language``, lexicons of other languages are ignored, as Polly ignores them for a voice.
    """
    active = [lex for lex in lexicons if language is None or lex.applies_to(language)]
    words = [token for token in tokens if token.text.strip()]
    longest = max((lex.max_grapheme_length for lex in active), default=0)
    matches: list[LexiconMatch[T]] = []
    index = 0
    while index < len(words):
        found = _longest_match(words, index, active, longest)
        if found is None:
            matches.append(LexiconMatch(tokens=(words[index],), text=words[index].text))
            index += 1
            continue
        count, text, entry, lexicon = found
        matches.append(LexiconMatch(tuple(words[index : index + count]), text, entry, lexicon))
        index += count
    return matches


def _longest_match(
    words: Sequence[T], index: int, lexicons: Sequence[Lexicon], longest: int
) -> tuple[int, str, LexiconEntry, str] | None:
    candidates: list[tuple[int, str]] = []
    text = ""
    for end in range(index, len(words)):
        if end > index:
            text += " " if words[end].start > words[end - 1].end else ""
        text += words[end].text
        if len(text) > longest:
            break
        candidates.append((end - index + 1, text))
    for count, candidate in reversed(candidates):
        for lexicon in lexicons:
            entry = lexicon.lookup(candidate)
            if entry is not None:
                return count, candidate, entry, lexicon.name
    return None


@dataclass(frozen=True)
class SimpleToken:
    """A word or punctuation token with a character span, for callers without a normaliser."""

    text: str
    start: int
    end: int
    kind: str = "word"


_SIMPLE_TOKEN = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")


def simple_tokens(text: str) -> list[SimpleToken]:
    """Split ``text`` into words and single punctuation marks (spans in characters)."""
    return [
        SimpleToken(m.group(), m.start(), m.end(), "word" if m.group()[0].isalnum() else "punct")
        for m in _SIMPLE_TOKEN.finditer(text)
    ]


def apply_lexicons_to_text(text: str, lexicons: Iterable[Lexicon]) -> list[LexiconMatch[SimpleToken]]:
    """:func:`apply_lexicons` over :func:`simple_tokens` of ``text``."""
    return apply_lexicons(simple_tokens(text), list(lexicons))
