"""SSML parsing: tag semantics, byte spans, validation errors and hostile XML."""

from __future__ import annotations

import math

import pytest

from voicesmith.errors import (
    InvalidSsmlError,
    SsmlMarksNotSupportedForTextTypeError,
    TextLengthExceededError,
    ValidationError,
)
from voicesmith.text.ssml import (
    SILENT_DB,
    AutoBreaths,
    Break,
    Breath,
    EmotionSpec,
    Mark,
    ParagraphBoundary,
    PhonemeSpec,
    SayAs,
    SentenceBoundary,
    TextRun,
    TextStyle,
    check_speech_mark_types,
    parse_ssml,
    plain_text_document,
)


def style_of_x(body: str) -> TextStyle:
    """The style of the run whose text is 'x' in <speak>body</speak>."""
    doc = parse_ssml(f"<speak>{body}</speak>")
    runs = [run for run in doc.text_runs if run.text == "x"]
    assert len(runs) == 1, doc.items
    return runs[0].style


def attr(style: TextStyle, path: str) -> object:
    value: object = style
    for part in path.split("."):
        value = getattr(value, part)
    return value


VTL = "effects.vocal_tract_length_percent"
EMOTION = "effects.emotion"

TAG_CASES = [
    # (body, attribute path, expected)
    ("x", "emphasis", None),
    ("<emphasis>x</emphasis>", "emphasis", "moderate"),
    ('<emphasis level="strong">x</emphasis>', "emphasis", "strong"),
    ('<emphasis level="reduced">x</emphasis>', "emphasis", "reduced"),
    ('<prosody rate="x-slow">x</prosody>', "prosody.rate", 0.5),
    ('<prosody rate="slow">x</prosody>', "prosody.rate", 0.75),
    ('<prosody rate="medium">x</prosody>', "prosody.rate", 1.0),
    ('<prosody rate="fast">x</prosody>', "prosody.rate", 1.3),
    ('<prosody rate="x-fast">x</prosody>', "prosody.rate", 1.6),
    ('<prosody rate="85%">x</prosody>', "prosody.rate", 0.85),
    ('<prosody rate="20%">x</prosody>', "prosody.rate", 0.2),
    ('<prosody rate="200%">x</prosody>', "prosody.rate", 2.0),
    # Rates are relative to the voice's default, so the inner tag replaces the outer one.
    ('<prosody rate="slow"><prosody rate="150%">x</prosody></prosody>', "prosody.rate", 1.5),
    ('<prosody rate="slow"><prosody volume="loud">x</prosody></prosody>', "prosody.rate", 0.75),
    ('<prosody volume="loud">x</prosody>', "prosody.volume_db", 6.0),
    ('<prosody volume="x-soft">x</prosody>', "prosody.volume_db", -12.0),
    ('<prosody volume="-6dB">x</prosody>', "prosody.volume_db", -6.0),
    ('<prosody volume="+1.5dB">x</prosody>', "prosody.volume_db", 1.5),
    ('<prosody volume="+3dB"><prosody volume="+3dB">x</prosody></prosody>', "prosody.volume_db", 6.0),
    ('<prosody volume="loud"><prosody volume="+2dB">x</prosody></prosody>', "prosody.volume_db", 8.0),
    ('<prosody volume="loud"><prosody volume="default">x</prosody></prosody>', "prosody.volume_db", 0.0),
    ('<prosody volume="silent">x</prosody>', "prosody.volume_db", SILENT_DB),
    ('<prosody pitch="high">x</prosody>', "prosody.pitch_semitones", 3.0),
    ('<prosody pitch="x-low">x</prosody>', "prosody.pitch_semitones", -6.0),
    ('<prosody pitch="+10%">x</prosody>', "prosody.pitch_semitones", 12 * math.log2(1.1)),
    ('<prosody pitch="-2st">x</prosody>', "prosody.pitch_semitones", -2.0),
    ('<prosody pitch="+20Hz">x</prosody>', "prosody.pitch_hz", 20.0),
    ('<prosody pitch="x-low"><prosody pitch="+1st">x</prosody></prosody>', "prosody.pitch_semitones", -5.0),
    ('<prosody amazon:max-duration="2s">x</prosody>', "prosody.max_duration_ms", 2000),
    ('<prosody amazon:max-duration="1500ms">x</prosody>', "prosody.max_duration_ms", 1500),
    ('<prosody amazon:max-duration="2s">x</prosody>', "prosody.max_duration_id", 7),
    ('<say-as interpret-as="cardinal">x</say-as>', "say_as", SayAs("cardinal")),
    ('<say-as interpret-as="characters">x</say-as>', "say_as", SayAs("characters")),
    ('<say-as interpret-as="date" format="dmy">x</say-as>', "say_as", SayAs("date", "dmy")),
    ('<say-as interpret-as="telephone" detail="1">x</say-as>', "say_as", SayAs("telephone", None, "1")),
    ('<sub alias="World Wide Web">x</sub>', "sub_alias", "World Wide Web"),
    ('<phoneme alphabet="ipa" ph="pɪˈkɑːn">x</phoneme>', "phoneme", PhonemeSpec("ipa", "pɪˈkɑːn")),
    (
        '<phoneme alphabet="x-sampa" ph="pI&quot;kA:n">x</phoneme>',
        "phoneme",
        PhonemeSpec("x-sampa", 'pI"kA:n'),
    ),
    ('<phoneme ph="pɪˈkɑːn">x</phoneme>', "phoneme.alphabet", "ipa"),
    ('<lang xml:lang="fr-FR">x</lang>', "lang", "fr-FR"),
    ('<p xml:lang="de-DE"><s>x</s></p>', "lang", "de-DE"),
    ('<w role="amazon:VBD">x</w>', "w_role", "amazon:VBD"),
    ('<w role="amazon:SENSE_1">x</w>', "w_role", "amazon:SENSE_1"),
    ('<amazon:effect name="whispered">x</amazon:effect>', "effects.whispered", True),
    ('<amazon:effect name="drc">x</amazon:effect>', "effects.drc", True),
    ('<amazon:effect phonation="soft">x</amazon:effect>', "effects.soft_phonation", True),
    ('<amazon:effect vocal-tract-length="+10%">x</amazon:effect>', VTL, 110.0),
    ('<amazon:effect vocal-tract-length="90%">x</amazon:effect>', VTL, 90.0),
    (
        '<amazon:effect vocal-tract-length="+10%"><amazon:effect vocal-tract-length="+10%">x'
        "</amazon:effect></amazon:effect>",
        VTL,
        121.0,
    ),
    ('<amazon:effect vocal-tract-length="+150%">x</amazon:effect>', VTL, 200.0),
    ('<amazon:effect vocal-tract-length="-60%">x</amazon:effect>', VTL, 50.0),
    ('<amazon:domain name="news">x</amazon:domain>', "effects.domain", "news"),
    ('<amazon:domain name="conversational">x</amazon:domain>', "effects.domain", "conversational"),
    (
        '<amazon:emotion name="excited" intensity="high">x</amazon:emotion>',
        EMOTION,
        EmotionSpec("excited", 1.5),
    ),
    ('<amazon:emotion name="sad" intensity="low">x</amazon:emotion>', EMOTION, EmotionSpec("sad", 0.5)),
    ('<amazon:emotion name="disappointed">x</amazon:emotion>', EMOTION, EmotionSpec("disappointed", 1.0)),
    ('<mstts:express-as style="angry">x</mstts:express-as>', EMOTION, EmotionSpec("angry", 1.0)),
    (
        '<mstts:express-as style="cheerful" styledegree="0.5">x</mstts:express-as>',
        EMOTION,
        EmotionSpec("cheerful", 0.5),
    ),
    ("<amazon:auto-breaths>x</amazon:auto-breaths>", "effects.auto_breaths", AutoBreaths()),
    (
        '<amazon:auto-breaths volume="x-loud" frequency="low" duration="x-short">x</amazon:auto-breaths>',
        "effects.auto_breaths",
        AutoBreaths(volume="x-loud", frequency="low", duration="x-short"),
    ),
    (
        '<amazon:emotion name="happy"><amazon:effect name="whispered"><prosody rate="slow">x'
        "</prosody></amazon:effect></amazon:emotion>",
        EMOTION,
        EmotionSpec("happy", 1.0),
    ),
]


@pytest.mark.parametrize(("body", "path", "expected"), TAG_CASES)
def test_tag_sets_the_style_of_enclosed_text(body: str, path: str, expected: object) -> None:
    value = attr(style_of_x(body), path)
    if isinstance(expected, float):
        assert value == pytest.approx(expected)
    else:
        assert value == expected


def test_phoneme_spec_gives_ipa_for_either_alphabet() -> None:
    assert style_of_x('<phoneme alphabet="x-sampa" ph="t@\'meItoU">x</phoneme>').phoneme.ipa == "təˈmeɪtoʊ"
    assert style_of_x('<phoneme alphabet="ipa" ph="təˈmeɪtoʊ">x</phoneme>').phoneme.ipa == "təˈmeɪtoʊ"


def test_style_ends_with_the_tag() -> None:
    doc = parse_ssml('<speak><prosody rate="slow" volume="loud">a</prosody>b</speak>')
    slow, plain = doc.text_runs
    assert slow.prosody.rate == 0.75 and slow.prosody.volume_db == 6.0
    assert plain.style == TextStyle()


def test_speak_lang_is_inherited_and_recorded() -> None:
    doc = parse_ssml('<speak xml:lang="en-GB">a<lang xml:lang="fr-FR">b</lang>c</speak>')
    assert doc.lang == "en-GB"
    assert [run.lang for run in doc.text_runs] == ["en-GB", "fr-FR", "en-GB"]


def test_namespaces_and_xml_declaration_are_accepted() -> None:
    ssml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<speak version="1.1" xmlns="http://www.w3.org/2001/10/synthesis" '
        'xmlns:mstts="https://www.w3.org/2001/mstts" xml:lang="en-US">'
        '<mstts:express-as style="sad">hi</mstts:express-as></speak>'
    )
    (run,) = parse_ssml(ssml).text_runs
    assert run.style.effects.emotion == EmotionSpec("sad", 1.0)


BREAK_CASES = [
    ("<break/>", 250, None, False),
    ('<break strength="none"/>', 0, "none", False),
    ('<break strength="x-weak"/>', 0, "x-weak", False),
    ('<break strength="weak"/>', 250, "weak", False),
    ('<break strength="medium"/>', 250, "medium", False),
    ('<break strength="strong"/>', 500, "strong", False),
    ('<break strength="x-strong"/>', 1000, "x-strong", False),
    ('<break time="3s"/>', 3000, None, True),
    ('<break time="1.5s"/>', 1500, None, True),
    ('<break time="250ms"/>', 250, None, True),
    ('<break time="10s"/>', 10000, None, True),
    ('<break time="10000ms"/>', 10000, None, True),
    ('<break time="700ms" strength="weak"/>', 700, "weak", True),
    ("<break></break>", 250, None, False),
    ('<break time="2s"> </break>', 2000, None, True),
]


@pytest.mark.parametrize(("tag", "ms", "strength", "timed"), BREAK_CASES)
def test_break_duration(tag: str, ms: int, strength: str | None, timed: bool) -> None:
    ssml = f"<speak>a{tag}b</speak>"
    doc = parse_ssml(ssml)
    (brk,) = [item for item in doc if isinstance(item, Break)]
    assert (brk.time_ms, brk.strength, brk.timed) == (ms, strength, timed)
    assert ssml.encode()[brk.start : brk.end] == tag.encode()


def test_items_come_in_document_order_with_their_source_spans() -> None:
    ssml = (
        "<speak><p><s>Hello <mark name='m1'/>world.</s></p>"
        '<amazon:breath duration="long" volume="x-loud"/><amazon:breath/></speak>'
    )
    doc = parse_ssml(ssml)
    source = ssml.encode()
    kinds = [type(item).__name__ for item in doc]
    assert kinds == [
        "ParagraphBoundary",
        "SentenceBoundary",
        "TextRun",
        "Mark",
        "TextRun",
        "SentenceBoundary",
        "ParagraphBoundary",
        "Breath",
        "Breath",
    ]
    assert [source[item.start : item.end] for item in doc] == [
        b"<p>",
        b"<s>",
        b"Hello ",
        b"<mark name='m1'/>",
        b"world.",
        b"</s>",
        b"</p>",
        b'<amazon:breath duration="long" volume="x-loud"/>',
        b"<amazon:breath/>",
    ]
    assert [item.opening for item in doc if isinstance(item, SentenceBoundary | ParagraphBoundary)] == [
        True,
        True,
        False,
        False,
    ]
    assert doc.marks == (Mark("m1", 19, 36),)
    breaths = [item for item in doc if isinstance(item, Breath)]
    assert [(b.duration, b.volume) for b in breaths] == [("long", "x-loud"), ("medium", "medium")]


SPAN_CASES = [
    "<speak>Héllo wörld, naïve café — 日本語 😀.</speak>",
    "<speak>Fish &amp; chips &lt;3 &quot;yes&quot; &#233;t&#xE9;</speak>",
    "<speak>one\r\ntwo<break/>三 <emphasis>fünf &amp; sechs</emphasis></speak>",
    '<speak><sub alias="x">W3C</sub> <say-as interpret-as="cardinal">1,234</say-as><![CDATA[a<b]]>.</speak>',
    "<speak>a<!-- a comment -->b<?pi data?>c</speak>",
]


@pytest.mark.parametrize("ssml", SPAN_CASES)
def test_every_run_spans_its_own_source_bytes(ssml: str) -> None:
    source = ssml.encode()
    doc = parse_ssml(ssml)
    assert doc.text_runs
    for run in doc.text_runs:
        piece = source[run.start : run.end].decode()
        assert "<" not in piece.replace("<![CDATA[", "").replace("a<b", "")
        unescaped = (
            piece.replace("\r\n", "\n")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&quot;", '"')
            .replace("&#233;", "é")
            .replace("&#xE9;", "é")
        )
        assert unescaped == run.text


def test_byte_span_maps_characters_through_entities_and_non_ascii() -> None:
    ssml = "<speak>Fish &amp; chips café</speak>"
    source = ssml.encode()
    (run,) = parse_ssml(ssml).text_runs
    assert run.text == "Fish & chips café"

    def src(start: int, end: int) -> bytes:
        a, b = run.byte_span(start, end)
        return source[a:b]

    assert src(0, 4) == b"Fish"
    assert src(5, 6) == b"&amp;"
    assert src(7, 12) == b"chips"
    assert src(13, 17) == "café".encode()
    assert src(0, len(run.text)) == source[run.start : run.end]
    assert src(3, 3) == b""
    assert src(5, 5) == b""
    with pytest.raises(IndexError):
        run.byte_span(0, 99)


def test_byte_span_over_many_lines_and_entities() -> None:
    lines = [f"line {i} &amp; caf\u00e9" for i in range(300)]
    ssml = "<speak>" + "\r\n".join(lines) + "</speak>"
    source = ssml.encode()
    (run,) = parse_ssml(ssml).text_runs
    position = 0
    for i in range(300):
        word = f"line {i}"
        char = run.text.index(word, position)
        start, end = run.byte_span(char, char + len(word))
        assert source[start:end] == word.encode()
        amp = run.text.index("&", char)
        assert source[slice(*run.byte_span(amp, amp + 1))] == b"&amp;"
        position = char + len(word)


def test_plain_text_document_is_one_run_over_the_input() -> None:
    text = "Héllo & <not a tag>"
    doc = plain_text_document(text)
    assert not doc.is_ssml
    (run,) = doc.items
    assert isinstance(run, TextRun) and run.text == text
    assert (run.start, run.end) == (0, len(text.encode()))
    assert run.byte_span(1, 2) == (1, 3)
    assert plain_text_document("").items == ()


INVALID_CASES = [
    # (ssml, words the message must contain, line, column)
    ("<speak>Fish & chips</speak>", "&amp;", 1, 14),
    ("<speak>a &nbsp; b</speak>", "undefined entity", 1, 10),
    ("hello <speak>x</speak>", "outside <speak>", 1, 1),
    ("<speak>x</speak> trailing", "inside <speak>", 1, 18),
    ("<speak>x", "no element found", 1, 9),
    ("<speak><p>x</speak>", "mismatched tag", 1, 14),
    ("<voice>x</voice>", "root element must be <speak>", 1, 1),
    ("<speak><speak>x</speak></speak>", "only be the root", 1, 8),
    ("<speak>\n  <audio src='a.mp3'/></speak>", "unsupported tag <audio>", 2, 3),
    ("<speak><voice name='Joanna'>x</voice></speak>", "unsupported tag <voice>", 1, 8),
    ("<speak><foo>x</foo></speak>", "unsupported tag <foo>", 1, 8),
    ("<speak><amazon:foo>x</amazon:foo></speak>", "unsupported tag <amazon:foo>", 1, 8),
    ("<speak bogus='1'>x</speak>", "no attribute 'bogus'", 1, 1),
    ("<speak><break size='1'/></speak>", "no attribute 'size'", 1, 8),
    ("<speak><break time='11s'/></speak>", "maximum of 10000 ms", 1, 8),
    ("<speak><break time='10001ms'/></speak>", "maximum of 10000 ms", 1, 8),
    ("<speak><break time='soon'/></speak>", "not a duration", 1, 8),
    ("<speak><break time='-1s'/></speak>", "not a duration", 1, 8),
    ("<speak><break strength='huge'/></speak>", "break strength", 1, 8),
    ("<speak><break>text</break></speak>", "must be empty", 1, 15),
    ("<speak><break> <mark name='a'/></break></speak>", "only text", 1, 16),
    ("<speak><mark/></speak>", "needs the attribute 'name'", 1, 8),
    ("<speak><mark name=' '/></speak>", "mark name is empty", 1, 8),
    ("<speak><emphasis level='loud'>x</emphasis></speak>", "emphasis level", 1, 8),
    ("<speak><prosody>x</prosody></speak>", "at least one of", 1, 8),
    ("<speak><prosody rate='250%'>x</prosody></speak>", "outside 20%-200%", 1, 8),
    ("<speak><prosody rate='10%'>x</prosody></speak>", "outside 20%-200%", 1, 8),
    ("<speak><prosody rate='quick'>x</prosody></speak>", "prosody rate", 1, 8),
    ("<speak><prosody volume='6dB'>x</prosody></speak>", "prosody volume", 1, 8),
    ("<speak><prosody volume='+6'>x</prosody></speak>", "prosody volume", 1, 8),
    ("<speak><prosody pitch='+5dB'>x</prosody></speak>", "prosody pitch", 1, 8),
    ("<speak><prosody pitch='-100%'>x</prosody></speak>", "above -100%", 1, 8),
    ("<speak><prosody amazon:max-duration='long'>x</prosody></speak>", "amazon:max-duration", 1, 8),
    ("<speak><say-as>x</say-as></speak>", "'interpret-as'", 1, 8),
    ("<speak><say-as interpret-as='money'>x</say-as></speak>", "say-as interpret-as", 1, 8),
    ("<speak><say-as interpret-as='date' format='yy'>x</say-as></speak>", "date format", 1, 8),
    ("<speak><say-as interpret-as='digits'><break/>1</say-as></speak>", "only text", 1, 38),
    ("<speak><say-as interpret-as='digits'> </say-as></speak>", "must contain the text", 1, 39),
    ("<speak><sub>W3C</sub></speak>", "'alias'", 1, 8),
    ("<speak><phoneme alphabet='ipa'>x</phoneme></speak>", "'ph'", 1, 8),
    ("<speak><phoneme alphabet='arpabet' ph='T AH'>x</phoneme></speak>", "phoneme alphabet", 1, 8),
    ("<speak><phoneme ph=' '>x</phoneme></speak>", "ph is empty", 1, 8),
    ("<speak><phoneme alphabet='x-sampa' ph='t@#'>x</phoneme></speak>", "not an X-SAMPA symbol", 1, 8),
    ("<speak><w role='verb'>x</w></speak>", "w role", 1, 8),
    ("<speak><lang>x</lang></speak>", "'xml:lang'", 1, 8),
    ("<speak><lang xml:lang='english!'>x</lang></speak>", "language tag", 1, 8),
    ("<speak><s><p>x</p></s></speak>", "<p> cannot be inside", 1, 11),
    ("<speak><p><p>x</p></p></speak>", "<p> cannot be inside", 1, 11),
    ("<speak><s><s>x</s></s></speak>", "<s> cannot be inside", 1, 11),
    ("<speak><amazon:effect>x</amazon:effect></speak>", "at least one of", 1, 8),
    ("<speak><amazon:effect name='robot'>x</amazon:effect></speak>", "amazon:effect name", 1, 8),
    ("<speak><amazon:effect phonation='loud'>x</amazon:effect></speak>", "phonation", 1, 8),
    ("<speak><amazon:effect vocal-tract-length='big'>x</amazon:effect></speak>", "vocal-tract-length", 1, 8),
    ("<speak><amazon:domain name='sports'>x</amazon:domain></speak>", "amazon:domain name", 1, 8),
    ("<speak><amazon:emotion intensity='high'>x</amazon:emotion></speak>", "'name'", 1, 8),
    ("<speak><amazon:emotion name='sad' intensity='max'>x</amazon:emotion></speak>", "intensity", 1, 8),
    ("<speak><amazon:emotion name='no way'>x</amazon:emotion></speak>", "amazon:emotion name", 1, 8),
    ("<speak><mstts:express-as style='sad' styledegree='3'>x</mstts:express-as></speak>", "degree", 1, 8),
    ("<speak><amazon:breath duration='forever'/></speak>", "duration", 1, 8),
    ("<speak><amazon:auto-breaths frequency='often'>x</amazon:auto-breaths></speak>", "frequency", 1, 8),
]


@pytest.mark.parametrize(("ssml", "words", "line", "column"), INVALID_CASES)
def test_invalid_ssml_is_rejected_with_position(ssml: str, words: str, line: int, column: int) -> None:
    with pytest.raises(InvalidSsmlError) as caught:
        parse_ssml(ssml)
    error = caught.value
    assert words in error.message
    assert (error.line, error.column) == (line, column)
    assert error.polly_type == "InvalidSsmlException" and error.status == 400


def test_error_position_on_a_later_line() -> None:
    ssml = "<speak>\n  <p>\n    Hello <break time='20s'/>\n  </p>\n</speak>"
    with pytest.raises(InvalidSsmlError) as caught:
        parse_ssml(ssml)
    assert (caught.value.line, caught.value.column) == (3, 11)
    assert "line 3, column 11" in str(caught.value)


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE speak ['
    '<!ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
    + "]><speak>&j;</speak>"
)
HOSTILE = [
    BILLION_LAUGHS,
    '<!DOCTYPE speak [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><speak>&xxe;</speak>',
    '<!DOCTYPE speak SYSTEM "http://example.com/evil.dtd"><speak>x</speak>',
    '<!DOCTYPE speak [<!ENTITY % p SYSTEM "http://example.com/p.dtd"> %p;]><speak>x</speak>',
    "<!DOCTYPE speak><speak>x</speak>",
    "<speak>&xxe;</speak>",
]


@pytest.mark.timeout(10)
@pytest.mark.parametrize("ssml", HOSTILE)
def test_entity_and_dtd_payloads_are_rejected(ssml: str) -> None:
    with pytest.raises(InvalidSsmlError) as caught:
        parse_ssml(ssml)
    assert caught.value.line is not None


def test_input_over_the_size_cap_is_refused_before_parsing() -> None:
    ssml = "<speak>" + "a" * 100 + "</speak>"
    assert parse_ssml(ssml, max_bytes=len(ssml)).text == "a" * 100
    with pytest.raises(TextLengthExceededError):
        parse_ssml(ssml, max_bytes=len(ssml) - 1)
    # the cap counts UTF-8 bytes, not characters
    with pytest.raises(TextLengthExceededError):
        parse_ssml("<speak>ééé</speak>", max_bytes=18)


def test_deep_nesting_parses() -> None:
    ssml = "<speak>" + "<emphasis>" * 500 + "x" + "</emphasis>" * 500 + "</speak>"
    assert parse_ssml(ssml).text == "x"


@pytest.mark.parametrize(
    ("text_type", "types", "error"),
    [
        ("ssml", ["ssml", "word"], None),
        ("text", ["word", "sentence", "viseme"], None),
        ("text", ["ssml"], SsmlMarksNotSupportedForTextTypeError),
        ("text", ["phoneme"], ValidationError),
        ("xml", ["word"], ValidationError),
    ],
)
def test_speech_mark_types_follow_the_text_type(text_type: str, types: list[str], error: type | None) -> None:
    if error is None:
        assert check_speech_mark_types(text_type, types) == frozenset(types)
    else:
        with pytest.raises(error):
            check_speech_mark_types(text_type, types)
