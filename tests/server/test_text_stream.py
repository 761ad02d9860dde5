"""The segmenter of streaming text in: text in pieces -> the segments to speak, as each completes."""

from __future__ import annotations

from voicesmith.server import text_stream
from voicesmith.server.text_stream import TextSegmenter


def feed_all(segmenter: TextSegmenter, pieces: list[str], **options) -> list[list[str]]:
    return [segmenter.feed(piece, **options) for piece in pieces]


def test_a_sentence_is_out_once_whitespace_follows_its_end():
    segmenter = TextSegmenter()
    out = feed_all(segmenter, ["Hel", "lo there.", " How ", "are you? I am", " fine"])
    assert out == [[], [], ["Hello there."], ["How are you?"], []]
    assert segmenter.flush() == ["I am fine"] and segmenter.pending == ""


def test_abbreviations_wait_for_the_next_word():
    segmenter = TextSegmenter()
    assert segmenter.feed("Please ask Dr. ") == []
    assert segmenter.feed("Smith. ") == ["Please ask Dr. Smith."]
    assert segmenter.feed("It is 3.") == [] and segmenter.feed("5 m long. ") == ["It is 3.5 m long."]


def test_clauses_on_the_schedule_and_on_a_trigger():
    segmenter = TextSegmenter(schedule=[40, 80])
    assert segmenter.feed("This is a clause, and this is ") == []  # under 40 characters
    assert segmenter.feed("another one, still going ") == ["This is a clause, and this is another one,"]
    assert segmenter.feed("on and on, ") == []  # the next cut waits for 80
    assert segmenter.feed("then it stops, done", trigger=True) == ["still going on and on, then it stops,"]
    assert segmenter.flush() == ["done"]
    assert TextSegmenter().feed("No schedule, no cut, at all ") == []


def test_clear_drops_what_is_pending():
    segmenter = TextSegmenter()
    segmenter.feed("Half a sent")
    segmenter.clear()
    assert segmenter.pending == "" and segmenter.flush() == []


def test_a_long_run_without_ends_is_not_rescanned_per_piece(monkeypatch):
    calls = []
    real = text_stream.split_sentences
    monkeypatch.setattr(text_stream, "split_sentences", lambda *a: calls.append(1) or real(*a))
    segmenter = TextSegmenter(schedule=[120])
    for _ in range(3000):
        segmenter.feed("word ")
    assert calls == [] and len(segmenter.pending) == 15000
    assert segmenter.feed("end. ") == ["word " * 3000 + "end."] and len(calls) <= 2
