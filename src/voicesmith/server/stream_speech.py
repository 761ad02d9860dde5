"""Speak a series of text segments as one continuous audio stream: the synthesis half of the doors that
take streaming text in (Wyoming's ``synthesize-chunk``, ElevenLabs' ``stream-input``).

Each segment is one synthesis request (same voice, emotion, lexicons, rate), planned and decoded in the
app's synthesis pool, so the event loop never blocks; the chunks of all segments share one timeline
(samples from the start of the stream) and the speech marks of each utterance are moved onto it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field, replace

import numpy as np

from voicesmith.engine.marks import SpeechMark
from voicesmith.engine.requests import SynthesisRequest
from voicesmith.server.services import Services

_LOGGER = logging.getLogger(__name__)


@dataclass
class SpokenChunk:
    """A piece of the stream's audio."""

    audio: np.ndarray
    """float32 mono in [-1, 1]."""
    sample_rate: int
    start: int
    """Samples from the start of the whole stream."""
    segment: int
    """Index of the segment (text piece) this audio speaks."""
    text: str
    """The segment's text (mark offsets are UTF-8 byte offsets into it)."""
    marks: list[SpeechMark] = field(default_factory=list)
    """On an utterance's first chunk: its speech marks, ``time`` in ms from the start of the stream."""
    utterance_span: tuple[int, int] | None = None
    """On an utterance's first chunk: where it starts and ends, in samples from the start of the stream
    (silence before the voice included). None for the rare utterance without phonemes (a bleep)."""


def shift_marks(marks: list[SpeechMark], ms: int) -> list[SpeechMark]:
    return [replace(m, time=m.time + ms) for m in marks] if ms else list(marks)


_TAG = re.compile(r"<[^>]*>")


def speakable(text: str) -> bool:
    """Whether a segment has anything to say (a letter or digit outside markup): a stream's lone "👍",
    "--" or trailing pause is skipped rather than refused, which would end the whole stream."""
    return any(char.isalnum() for char in _TAG.sub(" ", text))


class SegmentSpeaker:
    """Speaks segments in order on one timeline. Not thread-safe: one per stream.

    ``skip_unspeakable``: a segment with nothing to say gives no audio (streams) instead of the
    synthesizer's error (one-shot requests)."""

    def __init__(self, services: Services, base: SynthesisRequest, skip_unspeakable: bool = False) -> None:
        self.services = services
        self.base = base
        self.skip_unspeakable = skip_unspeakable
        self.position = 0
        """Samples spoken so far (the start of the next segment)."""
        self.segments = 0

    async def speak(self, text: str, text_type: str | None = None) -> AsyncIterator[SpokenChunk]:
        """The audio of one segment, chunk by chunk as it is made. Bad input raises before any audio;
        closing the iterator early (cancel) stops the synthesis after the chunk being made."""
        if self.skip_unspeakable and not speakable(text):
            return
        request = replace(self.base, text=text, text_type=text_type or self.base.text_type)
        pool = self.services.pool
        stream = await pool.run(self.services.synthesizer.open, request)
        segment = self.segments
        self.segments += 1
        base = self.position
        rate = stream.sample_rate
        async with aclosing(pool.iterate(iter(stream))) as chunks:
            async for chunk in chunks:
                span = None
                marks: list[SpeechMark] = []
                if chunk.marks or chunk.phonemes:
                    marks = shift_marks(chunk.marks, int(round(base * 1000 / rate)))
                    if chunk.phonemes:
                        last = chunk.phonemes[-1]
                        span = (base + chunk.offset, base + last.start + last.samples)
                self.position = base + chunk.offset + len(chunk.audio)
                start = base + chunk.offset
                yield SpokenChunk(chunk.audio, chunk.sample_rate, start, segment, text, marks, span)
