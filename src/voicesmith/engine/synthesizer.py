"""The synthesis API every surface (CLI, Polly, OpenAI, tasks) calls: text in, streamed audio out.

``Synthesizer.stream`` yields :class:`AudioChunk` objects as soon as audio exists: the first sentence's
first window is short so the first audio comes early whatever the input, later windows are long so the
whole costs about what piper costs. Each sentence's phoneme durations are known before its first audio
and travel on its first chunk.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from voicesmith.engine.catalog import VoiceCatalog, VoiceInfo
from voicesmith.engine.voice import PiperModel, Prior, VoiceParams
from voicesmith.errors import TextLengthExceededError, ValidationError
from voicesmith.settings import Settings

_LOGGER = logging.getLogger(__name__)

FIRST_WINDOW_FRAMES = 32
"""Frames in the first decoded window of a stream (~0.37 s of audio for a 22.05 kHz voice)."""


@dataclass(frozen=True)
class SynthesisRequest:
    """One synthesis call. Rate and volume follow Polly's prosody: rate 0.5 is half speed."""

    text: str
    voice: str = "joe"
    text_type: str = "text"
    """``text`` or ``ssml``."""
    rate: float = 1.0
    """Speaking-rate multiplier, 0.2-4.0 (2.0 = twice as fast); scales the voice's own length scale."""
    volume_db: float = 0.0
    """Gain in dB, -60..+20."""
    noise_scale: float | None = None
    noise_w: float | None = None
    speaker: str | int | None = None
    """Speaker name or id of a multi-speaker voice."""
    seed: int = 0
    """Noise seed: the same request with the same seed always gives the same audio."""
    emotion: str | None = None
    intensity: float = 1.0
    lexicons: Sequence[object] = field(default_factory=tuple)

    def validate(self, max_characters: int) -> None:
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
class Utterance:
    """One piece the voice speaks in one go (a sentence, or a part of one between breaks)."""

    phonemes: list[str]
    params: VoiceParams
    seed: int
    silence_before: float = 0.0
    """Seconds of silence before it (SSML breaks)."""
    gain_db: float = 0.0
    text: str = ""


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


@dataclass
class SynthesisResult:
    """A whole synthesis: audio and what was said when."""

    audio: np.ndarray
    sample_rate: int
    phonemes: list[PhonemeTiming]

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate

    def write(self, path: str | Path, sample_rate: int | None = None) -> None:
        """Write the audio to a file, the format taken from its extension."""
        from voicesmith.audio.encode import encode
        from voicesmith.audio.formats import format_for_path

        fmt = format_for_path(Path(path))
        Path(path).write_bytes(encode(self.audio, self.sample_rate, fmt, sample_rate))


def _utterance_seed(request_seed: int, voice_id: str, ids: Sequence[int]) -> int:
    """The same phonemes with the same request seed draw the same noise, in any process."""
    digest = hashlib.blake2b(digest_size=8)
    digest.update(f"{request_seed}|{voice_id}|".encode())
    digest.update(np.asarray(ids, dtype=np.int32).tobytes())
    return int.from_bytes(digest.digest(), "little")


class Synthesizer:
    """Speaks text with the catalog's voices. Thread-safe; share one per process."""

    def __init__(self, settings: Settings | None = None, catalog: VoiceCatalog | None = None) -> None:
        self.settings = settings or (catalog.settings if catalog else Settings())
        self.catalog = catalog or VoiceCatalog(self.settings)

    def voices(self) -> list[VoiceInfo]:
        return self.catalog.list()

    def _params(self, request: SynthesisRequest, info: VoiceInfo, model: PiperModel) -> VoiceParams:
        speaker_id = None
        if request.speaker is not None:
            if isinstance(request.speaker, int) or str(request.speaker).isdigit():
                speaker_id = int(request.speaker)
            elif request.speaker in info.speakers:
                speaker_id = info.speakers[str(request.speaker)]
            else:
                known = ", ".join(info.speakers) or "none (single-speaker voice)"
                raise ValidationError(f"voice {info.id!r} has no speaker {request.speaker!r}; speakers: {known}")
        return VoiceParams(
            length_scale=model.config.length_scale / request.rate,
            noise_scale=request.noise_scale,
            noise_w=request.noise_w,
            speaker_id=speaker_id,
        )

    def plan(self, request: SynthesisRequest) -> tuple[PiperModel, list[Utterance]]:
        """Validate the request and turn it into utterances for its voice."""
        request.validate(self.settings.max_input_characters)
        info = self.catalog.get(request.voice)
        model = self.catalog.load(request.voice)
        params = self._params(request, info, model)
        utterances = [
            Utterance(phonemes=phonemes, params=params, seed=request.seed, gain_db=request.volume_db)
            for phonemes in model.phonemize(request.text)
            if phonemes
        ]
        if not utterances:
            raise ValidationError("the text has nothing that can be spoken")
        return model, utterances

    def stream(self, request: SynthesisRequest) -> Iterator[AudioChunk]:
        """Audio as it is made, utterance by utterance, window by window."""
        model, utterances = self.plan(request)
        yield from self.stream_utterances(model, request.voice, utterances)

    def stream_utterances(self, model: PiperModel, voice_id: str, utterances: list[Utterance]) -> Iterator[AudioChunk]:
        rate = model.sample_rate
        window = self.settings.stream_window_frames
        offset = 0
        for index, utterance in enumerate(utterances):
            if utterance.silence_before > 0:
                silence = np.zeros(int(round(utterance.silence_before * rate)), dtype=np.float32)
                yield AudioChunk(silence, rate, offset, index)
                offset += len(silence)
            ids, spans = model.phoneme_ids(utterance.phonemes)
            prior = model.encode(ids, utterance.params, _utterance_seed(utterance.seed, voice_id, ids))
            timings = self._timings(model, prior, utterance.phonemes, spans, offset)
            gain = np.float32(10 ** (utterance.gain_db / 20)) if utterance.gain_db else None
            first_window = FIRST_WINDOW_FRAMES if index == 0 else None
            for n, audio in enumerate(model.decode_windows(prior, first_window, window)):
                if gain is not None:
                    audio = np.clip(audio * gain, -1.0, 1.0)
                else:
                    audio = np.clip(audio, -1.0, 1.0)
                yield AudioChunk(audio, rate, offset, index, timings if n == 0 else [])
                offset += len(audio)

    @staticmethod
    def _timings(
        model: PiperModel, prior: Prior, phonemes: list[str], spans: list[tuple[int, int]], offset: int
    ) -> list[PhonemeTiming]:
        hop = model.hop_length
        frames = prior.frames_per_id
        cumulative = np.concatenate([[0], np.cumsum(frames)]) * hop
        return [
            PhonemeTiming(phoneme, offset + int(cumulative[start]), int(cumulative[end] - cumulative[start]))
            for phoneme, (start, end) in zip(phonemes, spans, strict=True)
        ]

    def synthesize(self, request: SynthesisRequest) -> SynthesisResult:
        """The whole audio of a request at once."""
        chunks = list(self.stream(request))
        rate = chunks[0].sample_rate
        audio = np.concatenate([c.audio for c in chunks]) if chunks else np.zeros(0, np.float32)
        phonemes = [t for c in chunks for t in c.phonemes]
        return SynthesisResult(audio=audio, sample_rate=rate, phonemes=phonemes)
