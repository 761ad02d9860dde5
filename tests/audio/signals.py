"""Test signals for the audio tests, generated here (no audio files in the repository)."""

from __future__ import annotations

import numpy as np


def chirp_signal(rate: int = 22050, seconds: float = 1.5, seed: int = 0) -> np.ndarray:
    """A rising tone with a slow level wobble and a little noise: not periodic, so lags are unambiguous."""
    t = np.arange(int(rate * seconds)) / rate
    tone = 0.3 * np.sin(2 * np.pi * (150 * t + 200 * t**2)) * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t))
    noise = 0.03 * np.random.default_rng(seed).standard_normal(t.size)
    return (tone + noise).astype(np.float32)


def aligned_correlation(reference: np.ndarray, other: np.ndarray, max_lag: int = 3000) -> tuple[int, float]:
    """(lag, correlation) of ``other`` against ``reference`` after removing the best lag (other later)."""
    half = reference.size // 2
    scores = np.correlate(other[: half + max_lag], reference[:half], "valid")
    lag = int(np.argmax(scores))
    n = min(reference.size, other.size - lag)
    return lag, float(np.corrcoef(reference[:n], other[lag : lag + n])[0, 1])


def harmonic_signal(
    rate: int = 22050,
    seconds: float = 2.0,
    f0: float = 120.0,
    vibrato_st: float = 1.0,
    vibrato_hz: float = 4.0,
) -> np.ndarray:
    """A vowel-like voiced signal: harmonics of ``f0`` with a sinusoidal vibrato of +-``vibrato_st``
    semitones, shaped by three formants (500, 1500, 2500 Hz) on a -6 dB/octave slope. Peak 0.5."""
    t = np.arange(int(rate * seconds)) / rate
    pitch = f0 * 2.0 ** (vibrato_st / 12.0 * np.sin(2 * np.pi * vibrato_hz * t))
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    out = np.zeros_like(t)
    for k in range(1, int(rate / 2 / (f0 * 2 ** (vibrato_st / 12)))):
        freq = k * pitch
        envelope = sum(
            1.0 / np.sqrt((1 - (freq / fc) ** 2) ** 2 + (freq * bw / fc**2) ** 2)
            for fc, bw in ((500, 80), (1500, 120), (2500, 160))
        )
        out += envelope / k * np.sin(k * phase)
    out *= 0.5 / np.max(np.abs(out))
    return out.astype(np.float32)
