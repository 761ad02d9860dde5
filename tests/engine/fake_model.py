"""A :class:`~voicesmith.engine.model.VoiceModel` with fixed durations: the synthesizer's timing rules
tested without the 60 MB voice.

Phonemes are the text's letters (a space between words), every phoneme id lasts ``FRAMES_PER_ID``
frames at length scale 1, and the audio of frame ``f`` is the constant ``f / 10_000``, so a test can
tell from any chunk which frames it holds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from voicesmith.engine.catalog import BUNDLED_VOICE_ID, VoiceCatalog
from voicesmith.engine.model import Prior, VoiceModel, VoiceParams

FRAMES_PER_ID = 3
HOP = 256
RATE = 16_000
_SYMBOLS = ["_", "^", "$", " ", *",.!?", *"abcdefghijklmnopqrstuvwxyz"]


class FakeModel:
    """Letters for phonemes, fixed frames per id, a ramp for audio."""

    sample_rate = RATE
    hop_length = HOP
    length_scale = 1.0
    espeak_voice = "en-us"
    blends_styles = False

    def __init__(self) -> None:
        self.phoneme_id_map: Mapping[str, Sequence[int]] = {s: [i] for i, s in enumerate(_SYMBOLS)}
        self.decoded_windows: list[tuple[int, int]] = []
        """``(start, end)`` frames of every window decoded, in order."""

    def phonemize(self, text: str, language: str | None = None) -> list[list[str]]:
        return [[c for c in text.lower() if c in self.phoneme_id_map and c not in "_^$"]]

    def phoneme_ids(self, phonemes: Sequence[str]) -> tuple[list[int], list[tuple[int, int]]]:
        ids = [self.phoneme_id_map["^"][0], self.phoneme_id_map["_"][0]]
        spans = []
        for phoneme in phonemes:
            start = len(ids)
            if phoneme in self.phoneme_id_map:
                ids += [self.phoneme_id_map[phoneme][0], self.phoneme_id_map["_"][0]]
            spans.append((start, len(ids)))
        return ids + [self.phoneme_id_map["$"][0]], spans

    def encode(
        self,
        phoneme_ids: Sequence[int],
        params: VoiceParams,
        seed: int,
        apply_gain: bool = True,
        duration_scales: np.ndarray | None = None,
    ) -> Prior:
        scale = self.length_scale if params.length_scale is None else params.length_scale
        raw = np.full(len(phoneme_ids), FRAMES_PER_ID * scale, dtype=np.float32)
        if duration_scales is not None:
            raw = raw * duration_scales
        frames = np.ceil(raw).astype(np.int64)
        z_p = np.zeros((1, 1, int(frames.sum())), dtype=np.float32)
        return Prior(list(phoneme_ids), frames, z_p, None)

    def decode_windows(self, prior: Prior, first_window: int | None, window: int) -> Iterator[np.ndarray]:
        start, total = 0, prior.num_frames
        while start < total:
            size = first_window if start == 0 and first_window else window
            end = min(total, start + size)
            self.decoded_windows.append((start, end))
            yield np.repeat(np.arange(start, end, dtype=np.float32) / 10_000, HOP)
            start = end


class FakeCatalog(VoiceCatalog):
    """The real catalog (voice info, ids, errors) whose bundled voice loads as a :class:`FakeModel`."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.model = FakeModel()

    def load(self, voice_id: str) -> VoiceModel:
        if voice_id != BUNDLED_VOICE_ID:
            return super().load(voice_id)
        return self.model
