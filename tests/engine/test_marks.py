"""Speech marks as Polly writes them: the viseme table's merges, the order of marks, the JSON lines."""

from __future__ import annotations

import json

from voicesmith.engine.marks import SpeechMark, marks_to_json_lines, sort_marks, visemes


def timed(symbols: str | list[str], step: int = 10) -> list[tuple[str, int, int]]:
    return [(s, i * step, step) for i, s in enumerate(symbols)]


def names(phonemes) -> list[str]:
    return [v for v, _, _ in visemes(phonemes)]


def test_diphthongs_and_affricates_written_as_two_symbols_are_one_viseme() -> None:
    out = visemes(timed(["t", "ʃ", "a", "ɪ", "d", "ʒ", "o", "ʊ"]))
    assert out == [("S", 0, 20), ("a", 20, 20), ("S", 40, 20), ("o", 60, 20)]


def test_stress_length_and_unknown_symbols_extend_the_viseme_before_them() -> None:
    out = visemes(timed(["ˈ", "b", "ɑ", "ː", "ʔ", "?"]))
    # a leading stress has nothing to extend; the length mark and the glottal stop lengthen "a"
    assert out == [("p", 10, 10), ("a", 20, 30), ("sil", 50, 10)]


def test_equal_visemes_stay_apart_and_only_pauses_merge() -> None:
    assert names(timed("lɪtəl")) == ["t", "i", "t", "@", "t"]  # "little": t i t ... as Polly says it
    assert names(timed(["p", "b", "m"])) == ["p", "p", "p"]
    out = visemes(timed(["a", ",", " ", ".", "b"]))
    assert out == [("a", 0, 10), ("sil", 10, 30), ("p", 40, 10)]  # , space . -> one pause


def test_the_texts_last_pause_is_dropped_only_at_the_end() -> None:
    phonemes = timed(["h", "aɪ", "."])
    assert names(phonemes) == ["k", "a", "sil"]
    assert names(phonemes[:2]) == ["k", "a"]
    assert [v for v, _, _ in visemes(phonemes, final=True)] == ["k", "a"]


def test_marks_sort_by_time_then_sentence_word_and_ssml_in_document_order_then_viseme() -> None:
    marks = [
        SpeechMark(0, "viseme", 0, 0, "sil"),
        SpeechMark(5, "word", 12, 15, "two"),
        SpeechMark(0, "word", 6, 9, "one"),
        SpeechMark(0, "ssml", 0, 6, "m"),
        SpeechMark(0, "sentence", 0, 20, "one two"),
    ]
    assert [(m.time, m.type, m.value) for m in sort_marks(marks)] == [
        (0, "sentence", "one two"),
        (0, "ssml", "m"),  # the mark tag comes before the word in the input
        (0, "word", "one"),
        (0, "viseme", "sil"),
        (5, "word", "two"),
    ]


def test_json_lines_are_pollys_shape() -> None:
    lines = marks_to_json_lines(
        [SpeechMark(3, "sentence", 0, 6, "héllo.", emotion="happy"), SpeechMark(4, "viseme", 0, 0, "k")]
    )
    assert lines.endswith(b"\n") and "héllo".encode() in lines  # UTF-8, not \u escapes
    first, second = (json.loads(line) for line in lines.splitlines())
    assert list(first) == ["time", "type", "start", "end", "value", "emotion"]
    assert second == {"time": 4, "type": "viseme", "value": "k"}
