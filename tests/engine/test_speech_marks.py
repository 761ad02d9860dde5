"""Speech marks: Polly's JSON lines, byte offsets into the input, times from the voice's durations."""

from __future__ import annotations

import json

import numpy as np
import pytest

from voicesmith.engine.marks import marks_to_json_lines
from voicesmith.engine.requests import SynthesisRequest
from voicesmith.errors import InvalidSsmlError, ValidationError
from voicesmith.text.lexicon import parse_lexicon

POLLY_VISEMES = set("p t S T f k i r s u @ a e E o O".split()) | {"sil"}


def _words(marks):
    return [m for m in marks if m.type == "word"]


def test_word_marks_point_at_the_source_bytes(synthesizer):
    text = "Café owners paid €5 for 3 kg of coffee."
    marks = synthesizer.speech_marks(SynthesisRequest(text=text), ["word", "sentence"])
    source = text.encode()
    words = _words(marks)
    assert [source[m.start : m.end].decode() for m in words] == [
        "Café",
        "owners",
        "paid",
        "€5",
        "for",
        "3",
        "kg",
        "of",
        "coffee",
    ]
    assert [m.value for m in words] == [source[m.start : m.end].decode() for m in words]
    sentence = [m for m in marks if m.type == "sentence"][0]
    assert (sentence.start, sentence.end, sentence.time) == (0, len(source), 0)
    times = [m.time for m in words]
    assert times == sorted(times) and len(set(times)) == len(times)


def test_marks_equal_the_marks_of_the_audio_request(synthesizer):
    request = SynthesisRequest(text="First sentence here. And a second one, with a comma!", seed=3)
    alone = synthesizer.speech_marks(request)
    with_audio = synthesizer.synthesize(request).marks
    assert alone == with_audio
    assert {m.type for m in alone} == {"sentence", "word", "viseme"}
    assert {m.value for m in alone if m.type == "viseme"} <= POLLY_VISEMES


def test_json_lines_have_pollys_fields(synthesizer):
    marks = synthesizer.speech_marks(SynthesisRequest(text="Hello world."))
    lines = [json.loads(line) for line in marks_to_json_lines(marks).decode().splitlines()]
    assert lines[0] == {"time": 0, "type": "sentence", "start": 0, "end": 12, "value": "Hello world."}
    assert set(lines[1]) == {"time", "type", "start", "end", "value"}
    assert any(set(line) == {"time", "type", "value"} and line["type"] == "viseme" for line in lines)


def test_times_hold_after_breaks_and_rate_changes(synthesizer):
    plain = _words(
        synthesizer.speech_marks(SynthesisRequest(text="<speak>one two three</speak>", text_type="ssml"))
    )
    broken = _words(
        synthesizer.speech_marks(
            SynthesisRequest(text='<speak>one <break time="2s"/> two three</speak>', text_type="ssml")
        )
    )
    slow = _words(
        synthesizer.speech_marks(
            SynthesisRequest(
                text='<speak>one <prosody rate="50%">two</prosody> three</speak>', text_type="ssml"
            )
        )
    )
    assert broken[1].time - plain[1].time >= 1900
    # Ceil() on each phoneme id's duration keeps 50 % rate from quite doubling short phonemes.
    assert (slow[2].time - slow[1].time) > 1.3 * (plain[2].time - plain[1].time)
    assert slow[0].time == plain[0].time


def test_times_match_the_audio(synthesizer):
    """Each word mark falls where the audio of the utterance has that word's phonemes."""
    result = synthesizer.synthesize(SynthesisRequest(text="Alpha. <break/> Bravo.".replace("<break/>", "")))
    for mark in _words(result.marks):
        sample = int(mark.time * result.sample_rate / 1000)
        assert 0 <= sample < len(result.audio)
    assert abs(result.marks[-1].time / 1000 - result.duration) < 1.0


def test_ssml_marks_and_sentences_from_tags(synthesizer):
    ssml = '<speak><s>Hi <mark name="m1"/>there</s><s>Bye now</s><mark name="end"/></speak>'
    marks = synthesizer.speech_marks(SynthesisRequest(text=ssml, text_type="ssml"))
    source = ssml.encode()
    ssml_marks = [m for m in marks if m.type == "ssml"]
    assert [m.value for m in ssml_marks] == ["m1", "end"]
    assert source[ssml_marks[0].start : ssml_marks[0].end] == b'<mark name="m1"/>'
    there = next(m for m in _words(marks) if m.value == "there")
    assert ssml_marks[0].time == there.time
    assert ssml_marks[1].time >= max(m.time for m in marks if m.type != "ssml")
    assert [m.value for m in marks if m.type == "sentence"] == ['Hi <mark name="m1"/>there', "Bye now"]


def test_money_reads_as_several_words_but_marks_once(synthesizer):
    marks = _words(synthesizer.speech_marks(SynthesisRequest(text="It costs $5.20 today.")))
    assert [m.value for m in marks] == ["It", "costs", "$5.20", "today"]


def test_same_request_same_marks_every_time(synthesizer):
    request = SynthesisRequest(text="Determinism is what makes two calls agree.")
    assert synthesizer.speech_marks(request) == synthesizer.speech_marks(request)


def test_lexicon_alias_and_pronunciation_change_what_is_said(synthesizer):
    lexicon = parse_lexicon(
        "tech",
        """<?xml version="1.0" encoding="UTF-8"?>
<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon"
         alphabet="ipa" xml:lang="en-US">
  <lexeme><grapheme>W3C</grapheme><alias>World Wide Web Consortium</alias></lexeme>
  <lexeme><grapheme>tomato</grapheme><phoneme>təˈmɑːtoʊ</phoneme></lexeme>
</lexicon>""",
    )
    text = "The W3C likes tomato soup."
    plain = synthesizer.synthesize(SynthesisRequest(text=text))
    with_lexicon = synthesizer.synthesize(SynthesisRequest(text=text, lexicons=(lexicon,)))
    assert with_lexicon.duration > plain.duration + 0.3  # the alias is much longer than "W 3 C"
    phonemes = "".join(t.phoneme for t in with_lexicon.phonemes)
    assert "təmˈɑːtoʊ" in phonemes and "təmˈeɪɾoʊ" not in phonemes
    assert [m.value for m in _words(with_lexicon.marks)][1] == "W3C"


def test_max_duration_shortens_the_region(synthesizer):
    long_text = "this sentence has quite a few words in it to say"
    free = synthesizer.synthesize(SynthesisRequest(text=f"<speak>{long_text}</speak>", text_type="ssml"))
    capped = synthesizer.synthesize(
        SynthesisRequest(
            text=f'<speak><prosody amazon:max-duration="1500ms">{long_text}</prosody></speak>',
            text_type="ssml",
        )
    )
    assert free.duration > 2.0
    assert capped.duration < 1.9


def test_expletive_is_bleeped(synthesizer):
    result = synthesizer.synthesize(
        SynthesisRequest(
            text='<speak>Oh <say-as interpret-as="expletive">darn</say-as> it.</speak>', text_type="ssml"
        )
    )
    spectrum = np.abs(np.fft.rfft(result.audio))
    freqs = np.fft.rfftfreq(len(result.audio), 1 / result.sample_rate)
    assert freqs[np.argmax(spectrum)] == pytest.approx(1000, abs=5)
    assert "darn" in [m.value for m in _words(result.marks)]


def test_whisper_effect_changes_only_its_part(synthesizer):
    plain = synthesizer.synthesize(SynthesisRequest(text="<speak>keep this secret</speak>", text_type="ssml"))
    whispered = synthesizer.synthesize(
        SynthesisRequest(
            text='<speak><amazon:effect name="whispered">keep this secret</amazon:effect></speak>',
            text_type="ssml",
        )
    )
    assert len(whispered.audio) == len(plain.audio)
    assert np.sqrt(np.mean(whispered.audio**2)) < np.sqrt(np.mean(plain.audio**2))


def test_bad_ssml_and_mark_types_are_rejected(synthesizer):
    with pytest.raises(InvalidSsmlError, match="line 1"):
        synthesizer.speech_marks(SynthesisRequest(text="<speak>unclosed", text_type="ssml"))
    with pytest.raises(ValidationError, match="unknown speech mark types"):
        synthesizer.speech_marks(SynthesisRequest(text="hi"), ["word", "phoneme"])
