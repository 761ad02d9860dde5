"""Where each utterance goes in the stream, and the speech marks that say what is said when.

Pure functions of a planned utterance and the frames its phoneme ids last (the encoder's durations):
no voice is loaded and no audio is made here, so Amazon Polly's speech-mark rules are tested alone.
Those rules, as implemented:

- times are milliseconds from the start of the audio, rounded; every utterance starts after its lead
  (``<break>`` silence, paragraph pauses, ``amazon:breath``);
- a ``sentence`` mark starts the first utterance of each sentence, at the first sound, its value the
  sentence as written (SSML tags included) and its emotion the one it is spoken with;
- a ``word`` mark per word at its first phoneme; words read from one written token ("$5.20" -> five
  dollars and twenty cents) share its span and give one mark; a bleep gives the word it replaces;
- ``ssml`` marks (``<mark name>``) take the time of the word after them, or the end of the audio after
  the last word;
- visemes follow the phonemes (:func:`voicesmith.engine.marks.visemes`); a bleep and punctuation give
  ``sil``, and the text's last viseme is a sound, not a closing ``sil``;
- the marks of an utterance are made in that order; :func:`voicesmith.engine.marks.sort_marks` puts a
  request's marks in Polly's order (time, then sentence, word/ssml, viseme).

:class:`Timeline` places a request's utterances one after another; :func:`duration_scales` and
:func:`max_duration_scales` are the rate and ``amazon:max-duration`` factors the encoder applies.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from voicesmith.engine.marks import SpeechMark, visemes
from voicesmith.engine.requests import PhonemeTiming, SpokenPhonemes, UtteranceTimeline, WordGain
from voicesmith.engine.synthetic_audio import BREATH_SECONDS
from voicesmith.text.planner import PlannedUtterance, PlannedWord


def milliseconds(samples: int, sample_rate: int) -> int:
    """A stream position as a speech-mark time."""
    return int(round(samples * 1000 / sample_rate))


def lead_samples(utterance: PlannedUtterance, sample_rate: int) -> int:
    """Samples of silence (and breaths, at its end) before ``utterance``."""
    breath = int(BREATH_SECONDS * sample_rate)
    return int(round(utterance.silence_before * sample_rate)) + utterance.breaths_before * breath


def tone_samples(utterance: PlannedUtterance, sample_rate: int) -> int:
    """Samples of a bleep utterance's tone."""
    assert utterance.tone is not None
    return int(round(utterance.tone.seconds * sample_rate))


class Timeline:
    """Places the utterances of one request in the stream, in order, one :meth:`place` call each.

    ``source`` is the input as given (UTF-8): mark values are its byte spans. ``count`` is the number of
    utterances (the last one ends the text: its visemes end on a sound).
    """

    def __init__(self, source: bytes, sample_rate: int, hop_length: int, count: int) -> None:
        self.source = source
        self.sample_rate = sample_rate
        self.hop_length = hop_length
        self.count = count
        self.offset = 0
        """Where the next utterance's lead starts."""
        self.placed = 0
        self._sentences: set[int] = set()

    def place(
        self,
        utterance: PlannedUtterance,
        emotion: str | None = None,
        spoken: SpokenPhonemes | None = None,
        frames_per_id: np.ndarray | None = None,
    ) -> UtteranceTimeline:
        """The timeline of the next utterance: a bleep, or speech whose ids (``spoken.ids``) last
        ``frames_per_id`` frames each. ``emotion`` goes on its sentence mark."""
        new_sentence = utterance.sentence not in self._sentences
        self._sentences.add(utterance.sentence)
        final = self.placed == self.count - 1
        timeline = utterance_timeline(
            utterance,
            self.offset,
            self.source,
            self.sample_rate,
            self.hop_length,
            new_sentence=new_sentence,
            emotion=emotion,
            final=final,
            spoken=spoken,
            frames_per_id=frames_per_id,
        )
        self.offset = timeline.end
        self.placed += 1
        return timeline


def utterance_timeline(
    utterance: PlannedUtterance,
    offset: int,
    source: bytes,
    sample_rate: int,
    hop_length: int,
    *,
    new_sentence: bool,
    emotion: str | None = None,
    final: bool = False,
    spoken: SpokenPhonemes | None = None,
    frames_per_id: np.ndarray | None = None,
) -> UtteranceTimeline:
    """Timings, marks and word gains of ``utterance`` when its lead starts at stream position ``offset``.

    ``new_sentence``: it is its sentence's first utterance (it gets the sentence mark). ``final``: it
    is the last utterance of the text. A bleep needs neither ``spoken`` nor ``frames_per_id``.
    """
    lead = lead_samples(utterance, sample_rate)
    start = offset + lead
    marks: list[SpeechMark] = []
    if new_sentence:
        s, e = utterance.sentence_span
        marks.append(
            SpeechMark(
                milliseconds(start, sample_rate), "sentence", s, e, _text(source, s, e), emotion=emotion
            )
        )
    tone = utterance.tone
    if tone is not None:
        time = milliseconds(start, sample_rate)
        marks.append(SpeechMark(time, "word", tone.start, tone.end, _text(source, tone.start, tone.end)))
        marks.append(SpeechMark(time, "viseme", 0, 0, "sil"))
        return UtteranceTimeline(offset, lead, tone_samples(utterance, sample_rate), [], marks, [])
    if spoken is None or frames_per_id is None:
        raise ValueError("an utterance of words needs its phonemes and the frames of each id")
    cumulative = np.concatenate([[0], np.cumsum(frames_per_id)]) * hop_length
    timings = [
        PhonemeTiming(p, start + int(cumulative[a]), int(cumulative[b] - cumulative[a]))
        for p, (a, b) in zip(spoken.phonemes, spoken.spans, strict=True)
    ]
    word_gains: list[WordGain] = []
    previous_span = None
    for word, (a, b) in zip(utterance.words, spoken.word_ranges, strict=True):
        first = timings[a].start if a < len(timings) else start
        end = timings[b - 1].start + timings[b - 1].samples if b > a else first
        time = milliseconds(first, sample_rate)
        for mark in word.marks:
            marks.append(SpeechMark(time, "ssml", mark.start, mark.end, mark.name))
        if (word.start, word.end) != previous_span:
            marks.append(SpeechMark(time, "word", word.start, word.end, _text(source, word.start, word.end)))
        previous_span = (word.start, word.end)
        if word.gain != 1.0:
            word_gains.append(WordGain(first, end, word.gain))
    marks.extend(viseme_marks(timings, sample_rate, final=final))
    samples = int(np.sum(frames_per_id)) * hop_length
    for mark in utterance.trailing_marks:
        marks.append(
            SpeechMark(milliseconds(start + samples, sample_rate), "ssml", mark.start, mark.end, mark.name)
        )
    return UtteranceTimeline(offset, lead, samples, timings, marks, word_gains)


def viseme_marks(timings: Sequence[PhonemeTiming], sample_rate: int, final: bool = False) -> list[SpeechMark]:
    """The viseme marks of phonemes spoken at ``timings`` (Polly's en-US table)."""
    out = visemes([(t.phoneme, t.start, t.samples) for t in timings], final=final)
    return [SpeechMark(milliseconds(start, sample_rate), "viseme", 0, 0, viseme) for viseme, start, _ in out]


def _text(source: bytes, start: int, end: int) -> str:
    return source[start:end].decode("utf-8", errors="replace")


def duration_scales(
    words: Sequence[PlannedWord], spoken: SpokenPhonemes, utterance_rate: float
) -> np.ndarray:
    """Duration factor per phoneme id (float32). Each id takes the rate of the word it belongs to or
    follows (the pause after a word goes at that word's rate; ids before the first word at the first
    word's), so a ``<prosody rate>`` region scales as a whole, its pauses included."""
    rates = np.ones(len(spoken.ids), dtype=np.float64)
    first = True
    for word, (a, b) in zip(words, spoken.word_ranges, strict=True):
        if b > a:
            rates[0 if first else spoken.spans[a][0] :] = word.rate
            first = False
    return (1.0 / (utterance_rate * rates)).astype(np.float32)


def max_duration_scales(
    words: Sequence[PlannedWord],
    spoken: SpokenPhonemes,
    frames_per_id: np.ndarray,
    hop_length: int,
    sample_rate: int,
) -> np.ndarray | None:
    """``amazon:max-duration``: factors that shorten each region (its words and the pauses between them)
    that runs over its budget at ``frames_per_id``; None when every region fits."""
    spans = spoken.spans
    regions: dict[int, list[int]] = {}
    for word, (a, b) in zip(words, spoken.word_ranges, strict=True):
        if word.max_duration is None or b <= a:
            continue
        budget, region = word.max_duration
        entry = regions.setdefault(region, [budget, spans[a][0], spans[b - 1][1]])
        entry[1], entry[2] = min(entry[1], spans[a][0]), max(entry[2], spans[b - 1][1])
    scales = np.ones(len(frames_per_id), dtype=np.float32)
    changed = False
    for budget, first, last in regions.values():
        spoken_ms = int(frames_per_id[first:last].sum()) * hop_length * 1000 / sample_rate
        if spoken_ms > budget > 0:
            changed = True
            scales[first:last] *= budget / spoken_ms
    return scales if changed else None
