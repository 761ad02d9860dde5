"""Measurements of one recording: level, loudness, clipping, silence at the ends, a noise estimate.

Pure numpy on a float array (plus pyloudnorm for LUFS), so ``dataset check`` can run them on every
clip of a large dataset in seconds and ``dataset prepare`` can reuse them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FRAME_S = 0.02
"""Analysis frame for the level envelope (20 ms, hop 10 ms)."""
SILENCE_BELOW_PEAK_DB = 40.0
"""A frame this far below the clip's loudest frame (or under -60 dBFS) counts as silence."""
CLIP_LEVEL = 0.99
"""Samples at or above this magnitude (full scale = 1.0) in runs of 3 or more count as clipped."""
_FLOOR_DB = -120.0


@dataclass(frozen=True)
class AudioStats:
    """Measurements of one clip (levels in dB relative to full scale)."""

    duration_s: float
    sample_rate: int
    channels: int
    peak_dbfs: float
    rms_dbfs: float
    lufs: float | None
    """Integrated loudness (ITU-R BS.1770); None for clips under 0.4 s or digital silence."""
    clipped_fraction: float
    leading_silence_s: float
    trailing_silence_s: float
    snr_db: float | None
    """Loud frames (90th percentile) over quiet frames (10th percentile); None without enough frames.
    A rough estimate: clips with little pause between words read low."""


def to_db(value: float) -> float:
    return 20.0 * math.log10(value) if value > 0 else _FLOOR_DB


def mono(audio: np.ndarray) -> np.ndarray:
    """``audio`` (frames,) or (frames, channels) as float32 mono."""
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    return np.ascontiguousarray(audio, dtype=np.float32)


def measure(audio: np.ndarray, sample_rate: int) -> AudioStats:
    """Measures ``audio`` (frames,) or (frames, channels), float in [-1, 1]."""
    channels = 1 if audio.ndim == 1 else int(audio.shape[1])
    samples = mono(audio)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0
    frame_db = _frame_levels(samples, sample_rate)
    lead, trail = _silence_at_ends(frame_db, len(samples) / sample_rate)
    return AudioStats(
        duration_s=round(len(samples) / sample_rate, 3),
        sample_rate=sample_rate,
        channels=channels,
        peak_dbfs=round(to_db(peak), 2),
        rms_dbfs=round(to_db(rms), 2),
        lufs=integrated_loudness(samples, sample_rate),
        clipped_fraction=_clipped_fraction(audio),
        leading_silence_s=round(lead, 3),
        trailing_silence_s=round(trail, 3),
        snr_db=_snr(frame_db),
    )


def integrated_loudness(samples: np.ndarray, sample_rate: int) -> float | None:
    """LUFS of mono ``samples``, or None where it is undefined (too short, silent)."""
    import pyloudnorm

    if len(samples) < int(0.4 * sample_rate) + 1:
        return None
    value = float(pyloudnorm.Meter(sample_rate).integrated_loudness(samples.astype(np.float64)))
    return round(value, 2) if math.isfinite(value) else None


def _frame_levels(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """RMS level in dB of 20 ms frames with a 10 ms hop."""
    size = max(1, int(FRAME_S * sample_rate))
    hop = max(1, size // 2)
    if len(samples) < size:
        return np.array([to_db(float(np.sqrt(np.mean(np.square(samples))))) if len(samples) else _FLOOR_DB])
    frames = np.lib.stride_tricks.sliding_window_view(samples, size)[::hop]
    power = np.mean(np.square(frames, dtype=np.float64), axis=1)
    return 10.0 * np.log10(np.maximum(power, 10 ** (_FLOOR_DB / 10)))


def _silence_at_ends(frame_db: np.ndarray, duration_s: float) -> tuple[float, float]:
    threshold = max(float(frame_db.max()) - SILENCE_BELOW_PEAK_DB, -60.0)
    loud = np.flatnonzero(frame_db > threshold)
    if loud.size == 0:
        return duration_s, 0.0
    hop_s = FRAME_S / 2
    lead = float(loud[0]) * hop_s
    trail = max(0.0, duration_s - (float(loud[-1]) * hop_s + FRAME_S))
    return lead, trail


def _snr(frame_db: np.ndarray) -> float | None:
    if frame_db.size < 10:
        return None
    quiet, loud = np.percentile(frame_db, [10, 90])
    return round(float(min(loud - quiet, 100.0)), 1)


def _clipped_fraction(audio: np.ndarray) -> float:
    if audio.size == 0:
        return 0.0
    hot = np.abs(audio.reshape(len(audio), -1)).max(axis=1) >= CLIP_LEVEL
    if not hot.any():
        return 0.0
    # keep only runs of 3+ hot samples: a lone full-scale sample is a loud peak, not clipping
    edges = np.diff(np.concatenate(([0], hot.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    lengths = ends - starts
    return round(float(lengths[lengths >= 3].sum()) / len(audio), 5)
