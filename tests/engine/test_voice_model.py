"""The synthesizer against the VoiceModel protocol: speech-mark times and chunk order from fixed
durations, with a fake model instead of the 60 MB voice (fast: no ONNX session is created)."""

from __future__ import annotations

import numpy as np
import pytest
from engine.fake_model import FRAMES_PER_ID, HOP, RATE, FakeCatalog, FakeModel

from voicesmith.engine.model import VoiceModel
from voicesmith.engine.requests import SynthesisRequest
from voicesmith.engine.synthesizer import FIRST_WINDOW_FRAMES, Synthesizer
from voicesmith.settings import Settings

MS_PER_ID = FRAMES_PER_ID * HOP * 1000 / RATE  # 48 ms


@pytest.fixture()
def fake(data_dir):
    catalog = FakeCatalog(Settings())
    return Synthesizer(catalog.settings, catalog), catalog.model


def test_the_fake_is_a_voice_model():
    assert isinstance(FakeModel(), VoiceModel)


def test_word_marks_follow_the_frames_of_each_id(fake):
    synthesizer, _ = fake
    marks = synthesizer.speech_marks(SynthesisRequest(text="ab cd."), ["sentence", "word"])
    # ids: ^ _ a _ b _ " " _ c _ d _ . _ $ -> "ab" starts at id 2, "cd" at id 8
    assert [(m.type, m.value, m.time) for m in marks] == [
        ("sentence", "ab cd.", 0),
        ("word", "ab", round(2 * MS_PER_ID)),
        ("word", "cd", round(8 * MS_PER_ID)),
    ]


def test_ssml_marks_and_rate_changes_move_the_times(fake):
    synthesizer, _ = fake
    text = '<speak>ab <mark name="here"/><prosody rate="50%">cd</prosody> ef.</speak>'
    marks = synthesizer.speech_marks(SynthesisRequest(text=text, text_type="ssml"), ["word", "ssml"])
    assert [(m.type, m.value) for m in marks] == [
        ("word", "ab"),
        ("ssml", "here"),
        ("word", "cd"),
        ("word", "ef"),
    ]
    times = {m.value: m.time for m in marks}
    assert times["here"] == times["cd"] == round(8 * MS_PER_ID)
    plain = synthesizer.speech_marks(SynthesisRequest(text="ab cd ef."), ["word"])
    plain_gap = plain[2].time - plain[1].time  # c _ d _ " " _: 6 ids
    assert plain_gap == round(6 * MS_PER_ID)
    # "cd" at half speed: at least its own ids (c _ d _) take twice the frames, at most all six
    assert plain_gap + 4 * MS_PER_ID - 1 <= times["ef"] - times["cd"] <= 2 * plain_gap + 1


def test_audio_chunks_are_the_frames_in_order_with_marks_on_the_first(fake):
    synthesizer, model = fake
    request = SynthesisRequest(text="the quick brown fox jumps over the lazy dog again and again.")
    chunks = list(synthesizer.stream(request))
    ids = 2 + 2 * len("the quick brown fox jumps over the lazy dog again and again.") + 1
    audio = np.concatenate([c.audio for c in chunks])
    assert len(audio) == ids * FRAMES_PER_ID * HOP
    assert model.decoded_windows[0] == (0, FIRST_WINDOW_FRAMES)  # the first window is short
    frames = np.round(audio[::HOP] * 10_000).astype(int)
    assert np.array_equal(frames, np.arange(ids * FRAMES_PER_ID))  # every frame once, in order
    assert chunks[0].marks and not any(c.marks for c in chunks[1:])
    assert [c.offset for c in chunks] == list(np.cumsum([0] + [len(c.audio) for c in chunks[:-1]]))
    assert synthesizer.speech_marks(request) == synthesizer.synthesize(request).marks


def test_rate_divides_the_voice_length_scale(fake):
    synthesizer, _ = fake
    normal = synthesizer.synthesize(SynthesisRequest(text="ab cd.")).audio
    fast = synthesizer.synthesize(SynthesisRequest(text="ab cd.", rate=2.0)).audio
    assert len(fast) / len(normal) == pytest.approx(2 / 3)  # ceil(3 / 2) = 2 frames per id


def test_breaks_and_breaths_move_the_later_marks_by_exactly_their_length(fake):
    synthesizer, _ = fake

    def marks(pause: str):
        text = f"<speak>ab cd.{pause} ef gh.</speak>"
        return synthesizer.speech_marks(SynthesisRequest(text=text, text_type="ssml"), ["word", "viseme"])

    short, long = marks('<break time="200ms"/>'), marks('<break time="1400ms"/><amazon:breath/>')
    shift = 1200 + round(int(0.35 * RATE) * 1000 / RATE)
    assert len(short) == len(long)
    first_later = next(i for i, m in enumerate(short) if m.value == "ef")
    assert [m.time for m in long[:first_later]] == [m.time for m in short[:first_later]]
    assert [m.time for m in long[first_later:]] == [m.time + shift for m in short[first_later:]]


def test_a_request_s_marks_come_sorted_across_utterances(fake):
    synthesizer, _ = fake
    text = '<speak><mark name="start"/>ab <prosody pitch="+2st">cd</prosody> ef. Gh.</speak>'
    marks = synthesizer.speech_marks(SynthesisRequest(text=text, text_type="ssml"))
    assert [(m.type, m.value) for m in marks[1:3]] == [("ssml", "start"), ("word", "ab")]
    assert (marks[0].type, marks[0].time) == ("sentence", 0)
    assert marks[1].time == marks[2].time == round(2 * MS_PER_ID)  # the mark takes its word's time
    assert [m.time for m in marks] == sorted(m.time for m in marks)
    sentences = [m for m in marks if m.type == "sentence"]
    assert [m.value for m in sentences] == ['ab <prosody pitch="+2st">cd</prosody> ef.', "Gh."]
    # the pitch change cuts the first sentence into three utterances, the sentence is marked once
    assert marks[-1].type == "viseme" and marks[-1].value != "sil"


def test_a_bleep_is_a_tone_in_the_stream_where_its_word_mark_says(fake):
    synthesizer, _ = fake
    text = '<speak>ab <say-as interpret-as="expletive">cd</say-as> ef.</speak>'
    result = synthesizer.synthesize(SynthesisRequest(text=text, text_type="ssml"))
    bleep = next(m for m in result.marks if m.type == "word" and m.value == "cd")
    start = bleep.time * RATE // 1000
    tone = result.audio[start + 100 : start + 1000]
    assert np.abs(tone).max() > 0.2  # a -12 dBFS sine, not the fake voice's ramp (< 0.1)
    assert result.audio[:start].max() < 0.1
