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
