"""The timeline: Polly's speech-mark rules from planned words and frames per phoneme id alone.

No voice and no audio: every input is written out here, so each rule is checked on its own. Frames are
2 per id, a hop is 100 samples at 10 kHz: an id lasts 20 ms.
"""

from __future__ import annotations

import numpy as np
import pytest

from voicesmith.engine.requests import PhonemeTiming, SpokenPhonemes, WordGain
from voicesmith.engine.timeline import (
    Timeline,
    duration_scales,
    lead_samples,
    max_duration_scales,
    utterance_timeline,
)
from voicesmith.text.planner import PlannedUtterance, PlannedWord, Tone
from voicesmith.text.ssml import Mark

RATE, HOP, FRAMES = 10_000, 100, 2
MS_PER_ID = FRAMES * HOP * 1000 // RATE  # 20


def spoken(words: list[list[str]]) -> SpokenPhonemes:
    """Phonemes of ``words`` joined by spaces, ids laid out as a Piper voice does: ``^ _``, then each
    phoneme's id and a pad, then ``$``."""
    phonemes: list[str] = []
    ranges = []
    for index, word in enumerate(words):
        if index:
            phonemes.append(" ")
        ranges.append((len(phonemes), len(phonemes) + len(word)))
        phonemes.extend(word)
    spans = [(2 + 2 * i, 4 + 2 * i) for i in range(len(phonemes))]
    ids = list(range(2 + 2 * len(phonemes) + 1))
    return SpokenPhonemes(phonemes, ranges, ids, spans)


def frames(spoken_phonemes: SpokenPhonemes, per_id: int = FRAMES) -> np.ndarray:
    return np.full(len(spoken_phonemes.ids), per_id, dtype=np.int64)


SOURCE = "hi bob."
HI_BOB = [["h", "a", "ɪ"], ["b", "ɑ", "b", "."]]


def hi_bob(**utterance) -> PlannedUtterance:
    words = [PlannedWord("hi", 0, 2), PlannedWord("bob", 3, 6, punctuation=".")]
    return PlannedUtterance(words, 0, (0, 7), **utterance)


def place(utterance, offset=0, source=SOURCE, phonemes=HI_BOB, **kwargs):
    ids = spoken(phonemes)
    return utterance_timeline(
        utterance,
        offset,
        source.encode(),
        RATE,
        HOP,
        new_sentence=kwargs.pop("new_sentence", True),
        spoken=ids,
        frames_per_id=kwargs.pop("frames_per_id", frames(ids)),
        **kwargs,
    )


def test_marks_come_in_polly_order_with_times_from_the_frames() -> None:
    timeline = place(hi_bob(), emotion="happy", final=True)
    assert [(m.type, m.time, m.value) for m in timeline.marks] == [
        ("sentence", 0, "hi bob."),
        ("word", 2 * MS_PER_ID, "hi"),  # after ^ and _
        ("word", 10 * MS_PER_ID, "bob"),  # h _ a _ ɪ _ " " _ come first
        ("viseme", 2 * MS_PER_ID, "k"),
        ("viseme", 4 * MS_PER_ID, "a"),  # a + ɪ: one viseme; the space extends it
        ("viseme", 10 * MS_PER_ID, "p"),
        ("viseme", 12 * MS_PER_ID, "a"),
        ("viseme", 14 * MS_PER_ID, "p"),  # the text's last viseme is a sound: the "." is dropped
    ]
    assert timeline.marks[0].emotion == "happy"
    assert (timeline.marks[1].start, timeline.marks[1].end) == (0, 2)
    assert timeline.samples == len(spoken(HI_BOB).ids) * FRAMES * HOP
    assert timeline.timings[0] == PhonemeTiming("h", 2 * FRAMES * HOP, 2 * FRAMES * HOP)
    assert sum(t.samples for t in timeline.timings) == 16 * FRAMES * HOP  # phonemes own their pads


def test_frames_per_id_move_every_later_mark() -> None:
    uneven = frames(spoken(HI_BOB))
    uneven[3] = 12  # the pad after "h" is held 10 frames longer
    timeline = place(hi_bob(), frames_per_id=uneven)
    times = {m.value: m.time for m in timeline.marks if m.type == "word"}
    assert times == {"hi": 2 * MS_PER_ID, "bob": 10 * MS_PER_ID + 10 * HOP * 1000 // RATE}
    assert timeline.timings[0].samples == (2 + 12) * HOP


def test_a_lead_and_the_offset_shift_the_utterance() -> None:
    utterance = hi_bob(silence_before=0.5, breaths_before=2)
    assert lead_samples(utterance, RATE) == 5000 + 2 * 3500
    timeline = place(utterance, offset=1000)
    assert (timeline.offset, timeline.lead, timeline.start) == (1000, 12_000, 13_000)
    assert timeline.end == 13_000 + timeline.samples
    assert timeline.marks[0].time == 1300  # the sentence starts with the voice, after the silence
    assert timeline.timings[0].start == 13_000 + 2 * FRAMES * HOP


def test_not_final_keeps_the_closing_pause_and_no_new_sentence_no_sentence_mark() -> None:
    timeline = place(hi_bob(), new_sentence=False)
    assert [m.type for m in timeline.marks][:2] == ["word", "word"]
    assert timeline.marks[-1].value == "sil"


def test_words_read_from_one_token_give_one_word_mark() -> None:
    source = "$5 now"
    words = [PlannedWord("five", 0, 2), PlannedWord("dollars", 0, 2), PlannedWord("now", 3, 6)]
    utterance = PlannedUtterance(words, 0, (0, 6))
    timeline = place(utterance, source=source, phonemes=[["f"], ["d"], ["n"]])
    assert [(m.value, m.time) for m in timeline.marks if m.type == "word"] == [
        ("$5", 2 * MS_PER_ID),
        ("now", 10 * MS_PER_ID),  # f _ " " _ d _ " " _ come first
    ]


def test_ssml_marks_take_the_next_word_time_and_trailing_ones_the_end() -> None:
    words = hi_bob().words
    words[1].marks = [Mark("before-bob", 10, 30)]
    utterance = PlannedUtterance(words, 0, (0, 7), trailing_marks=[Mark("end", 40, 55)])
    timeline = place(utterance)
    ssml = [(m.value, m.time, m.start, m.end) for m in timeline.marks if m.type == "ssml"]
    end_ms = timeline.samples * 1000 // RATE
    assert ssml == [("before-bob", 10 * MS_PER_ID, 10, 30), ("end", end_ms, 40, 55)]
    order = [(m.type, m.value) for m in timeline.marks]
    assert order.index(("ssml", "before-bob")) == order.index(("word", "bob")) - 1
    assert order[-1] == ("ssml", "end")


def test_a_word_with_its_own_volume_gets_a_gain_over_its_samples() -> None:
    words = hi_bob().words
    words[1].gain_db = -6.0
    timeline = place(PlannedUtterance(words, 0, (0, 7)), offset=500)
    bob = [t for t in timeline.timings][4:]  # b ɑ b .
    (gain,) = timeline.word_gains
    assert gain == WordGain(bob[0].start, bob[-1].start + bob[-1].samples, pytest.approx(10 ** (-6 / 20)))


def test_a_bleep_is_a_word_and_a_pause() -> None:
    source = "oh darn"
    utterance = PlannedUtterance([], 0, (0, 7), silence_before=0.1, tone=Tone(0.4, 3, 7))
    timeline = utterance_timeline(utterance, 0, source.encode(), RATE, HOP, new_sentence=True)
    assert [(m.type, m.time, m.value) for m in timeline.marks] == [
        ("sentence", 100, "oh darn"),
        ("word", 100, "darn"),
        ("viseme", 100, "sil"),
    ]
    assert (timeline.lead, timeline.samples, timeline.timings) == (1000, 4000, [])


def test_words_need_their_phonemes_and_frames() -> None:
    with pytest.raises(ValueError, match="phonemes"):
        utterance_timeline(hi_bob(), 0, SOURCE.encode(), RATE, HOP, new_sentence=True)


def test_the_timeline_places_utterances_one_after_another() -> None:
    source = "hi bob. hi bob."
    first = hi_bob()
    second = PlannedUtterance(
        [PlannedWord("hi", 8, 10), PlannedWord("bob", 11, 14, punctuation=".")], 0, (0, 7), silence_before=0.2
    )
    third = PlannedUtterance(
        [PlannedWord("hi", 8, 10), PlannedWord("bob", 11, 14, punctuation=".")], 1, (8, 15)
    )
    timeline = Timeline(source.encode(), RATE, HOP, count=3)
    ids = spoken(HI_BOB)
    placed = [timeline.place(u, "sad", ids, frames(ids)) for u in (first, second, third)]
    assert placed[1].offset == placed[0].end and placed[2].offset == placed[1].end
    assert placed[1].start == placed[0].end + 2000
    sentences = [m for p in placed for m in p.marks if m.type == "sentence"]
    assert [(m.time, m.value, m.emotion) for m in sentences] == [
        (0, "hi bob.", "sad"),  # sentence 0 is marked once, by its first utterance
        (placed[2].start // 10, "hi bob.", "sad"),
    ]
    assert [p.marks[-1].value for p in placed] == ["sil", "sil", "p"]  # only the text's end drops it


def test_each_id_takes_the_rate_of_the_word_it_belongs_to_or_follows() -> None:
    ids = spoken([["a"], ["b"], ["c"]])  # ^ _ a _ " " _ b _ " " _ c _ $
    words = [PlannedWord("a", 0, 1), PlannedWord("b", 2, 3, rate=0.5), PlannedWord("c", 4, 5, rate=2.0)]
    scales = duration_scales(words, ids, utterance_rate=1.25)
    assert scales.dtype == np.float32
    expected_rates = [1.0] * 6 + [0.5] * 4 + [2.0] * 3  # "b" owns the pause after it; "$" goes with "c"
    assert scales == pytest.approx([1 / (1.25 * r) for r in expected_rates])


def test_max_duration_shrinks_only_the_region_over_its_budget() -> None:
    ids = spoken([["a"], ["b"], ["c"]])
    words = [
        PlannedWord("a", 0, 1),
        PlannedWord("b", 2, 3, max_duration=(100, 7)),
        PlannedWord("c", 4, 5, max_duration=(100, 7)),
    ]
    per_id = frames(ids)  # the region b _ " " _ c _ is 6 ids: 120 ms
    scales = max_duration_scales(words, ids, per_id, HOP, RATE)
    assert scales is not None
    assert scales[6:12] == pytest.approx([100 / 120] * 6)
    assert list(scales[:6]) + list(scales[12:]) == [1.0] * 7
    relaxed = [
        PlannedWord(w.text, w.start, w.end, max_duration=(500, 7) if w.max_duration else None) for w in words
    ]
    assert max_duration_scales(relaxed, ids, per_id, HOP, RATE) is None
