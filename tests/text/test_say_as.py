"""Behaviour of voicesmith.text.normalize.say_as (Amazon Polly's <say-as> values)."""

from __future__ import annotations

import pytest

from voicesmith.errors import InvalidSsmlError
from voicesmith.text.normalize import say_as, spoken_text

CASES: list[tuple[str, str, str | None, str]] = [
    ("abc", "characters", None, "A B C"),
    ("NASA", "spell-out", None, "N A S A"),
    ("A1-b", "characters", None, "A one dash B"),
    ("café", "characters", None, "C A F É"),
    ("1234", "cardinal", None, "one thousand two hundred thirty four"),
    ("1,234", "number", None, "one thousand two hundred thirty four"),
    ("-12.5", "cardinal", None, "minus twelve point five"),
    ("2024", "cardinal", None, "two thousand twenty four"),
    ("3", "ordinal", None, "third"),
    ("22nd", "ordinal", None, "twenty second"),
    ("101", "ordinal", None, "one hundred first"),
    ("12345", "digits", None, "one two three four five"),
    ("0042", "digits", None, "zero zero four two"),
    ("3/4", "fraction", None, "three quarters"),
    ("1/2", "fraction", None, "one half"),
    ("2+1/2", "fraction", None, "two and a half"),
    ("2 3/8", "fraction", None, "two and three eighths"),
    ("10 kg", "unit", None, "ten kilograms"),
    ("1kg", "unit", None, "one kilogram"),
    ("5 km/h", "unit", None, "five kilometers per hour"),
    ("-3°C", "unit", None, "minus three degrees Celsius"),
    ("03/05/2024", "date", "mdy", "March fifth twenty twenty four"),
    ("05/03/2024", "date", "dmy", "March fifth twenty twenty four"),
    ("2024-03-05", "date", "ymd", "March fifth twenty twenty four"),
    ("03/05/2024", "date", None, "March fifth twenty twenty four"),
    ("0305", "date", "md", "March fifth"),
    ("05/03", "date", "dm", "March fifth"),
    ("2024/03", "date", "ym", "March twenty twenty four"),
    ("03/24", "date", "my", "March twenty four"),
    ("5", "date", "d", "the fifth"),
    ("3", "date", "m", "March"),
    ("1999", "date", "y", "nineteen ninety nine"),
    ("20240305", "date", "yyyymmdd", "March fifth twenty twenty four"),
    ("1'21\"", "time", None, "one minute twenty one seconds"),
    ("2h 30'", "time", None, "two hours thirty minutes"),
    ("9:30", "time", None, "nine thirty"),
    ("9:30 pm", "time", None, "nine thirty PM"),
    ("1234 Main St., Springfield", "address", None, "twelve thirty four Main street, Springfield"),
    ("10 N. Elm Dr.", "address", None, "ten north Elm drive"),
    ("555-123-4567", "telephone", None, "five five five, one two three, four five six seven"),
    ("+1 555 123 4567", "telephone", None, "plus one, five five five, one two three, four five six seven"),
    ("(555) 123-4567", "telephone", None, "five five five, one two three, four five six seven"),
    ("  42  ", "cardinal", None, "forty two"),
    ("abc", "cardinal", None, "abc"),  # content that does not fit is read as text, as Polly does
    ("13/45/2024", "date", "mdy", "thirteen forty five over two thousand twenty four"),
]


@pytest.mark.parametrize(("text", "interpret_as", "fmt", "expected"), CASES)
def test_say_as_reading(text: str, interpret_as: str, fmt: str | None, expected: str) -> None:
    assert spoken_text(say_as(text, interpret_as, fmt)) == expected


@pytest.mark.parametrize(("text", "interpret_as", "fmt", "expected"), CASES)
def test_say_as_spans_stay_inside_the_content(
    text: str, interpret_as: str, fmt: str | None, expected: str
) -> None:
    raw = text.encode()
    tokens = say_as(text, interpret_as, fmt, base_offset=7)
    assert tokens
    for token in tokens:
        source = raw[token.start - 7 : token.end - 7].decode()
        assert source and (source.strip() == source or token.kind == "punct"), token
        assert 0 <= token.start - 7 <= token.end - 7 <= len(raw)


def test_expletive_is_one_bleep_over_the_content() -> None:
    tokens = say_as("  damn  ", "expletive", base_offset=10)
    assert [(t.text, t.start, t.end, t.kind) for t in tokens] == [("", 12, 16, "bleep")]
    assert spoken_text(tokens) == ""


def test_characters_span_each_character_in_bytes() -> None:
    tokens = say_as("é1", "characters")
    assert [(t.text, t.start, t.end) for t in tokens] == [("É", 0, 2), ("one", 2, 3)]


def test_interpret_as_is_case_insensitive() -> None:
    assert spoken_text(say_as("7", "Cardinal")) == "seven"


def test_unknown_interpret_as_is_invalid_ssml() -> None:
    with pytest.raises(InvalidSsmlError, match="interpret-as='roman'.*characters"):
        say_as("XIV", "roman")


def test_unknown_date_format_is_invalid_ssml() -> None:
    with pytest.raises(InvalidSsmlError, match="format='ddmmyyyy'.*mdy"):
        say_as("05032024", "date", "ddmmyyyy")


def test_blank_content_reads_as_nothing() -> None:
    assert say_as("   ", "cardinal") == []
