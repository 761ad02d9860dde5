"""The values of the synthesis API: what a request asks, what comes back, and the steps in between.

:class:`SynthesisRequest` is what every door builds; :class:`AudioChunk` and :class:`SynthesisResult` are
what :class:`~voicesmith.engine.synthesizer.Synthesizer` gives back. :class:`UtteranceTimeline` (the
output of :mod:`voicesmith.engine.timeline`) and :class:`PreparedUtterance` are an utterance with its
place in the stream fixed and no audio made yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from voicesmith.engine.bundled import BUNDLED_VOICE_ID
from voicesmith.engine.marks import SpeechMark
from voicesmith.errors import TextLengthExceededError, ValidationError
from voicesmith.text.ssml import SsmlDocument, parse_ssml, plain_text_document
from voicesmith.text.unicode import check_text

if TYPE_CHECKING:
    from voicesmith.engine.model import Prior
    from voicesmith.engine.render import UtteranceRendering


@dataclass(frozen=True)
class SynthesisRequest:
    """One synthesis call. Rate and volume follow Polly's prosody: rate 0.5 is half speed."""

    text: str
    voice: str = BUNDLED_VOICE_ID
    text_type: str = "text"
    """``text`` or ``ssml`` (Amazon Polly's SSML dialect)."""
    rate: float = 1.0
    """Speaking-rate multiplier, 0.2-4.0 (2.0 = twice as fast); scales the voice's own length scale."""
    volume_db: float = 0.0
    """Gain in dB, -60..+20."""
    noise_scale: float | None = None
    noise_w: float | None = None
    speaker: str | int | None = None
    """Speaker name or id of a multi-speaker voice."""
    seed: int = 0
    """Noise seed: the same request with the same seed always gives the same audio and marks."""
    emotion: str | None = None
    """An emotion for the whole text (``angry``, ``happy``, ``sad``, ``surprise``, ``neutral``, ``auto``);
    SSML ``amazon:emotion`` inside the text wins where it applies."""
    intensity: float = 1.0
    """Emotion strength 0-2."""
    lexicons: Sequence[object] = field(default_factory=tuple)
    """Parsed :class:`voicesmith.text.lexicon.Lexicon` objects, applied in order."""
    max_audio_seconds: float | None = None
    """The longest audio this request may make (breaks and pauses included); None: the synthesizer's
    ``max_speech_audio_seconds`` setting. Checked when the request is planned, before any audio."""
    document: SsmlDocument | None = field(default=None, compare=False, repr=False)
    """``text`` already parsed (a door that checked the SSML passes what it parsed, so a request's SSML
    is parsed once). Used only while it is the document of ``text`` and ``text_type``: a copy made with
    ``dataclasses.replace(request, text=...)`` parses its own text."""

    def parsed(self) -> SsmlDocument:
        """The document of ``text``: the one given in ``document``, else parsed now."""
        is_ssml = self.text_type == "ssml"
        given = self.document
        if given is not None and given.source == self.text and given.is_ssml == is_ssml:
            return given
        return parse_ssml(self.text) if is_ssml else plain_text_document(self.text)

    def validate(self, max_characters: int) -> None:
        if isinstance(self.text, str):
            check_text(self.text)
        if not isinstance(self.text, str) or not self.text.strip():
            raise ValidationError("text is empty: give at least one word to speak")
        if len(self.text) > max_characters:
            raise TextLengthExceededError(
                f"text is {len(self.text)} characters; the limit is {max_characters}"
            )
        if self.text_type not in ("text", "ssml"):
            raise ValidationError(f"text type {self.text_type!r} is not one of: text, ssml")
        if not 0.2 <= self.rate <= 4.0:
            raise ValidationError(f"rate {self.rate} is out of range 0.2-4.0")
        if not -60.0 <= self.volume_db <= 20.0:
            raise ValidationError(f"volume {self.volume_db} dB is out of range -60..+20")
        if not 0.0 <= self.intensity <= 2.0:
            raise ValidationError(f"emotion intensity {self.intensity} is out of range 0-2")
        for name, value in (("noise_scale", self.noise_scale), ("noise_w", self.noise_w)):
            if value is not None and not 0.0 <= value <= 2.0:
                raise ValidationError(f"{name} {value} is out of range 0-2")


@dataclass(frozen=True)
class PhonemeTiming:
    """When one phoneme is spoken, in samples from the start of the stream."""

    phoneme: str
    start: int
    samples: int


@dataclass
class AudioChunk:
    """A piece of the output stream."""

    audio: np.ndarray
    """float32 mono in [-1, 1]."""
    sample_rate: int
    offset: int
    """Index of this chunk's first sample in the whole stream."""
    utterance: int
    """Index of the utterance this chunk belongs to."""
    phonemes: list[PhonemeTiming] = field(default_factory=list)
    """Timings of the whole utterance, on its first chunk only."""
    marks: list[SpeechMark] = field(default_factory=list)
    """Speech marks of the whole utterance (all four types), on its first chunk only."""
    emotion: str | None = None
    """The emotion the utterance was rendered with (None: neutral, no emotion asked)."""


@dataclass
class SynthesisResult:
    """A whole synthesis: audio and what was said when."""

    audio: np.ndarray
    sample_rate: int
    phonemes: list[PhonemeTiming]
    marks: list[SpeechMark] = field(default_factory=list)
    emotions: list[str | None] = field(default_factory=list)
    """The emotion of each utterance, in order."""

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate

    def write(self, path: str | Path, sample_rate: int | None = None) -> None:
        """Write the audio to a file, the format taken from its extension."""
        from voicesmith.audio.encode import encode
        from voicesmith.audio.formats import format_for_path

        fmt = format_for_path(Path(path))
        Path(path).write_bytes(encode(self.audio, self.sample_rate, fmt.name, sample_rate))


@dataclass(frozen=True)
class SpokenPhonemes:
    """An utterance's words as the voice takes them: phonemes, and the ids the encoder reads."""

    phonemes: list[str]
    word_ranges: list[tuple[int, int]]
    """``[start, end)`` into ``phonemes`` for each word of the utterance (its punctuation included)."""
    ids: list[int]
    spans: list[tuple[int, int]]
    """``[start, end)`` into ``ids`` for each phoneme; ids outside every span are the voice's own
    padding and sentence start/end ids."""


@dataclass(frozen=True)
class WordGain:
    """A word spoken at a volume other than the utterance's: ``gain`` over ``[start, end)`` samples."""

    start: int
    end: int
    """Stream positions."""
    gain: float
    """Linear (0: silent)."""


@dataclass(frozen=True)
class UtteranceTimeline:
    """Where an utterance lies in the stream and what its speech marks say; no audio yet.

    The stream holds ``lead`` samples of silence (and breaths) from ``offset``, then ``samples`` of voice
    (or a bleep) from :attr:`start` to :attr:`end`, where the next utterance's ``offset`` is.
    """

    offset: int
    """Stream position of the utterance's first sample (the silence before it included)."""
    lead: int
    """Samples of silence/breath before the voice starts."""
    samples: int
    """Samples of voice (or tone)."""
    timings: list[PhonemeTiming] = field(default_factory=list)
    """Every phoneme's place in the stream, in order (none for a bleep)."""
    marks: list[SpeechMark] = field(default_factory=list)
    """The utterance's speech marks of all four types, in the order they were made (not yet sorted)."""
    word_gains: list[WordGain] = field(default_factory=list)
    """The words whose gain is not 1."""

    @property
    def start(self) -> int:
        """Stream position where the voice starts."""
        return self.offset + self.lead

    @property
    def end(self) -> int:
        """Stream position after the utterance's last sample."""
        return self.offset + self.lead + self.samples


@dataclass(frozen=True)
class PreparedUtterance:
    """An utterance ready to decode: its timeline, how it is rendered and (speech) its prior."""

    index: int
    """Position of the utterance in the plan."""
    timeline: UtteranceTimeline
    rendering: UtteranceRendering
    prior: Prior | None
    """The encoder's output (durations and prior sample); None for a bleep."""
