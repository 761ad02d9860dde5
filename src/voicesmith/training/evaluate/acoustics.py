"""Pitch and spectral measures of speech: F0 (Praat), mel-cepstral distortion (WORLD + SPTK + DTW).

MCD definition used here (Kubichek 1993, as in most TTS papers)::

    MCD = 10 / ln(10) * sqrt(2 * sum_{d=1..24} (c_d - c'_d)^2)      [dB], averaged over aligned frames

with ``c_1..c_24`` the mel-cepstrum (order 24, c0 = energy left out) of WORLD's CheapTrick spectral
envelope (5 ms frames, DIO + StoneMask F0), computed by ``pysptk.sp2mc`` with the all-pass constant of
the sample rate (0.41 at 16 kHz). Both signals are resampled to 16 kHz, leading and trailing silence
(30 dB below the peak) trimmed, frames under -60 dB of the loudest frame dropped, and frames aligned
by dynamic time warping on the Euclidean distance of those coefficients (librosa). Numbers are only
comparable with MCDs computed the same way.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

ANALYSIS_RATE = 16_000
MCEP_ORDER = 24
F0_FLOOR_HZ = 50.0
F0_CEILING_HZ = 500.0
_FRAME_PERIOD_MS = 5.0
_TRIM_DB = 30.0
_SILENT_FRAME_DB = 60.0
_MCD_SCALE = 10.0 / math.log(10.0) * math.sqrt(2.0)


@dataclass(frozen=True)
class F0Stats:
    """Pitch of voiced frames: median and 5th-95th percentile range."""

    median_hz: float
    p5_hz: float
    p95_hz: float
    voiced_frames: int

    @property
    def range_semitones(self) -> float:
        return semitones(self.p95_hz, self.p5_hz)

    def to_dict(self) -> dict[str, float | int]:
        return {
            "median_hz": round(self.median_hz, 1),
            "p5_hz": round(self.p5_hz, 1),
            "p95_hz": round(self.p95_hz, 1),
            "range_semitones": round(self.range_semitones, 2),
            "voiced_frames": self.voiced_frames,
        }


def semitones(frequency_hz: float, reference_hz: float) -> float:
    """The interval from ``reference_hz`` up to ``frequency_hz`` in semitones (negative: lower)."""
    return 12.0 * math.log2(frequency_hz / reference_hz)


def to_analysis_rate(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono float64 at :data:`ANALYSIS_RATE`."""
    import soxr

    audio = np.asarray(samples, dtype=np.float64)
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    if sample_rate != ANALYSIS_RATE:
        audio = soxr.resample(audio, sample_rate, ANALYSIS_RATE)
    return audio


def f0_track(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """F0 in Hz of the voiced 10 ms frames of ``samples`` (Praat's autocorrelation method)."""
    import parselmouth

    if len(samples) < sample_rate * 0.1:
        return np.zeros(0)
    sound = parselmouth.Sound(np.asarray(samples, dtype=np.float64), sampling_frequency=sample_rate)
    pitch = sound.to_pitch(time_step=0.01, pitch_floor=F0_FLOOR_HZ, pitch_ceiling=F0_CEILING_HZ)
    values = pitch.selected_array["frequency"]
    return values[values > 0]


def f0_stats(tracks: list[np.ndarray]) -> F0Stats | None:
    """Statistics over the voiced frames of all ``tracks``; None when none is voiced."""
    voiced = np.concatenate(tracks) if tracks else np.zeros(0)
    if voiced.size == 0:
        return None
    p5, median, p95 = np.percentile(voiced, [5, 50, 95])
    return F0Stats(float(median), float(p5), float(p95), int(voiced.size))


def mel_cepstrum(samples: np.ndarray) -> np.ndarray:
    """``(frames, MCEP_ORDER)`` mel-cepstra c1..c24 of the non-silent frames of 16 kHz ``samples``."""
    import librosa

    with warnings.catch_warnings():  # pysptk 1.0 and pyworld 0.3 import the deprecated pkg_resources
        warnings.simplefilter("ignore", UserWarning)
        import pysptk
        import pyworld

    trimmed, _ = librosa.effects.trim(samples, top_db=_TRIM_DB)
    audio = np.ascontiguousarray(trimmed if trimmed.size else samples, dtype=np.float64)
    f0, times = pyworld.dio(audio, ANALYSIS_RATE, frame_period=_FRAME_PERIOD_MS)
    f0 = pyworld.stonemask(audio, f0, times, ANALYSIS_RATE)
    envelope = pyworld.cheaptrick(audio, f0, times, ANALYSIS_RATE)
    alpha = pysptk.util.mcepalpha(ANALYSIS_RATE)
    cepstrum = pysptk.sp2mc(envelope, order=MCEP_ORDER, alpha=alpha)
    energy_db = 10.0 * np.log10(envelope.sum(axis=1) + 1e-12)
    loud = energy_db > energy_db.max() - _SILENT_FRAME_DB
    return cepstrum[loud, 1:]


def mel_cepstral_distortion(synthesised: np.ndarray, reference: np.ndarray) -> float:
    """MCD in dB between two 16 kHz signals after DTW (see the module docstring for the definition)."""
    import librosa

    ours, theirs = mel_cepstrum(synthesised), mel_cepstrum(reference)
    if len(ours) == 0 or len(theirs) == 0:
        return float("nan")
    _cost, path = librosa.sequence.dtw(X=ours.T, Y=theirs.T, metric="euclidean")
    differences = ours[path[:, 0]] - theirs[path[:, 1]]
    per_frame = _MCD_SCALE * np.sqrt(np.sum(differences**2, axis=1))
    return float(per_frame.mean())
