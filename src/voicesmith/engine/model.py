"""What the synthesizer needs of a voice: the :class:`VoiceModel` protocol and the types it speaks.

The synthesizer plans, times and streams against this protocol only; :class:`~voicesmith.engine.voice.
PiperModel` (a Piper VITS graph split for streaming) implements it, and tests use a small fake with fixed
durations, so timing and speech-mark rules are tested without loading a 60 MB voice.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class VoiceParams:
    """How one sentence is spoken; ``None`` means the voice's own default."""

    length_scale: float | None = None
    """Duration multiplier: 2.0 speaks twice as slowly."""
    noise_scale: float | None = None
    """Variation of the prior sample (timbre/prosody liveliness)."""
    noise_w: float | None = None
    """Variation of the durations."""
    speaker_id: int | None = None
    """Speaker of a multi-speaker voice."""
    blend: tuple[int, int, float] | None = None
    """``(from_speaker, to_speaker, amount)``: a voice with a style table speaks with the embedding
    ``from + amount * (to - from)`` (emotion intensity: from neutral towards the emotion's speaker)."""


@dataclass
class Prior:
    """A sentence after the encoder: durations are known, no audio is made yet."""

    phoneme_ids: list[int]
    frames_per_id: np.ndarray
    """Frames (hops) spent on each phoneme id, int64 [T]."""
    z_p: np.ndarray
    """Prior sample per frame, float32 [1, C, F]."""
    g: np.ndarray | None
    """Speaker embedding for multi-speaker voices."""
    gain: float = 1.0
    """Linear gain applied to the decoded audio (the voice's calibration)."""

    @property
    def num_frames(self) -> int:
        return int(self.z_p.shape[2])


@runtime_checkable
class VoiceModel(Protocol):
    """A loaded voice: text to phonemes to ids, ids to durations (``encode``), durations to audio."""

    @property
    def sample_rate(self) -> int:
        """Samples per second of the audio ``decode_windows`` yields."""
        ...

    @property
    def hop_length(self) -> int:
        """Samples per frame: a phoneme id of ``n`` frames lasts ``n * hop_length`` samples."""
        ...

    @property
    def length_scale(self) -> float:
        """The voice's own duration multiplier (a request's rate divides it)."""
        ...

    @property
    def phoneme_id_map(self) -> Mapping[str, Sequence[int]]:
        """Phoneme -> ids: the phonemes this voice can say (lexicon entries are checked against it)."""
        ...

    @property
    def espeak_voice(self) -> str:
        """The espeak-ng voice that phonemises for this voice (``en-us``)."""
        ...

    @property
    def blends_styles(self) -> bool:
        """Whether ``VoiceParams.blend`` works: the voice takes a style vector from a table."""
        ...

    def phonemize(self, text: str, language: str | None = None) -> list[list[str]]:
        """Text to phonemes, one list per sentence; ``language`` (BCP-47) for foreign words."""
        ...

    def phoneme_ids(self, phonemes: Sequence[str]) -> tuple[list[int], list[tuple[int, int]]]:
        """Ids of ``phonemes`` and, per phoneme, the ``[start, end)`` range of ids it owns."""
        ...

    def encode(
        self,
        phoneme_ids: Sequence[int],
        params: VoiceParams,
        seed: int,
        apply_gain: bool = True,
        duration_scales: np.ndarray | None = None,
    ) -> Prior:
        """Durations and the prior sample of one sentence, drawn with ``seed`` (same seed, same prior)."""
        ...

    def decode_windows(self, prior: Prior, first_window: int | None, window: int) -> Iterator[np.ndarray]:
        """The audio of ``prior`` (``num_frames * hop_length`` samples, float32) in windows of frames:
        an optional short ``first_window``, then up to ``window``. Joined, the windows are the same audio
        whatever their sizes."""
        ...
