"""Behaviour of voicesmith.text.normalize.normalize: what is spoken, and where each word came from."""

from __future__ import annotations

import random
import re

import pytest

from voicesmith.errors import LanguageNotSupportedError
from voicesmith.text.normalize import (
    LanguageRules,
    Piece,
    Token,
    _core,
    get_language_rules,
    normalize,
    register_language,
    spoken_text,
)
from voicesmith.text.sentences import split_sentences

CASES: list[tuple[str, str]] = [
    # plain text, punctuation, case
    ("Hello, world!", "Hello, world!"),
    ("Is it raining? Yes; it is: very.", "Is it raining? Yes; it is: very."),
    ("HELLO WORLD", "HELLO WORLD"),
    ("state-of-the-art design", "state-of-the-art design"),
    ("I don’t know.", "I don't know."),
    ("Wait... what?", "Wait, what?"),
    ("And then…", "And then."),
    ("Yes — no — maybe", "Yes, no, maybe"),
    ("one -- two", "one, two"),
    ("one - two", "one, two"),
    ('"Quoted" words (in brackets) [too]', "Quoted words in brackets too"),
    ("Great job 😀🎉!", "Great job!"),
    ("Really?!", "Really?"),
    ("Stop!!!", "Stop!"),
    ("café crème", "café crème"),
    # cardinals, decimals, negatives
    ("I have 3 apples.", "I have three apples."),
    ("0", "zero"),
    ("42", "forty two"),
    ("100", "one hundred"),
    ("101 dalmatians", "one hundred one dalmatians"),
    ("1,234,567", "one million two hundred thirty four thousand five hundred sixty seven"),
    ("12,000 fans", "twelve thousand fans"),
    ("1.234", "one point two three four"),
    ("3.14", "three point one four"),
    ("0.5", "zero point five"),
    (".5", "point five"),
    ("-5", "minus five"),
    ("It is -3.5 now", "It is minus three point five now"),
    ("+7", "plus seven"),
    ("007", "zero zero seven"),
    ("1995 people", "one thousand nine hundred ninety five people"),
    ("1000000", "one million"),
    (
        "12345678901234567890",
        "one two three four five six seven eight nine zero one two three four five six seven eight nine zero",
    ),
    ("version 1.2.3", "version one point two point three"),
    ("10.0.0.1", "ten dot zero dot zero dot one"),
    # ordinals
    ("1st", "first"),
    ("2nd place", "second place"),
    ("the 22nd", "the twenty second"),
    ("103rd", "one hundred third"),
    ("11th", "eleventh"),
    ("21st century", "twenty first century"),
    # fractions
    ("1/2", "one half"),
    ("3/4", "three quarters"),
    ("5/8", "five eighths"),
    ("1/3 cup", "one third cup"),
    ("2 1/2", "two and a half"),
    ("1 3/4 miles", "one and three quarters miles"),
    ("½", "one half"),
    ("2½", "two and a half"),
    ("open 24/7", "open twenty four seven"),
    # percentages
    ("50%", "fifty percent"),
    ("3.5 %", "three point five percent"),
    ("100% sure", "one hundred percent sure"),
    ("10-12%", "ten to twelve percent"),
    # currency
    ("$5.20", "five dollars and twenty cents"),
    ("$5", "five dollars"),
    ("$1", "one dollar"),
    ("$1.00", "one dollar"),
    ("$0.99", "ninety nine cents"),
    ("$0.01", "one cent"),
    ("$1,234.56", "one thousand two hundred thirty four dollars and fifty six cents"),
    ("$1M", "one million dollars"),
    ("$2.5 billion", "two point five billion dollars"),
    ("$3k", "three thousand dollars"),
    ("€3.50", "three euros and fifty cents"),
    ("€1", "one euro"),
    ("£2.50", "two pounds and fifty pence"),
    ("£1.01", "one pound and one penny"),
    ("¥1000", "one thousand yen"),
    ("-$5", "minus five dollars"),
    ("5€", "five euros"),
    ("$5-$10", "five dollars to ten dollars"),
    ("café €5", "café five euros"),
    # years, decades
    ("in 1995", "in nineteen ninety five"),
    ("In 1995, it rained.", "In nineteen ninety five, it rained."),
    ("It happened in 2005.", "It happened in two thousand five."),
    ("since 2010", "since twenty ten"),
    ("by 1900", "by nineteen hundred"),
    ("in 1905", "in nineteen oh five"),
    ("in 1066", "in ten sixty six"),
    ("the year 2000", "the year two thousand"),
    ("in 2000 people", "in two thousand people"),
    ("2024 apples", "two thousand twenty four apples"),
    ("the 1990s", "the nineteen nineties"),
    ("the 1900s", "the nineteen hundreds"),
    ("the 2000s", "the two thousands"),
    ("the '80s", "the eighties"),
    ("the 1960's", "the nineteen sixties"),
    # ranges
    ("1990–1995", "nineteen ninety to nineteen ninety five"),
    ("1990-1995", "nineteen ninety to nineteen ninety five"),
    ("1990–95", "nineteen ninety to ninety five"),
    ("pages 10-12", "pages ten to twelve"),
    ("5–10 kg", "five to ten kilograms"),
    ("ages 3 – 5", "ages three to five"),
    # dates
    ("2024-03-05", "March fifth twenty twenty four"),
    ("03/05/2024", "March fifth twenty twenty four"),
    ("13/05/2024", "May thirteenth twenty twenty four"),
    ("12/25/99", "December twenty fifth ninety nine"),
    ("March 5, 2024", "March fifth, twenty twenty four"),
    ("on March 5", "on March fifth"),
    ("5 March 2024", "the fifth of March twenty twenty four"),
    ("Mar. 5th", "March fifth"),
    ("Sept. 11", "September eleventh"),
    ("the 3rd of May", "the third of May"),
    ("3rd of May", "the third of May"),
    ("March 2024", "March twenty twenty four"),
    ("May I help?", "May I help?"),
    # times
    ("9:30", "nine thirty"),
    ("at 9:30 a.m. we met", "at nine thirty AM we met"),
    ("9:30pm", "nine thirty PM"),
    ("21:05", "twenty one oh five"),
    ("12:00 noon", "twelve noon"),
    ("10:00", "ten o'clock"),
    ("9 am", "nine AM"),
    ("7 p.m. sharp", "seven PM sharp"),
    ("at 5 P.M.", "at five PM."),
    ("9:30:15", "nine thirty and fifteen seconds"),
    # phone numbers
    ("(555) 123-4567", "five five five, one two three, four five six seven"),
    ("555-123-4567", "five five five, one two three, four five six seven"),
    ("+1 555 123 4567", "plus one, five five five, one two three, four five six seven"),
    ("1-800-555-0199", "one, eight zero zero, five five five, zero one nine nine"),
    ("Call 555.123.4567 now", "Call five five five, one two three, four five six seven now"),
    # units
    ("5 kg", "five kilograms"),
    ("1 kg", "one kilogram"),
    ("2.5kg", "two point five kilograms"),
    ("100 km", "one hundred kilometers"),
    ("60 km/h", "sixty kilometers per hour"),
    ("30 mph", "thirty miles per hour"),
    ("3 m", "three meters"),
    ("1 m", "one meter"),
    ("4 cm", "four centimeters"),
    ("2 mm", "two millimeters"),
    ("500 MB", "five hundred megabytes"),
    ("1 GB", "one gigabyte"),
    ("64 KB", "sixty four kilobytes"),
    ("2 TB", "two terabytes"),
    ("20°C", "twenty degrees Celsius"),
    ("1 °C", "one degree Celsius"),
    ("-5 °F", "minus five degrees Fahrenheit"),
    ("250 ml", "two hundred fifty milliliters"),
    ("2 l", "two liters"),
    ("3 lb", "three pounds"),
    ("4 oz", "four ounces"),
    ("6 ft", "six feet"),
    ("1 ft", "one foot"),
    ("12in", "twelve inches"),
    ("a 12 in. board", "a twelve inch board"),
    ("5 in the box", "five in the box"),
    ("1 in 10 people", "one in ten people"),
    ("50 Hz", "fifty hertz"),
    ("3 kHz", "three kilohertz"),
    ("60 W", "sixty watts"),
    ("2 kW", "two kilowatts"),
    ("12 V", "twelve volts"),
    ("500 mA", "five hundred milliamps"),
    ("3 s", "three seconds"),
    ("20 ms", "twenty milliseconds"),
    ("2 h", "two hours"),
    ("5 min", "five minutes"),
    ("1 min", "one minute"),
    ("90°", "ninety degrees"),
    ("50 yrs", "fifty years"),
    ("Tel: +44 20 7946 0958", "Tel: plus four four, two zero, seven nine four six, zero nine five eight"),
    # abbreviations and titles
    ("Dr. Smith", "doctor Smith"),
    ("Dr Smith", "doctor Smith"),
    ("I saw Dr. Jones today", "I saw doctor Jones today"),
    ("123 Elm Dr.", "one hundred twenty three Elm drive."),
    ("Elm Dr. is closed", "Elm drive is closed"),
    ("St. Louis", "saint Louis"),
    ("Main St. is busy", "Main street is busy"),
    ("He lives on Main St. He is happy.", "He lives on Main street. He is happy."),
    ("Mr. and Mrs. Jones", "mister and missus Jones"),
    ("Ms. Lee", "miz Lee"),
    ("Prof. Brown", "professor Brown"),
    ("John Smith Jr.", "John Smith junior."),
    ("Tom Smith Sr. was here", "Tom Smith senior was here"),
    ("vol. 3", "volume three"),
    ("Gen. Grant", "general Grant"),
    ("Capt. Kirk", "captain Kirk"),
    ("Lt. Col. Smith", "lieutenant colonel Smith"),
    ("Sgt. Pepper", "sergeant Pepper"),
    ("apples, pears, etc.", "apples, pears, et cetera."),
    ("apples etc. are good", "apples et cetera are good"),
    ("cats vs. dogs", "cats versus dogs"),
    ("approx. 5 kg", "approximately five kilograms"),
    ("the sales dept. is", "the sales department is"),
    ("fruit, e.g. apples", "fruit, for example apples"),
    ("one, i.e. the first", "one, that is the first"),
    ("Acme Inc. is big", "Acme incorporated is big"),
    ("Acme Ltd.", "Acme limited."),
    ("Smith & Co. is old", "Smith and company is old"),
    ("No. 5", "number five"),
    ("I said no.", "I said no."),
    ("Park Ave.", "Park avenue."),
    ("Sunset Blvd. is long", "Sunset boulevard is long"),
    ("Abbey Rd.", "Abbey road."),
    ("J. R. R. Tolkien", "J R R Tolkien"),
    ("in the U.S. The end", "in the U S. The end"),
    ("the U.S. Army", "the U S Army"),
    ("Est. 1890", "established eighteen ninety"),
    ("Mon. through Fri.", "Monday through Friday."),
    ("I said wed. no", "I said wed. no"),
    ("He is 6 ft 2 in tall.", "He is six feet two inches tall."),
    ("about 1.5M users", "about one point five million users"),
    ("a 2bn deal", "a two billion deal"),
    ("Ratio 16:9", "Ratio sixteen to nine"),
    ("AT&T", "A T and T"),
    ("100s of people", "hundreds of people"),
    ("1000s", "thousands"),
    ("a 640x480 screen", "a six hundred forty by four hundred eighty screen"),
    ("2 x 4 boards", "two by four boards"),
    # Roman numerals
    ("Henry VIII", "Henry the eighth"),
    ("Louis XIV", "Louis the fourteenth"),
    ("Elizabeth II", "Elizabeth the second"),
    ("Elizabeth I", "Elizabeth the first"),
    ("Chapter IV", "Chapter four"),
    ("World War II", "World War two"),
    ("World War I", "World War one"),
    ("Super Bowl LVII", "Super Bowl fifty seven"),
    ("I think I can", "I think I can"),
    ("MIX it", "MIX it"),
    ("DIV tag", "DIV tag"),
    # acronyms
    ("NASA", "NASA"),
    ("FBI", "F B I"),
    ("USA", "U S A"),
    ("the BBC", "the B B C"),
    ("NATO allies", "NATO allies"),
    ("CEOs", "C E O's"),
    ("a GPU", "a G P U"),
    ("MP3", "M P three"),
    ("COVID-19", "COVID nineteen"),
    ("BTW, FYI", "B T W, F Y I"),
    ("Washington, D.C. is here", "Washington, D C is here"),
    # URLs and e-mail
    ("www.example.com/docs", "w w w dot example dot com slash docs"),
    ("Visit example.com.", "Visit example dot com."),
    ("https://example.org", "h t t p s colon slash slash example dot org"),
    ("jane.doe@example.com", "jane dot doe at example dot com"),
    ("Mail info@acme.co.uk today", "Mail info at acme dot co dot u k today"),
    # symbols
    ("R&D", "R and D"),
    ("salt & pepper", "salt and pepper"),
    ("meet @ noon", "meet at noon"),
    ("#1 hit", "number one hit"),
    ("#blessed", "hashtag blessed"),
    ("2 + 2 = 4", "two plus two equals four"),
    ("~5 km", "about five kilometers"),
    ("5 × 3", "five times three"),
    ("© 2024", "copyright twenty twenty four"),
    # mixed sentences
    (
        "Dr. Smith paid $5.20 on 2024-03-05.",
        "doctor Smith paid five dollars and twenty cents on March fifth twenty twenty four.",
    ),
    ("The meeting is at 3:45 p.m. in Room 12.", "The meeting is at three forty five PM in Room twelve."),
    # house numbers with letters, codes, street types (issue 11)
    ("221B Baker St.", "two hundred twenty one B Baker street."),
    ("He lives at 221B Baker Street.", "He lives at two hundred twenty one B Baker Street."),
    ("I live at 10B Elm St.", "I live at ten B Elm street."),
    ("Room 101B", "Room one hundred one B"),
    ("Apt 4B is upstairs.", "apartment four B is upstairs."),
    ("Apt. 4B is on the left.", "apartment four B is on the left."),
    ("Ste. 200", "suite two hundred"),
    ("#12B", "number twelve B"),
    ("Unit 7A, 12 High St., London", "Unit seven A, twelve High street, London"),
    ("B2B sales", "B two B sales"),
    ("the B52s", "the B fifty twos"),
    ("Watch it in 4K.", "Watch it in four K."),
    ("A 3D film.", "A three D film."),
    ("Print on A4 paper.", "Print on A four paper."),
    ("the G7 summit", "the G seven summit"),
    ("1.5B users", "one point five billion users"),
    ("We sold 3M units.", "We sold three million units."),
    ("He raised $5B.", "He raised five billion dollars."),
    ("the 1st, 2nd, 3rd and 4th", "the first, second, third and fourth"),
    ("Turn onto Baker St and stop.", "Turn onto Baker street and stop."),
    ("Meet me on 5th Ave at noon.", "Meet me on fifth avenue at noon."),
    ("22nd St. and 3rd Ave.", "twenty second street and third avenue."),
    ("St. Paul's Cathedral", "saint Paul's Cathedral"),
    ("She moved to St. Louis.", "She moved to saint Louis."),
    ("St Andrews", "saint Andrews"),
    ("He lives on Elm St. Paul lives on Oak Ave.", "He lives on Elm street. Paul lives on Oak avenue."),
    ("Use a 12V battery.", "Use a twelve volt battery."),
    ("It is an 8 kg weight.", "It is an eight kilogram weight."),
    ("It weighs 8 kg.", "It weighs eight kilograms."),
]


def _spoken(text: str, language: str = "en-US") -> str:
    return spoken_text(normalize(text, language))


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[case[0] for case in CASES])
def test_spoken_text(text: str, expected: str) -> None:
    assert _spoken(text) == expected


@pytest.mark.parametrize("text", [case[0] for case in CASES])
def test_spans_point_at_the_source(text: str) -> None:
    tokens = normalize(text)
    _check_invariants(text, tokens)
    raw = text.encode("utf-8")
    for token in tokens:
        source = raw[token.start : token.end].decode("utf-8")  # spans fall on character boundaries
        if token.kind != "word":
            continue
        assert source and source.strip() == source, (token, source)
        # a span never cuts a word or a number in half
        before = raw[: token.start].decode("utf-8")[-1:]
        after = raw[token.end :].decode("utf-8")[:1]
        assert not (before.isalpha() and source[0].isalpha()) and not (
            before.isdigit() and source[0].isdigit()
        )
        assert not (after.isalpha() and source[-1].isalpha()) and not (
            after.isdigit() and source[-1].isdigit()
        )
        if token.text.replace("'", "").isalpha() and token.text in text.replace("’", "'"):
            # a word spoken as written comes from a piece that holds it (not from a neighbour)
            assert token.text in source.replace("’", "'") or not source.isalpha(), (token, source)


SPANS: list[tuple[str, list[tuple[str, str]]]] = [
    ("café €5", [("café", "café"), ("five", "€5"), ("euros", "€5")]),
    (
        "Dr. Smith paid $5.20.",
        [("doctor", "Dr."), ("Smith", "Smith"), ("paid", "paid")]
        + [(w, "$5.20") for w in "five dollars and twenty cents".split()]
        + [(".", ".")],
    ),
    (
        "naïve 1995 people",
        [("naïve", "naïve")]
        + [(w, "1995") for w in "one thousand nine hundred ninety five".split()]
        + [("people", "people")],
    ),
    ("über 5 kg", [("über", "über"), ("five", "5"), ("kilograms", "kg")]),
    ("Zoë’s 3rd", [("Zoë's", "Zoë’s"), ("third", "3rd")]),
    (
        "March 5, 2024",
        [("March", "March"), ("fifth", "5"), (",", ",")]
        + [(w, "2024") for w in "twenty twenty four".split()],
    ),
    ("日本 and FBI", [("日本", "日本"), ("and", "and"), ("F", "FBI"), ("B", "FBI"), ("I", "FBI")]),
    (
        "(555) 123-4567",
        [("five", "555")] * 3
        + [(",", ")")]
        + [(w, "123") for w in ("one", "two", "three")]
        + [(",", "-")]
        + [(w, "4567") for w in ("four", "five", "six", "seven")],
    ),
    (
        "jane@ex.com",
        [("jane", "jane"), ("at", "@"), ("e", "ex"), ("x", "ex"), ("dot", "."), ("com", "com")],
    ),
    ("apples, etc.", [("apples", "apples"), (",", ","), ("et", "etc"), ("cetera", "etc"), (".", ".")]),
    ("Henry VIII", [("Henry", "Henry"), ("the", "VIII"), ("eighth", "VIII")]),
    ("at 9:30 a.m.", [("at", "at"), ("nine", "9:30"), ("thirty", "9:30"), ("AM", "a.m"), (".", ".")]),
    ("10–12 € 😀 naïve", [("ten", "10"), ("to", "–"), ("twelve", "12"), ("euros", "€"), ("naïve", "naïve")]),
    ("5 March", [("the", "5"), ("fifth", "5"), ("of", "March"), ("March", "March")]),
    # a run of marks merges into the strongest, spanning them all
    ("«Ça va?» — oui", [("Ça", "Ça"), ("va", "va"), ("?", "?» —"), ("oui", "oui")]),
]


@pytest.mark.parametrize(("text", "expected"), SPANS, ids=[case[0] for case in SPANS])
def test_each_word_maps_to_its_source_bytes(text: str, expected: list[tuple[str, str]]) -> None:
    raw = text.encode("utf-8")
    got = [(token.text, raw[token.start : token.end].decode("utf-8")) for token in normalize(text)]
    assert got == expected


def test_base_offset_shifts_every_span() -> None:
    plain = normalize("Zoë paid €5.")
    shifted = normalize("Zoë paid €5.", base_offset=100)
    assert [(t.start + 100, t.end + 100, t.text) for t in plain] == [
        (t.start, t.end, t.text) for t in shifted
    ]
    assert plain[-1].end == len("Zoë paid €5.".encode())


def test_tokens_are_frozen_and_typed() -> None:
    token = normalize("Hi.")[0]
    assert token == Token("Hi", 0, 2, "word")
    with pytest.raises(AttributeError):
        token.text = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("03/05/2024", "the third of May twenty twenty four"),
        ("2024-03-05", "the fifth of March twenty twenty four"),
        ("101 dalmatians", "one hundred and one dalmatians"),
    ],
)
def test_british_english(text: str, expected: str) -> None:
    assert _spoken(text, "en-GB") == expected


def test_language_variants_and_unknown_languages() -> None:
    assert _spoken("42", "en") == _spoken("42", "en-AU") == "forty two"
    with pytest.raises(LanguageNotSupportedError, match="xx-YY"):
        normalize("hello", "xx-YY")


def test_empty_and_blank_text() -> None:
    assert normalize("") == []
    assert normalize(" \n\t ") == []
    assert normalize('😀 () ""') == []


@pytest.mark.parametrize("text", ["9" * 5000, "$" + "9" * 6000 + ".99", "9" * 5000 + "th", "9,999," * 1000])
def test_huge_numbers_are_read_digit_by_digit(text: str) -> None:
    tokens = normalize(text)
    _check_invariants(text, tokens)
    assert sum(token.text == "nine" for token in tokens) >= 3000


def _check_invariants(text: str, tokens: list[Token]) -> None:
    size = len(text.encode("utf-8", "surrogatepass"))
    previous_start = previous_end = 0
    for token in tokens:
        assert token.kind in ("word", "punct", "bleep")
        assert 0 <= token.start <= token.end <= size, token
        assert token.start >= previous_start and token.end >= previous_end, (tokens, text)
        previous_start, previous_end = token.start, token.end
        if token.kind == "word":
            assert token.text and token.start < token.end
            assert token.text.strip() == token.text and " " not in token.text
        if token.kind == "punct":
            assert token.text in {",", ".", "!", "?", ";", ":"}


_ALPHABET = (
    list("abcXYZ019 .,;:!?-–—/()$€£¥%°@#&+=~'\"’…\n")
    + [
        "Dr.",
        "St.",
        "e.g.",
        "U.S.",
        "1995",
        "3.5",
        "1/2",
        "kg",
        "km/h",
        "in",
        "a.m.",
        "12:30",
        "www.",
        ".com",
    ]
    + ["é", "ß", "日", "😀", "\u0301", "½", "²", "Ⅻ", "٣", "\u200d", "\ud800", "VIII", "March", "May"]
)


def test_normalize_never_raises_and_keeps_invariants_on_random_text() -> None:
    rng = random.Random(20240305)
    for _ in range(400):
        text = "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 30)))
        _check_invariants(text, normalize(text))


class _ShoutingRules(LanguageRules):
    """A toy language: every whitespace-separated word is spoken upper-case; "|" ends a sentence."""

    codes = ("x-shout",)

    def normalize(self, text: str) -> list[Piece]:
        return [Piece(m[0].upper(), m.start(), m.end()) for m in re.finditer(r"[^\s|]+", text)]

    def say_as(self, text, interpret_as, format, detail):
        return self.normalize(text)

    def is_sentence_end(self, text, punct_start, punct_end):
        return True


def test_a_language_plugs_in_through_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_core, "_REGISTRY", dict(_core._REGISTRY))
    register_language(_ShoutingRules())
    assert get_language_rules("X-Shout").codes == ("x-shout",)
    tokens = normalize("grüß dich", "x-shout", base_offset=3)
    assert [(t.text, t.start, t.end) for t in tokens] == [("GRÜSS", 3, 9), ("DICH", 10, 14)]
    assert [s.text for s in split_sentences("a. b! c", "x-shout")] == ["a.", "b!", "c"]
    assert spoken_text(normalize("1", "en-US")) == "one"  # English is untouched
