"""Sounds the voice does not make: silence, breaths, bleeps, and gain ramps over parts of an utterance."""

from __future__ import annotations

import numpy as np

_RAMP_SECONDS = 0.005


def lead(utterance, rate: int, samples: int) -> np.ndarray:
    """Silence before an utterance, with a soft breath at its end for each ``amazon:breath``."""
    audio = np.zeros(samples, dtype=np.float32)
    breath_len = int(0.35 * rate)
    for n in range(min(utterance.breaths_before, samples // max(breath_len, 1))):
        end = samples - n * breath_len
        audio[end - breath_len : end] = breath(rate, breath_len, seed=n)
    return audio


def breath(rate: int, samples: int, seed: int = 0) -> np.ndarray:
    """An inhalation: band-limited noise (~500-3000 Hz) under a rise-and-fall envelope, about -34 dBFS."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(samples).astype(np.float32)
    spectrum = np.fft.rfft(noise)
    freqs = np.fft.rfftfreq(samples, 1 / rate)
    spectrum *= np.exp(-(((np.log(np.maximum(freqs, 1)) - np.log(1200)) / 0.8) ** 2))
    shaped = np.fft.irfft(spectrum, samples).astype(np.float32)
    envelope = np.sin(np.linspace(0, np.pi, samples, dtype=np.float32)) ** 2
    shaped *= envelope
    peak = np.abs(shaped).max()
    return shaped * np.float32(0.02 / peak) if peak > 0 else shaped


def tone(seconds: float, rate: int, frequency: float = 1000.0) -> np.ndarray:
    """A bleep (say-as expletive): a sine at -12 dBFS with 10 ms fades."""
    t = np.arange(int(round(seconds * rate)), dtype=np.float32) / rate
    audio = 0.25 * np.sin(2 * np.pi * frequency * t).astype(np.float32)
    fade = min(len(audio) // 2, int(0.01 * rate))
    if fade:
        ramp = np.linspace(0, 1, fade, dtype=np.float32)
        audio[:fade] *= ramp
        audio[-fade:] *= ramp[::-1]
    return audio


def apply_gain(audio: np.ndarray, start: int, end: int, gain: float, rate: int) -> None:
    """Scale ``audio[start:end]`` in place by ``gain`` with short ramps, so no click at the edges."""
    start, end = max(0, start), min(len(audio), end)
    if end <= start:
        return
    envelope = np.full(end - start, gain, dtype=np.float32)
    ramp = min((end - start) // 2, int(_RAMP_SECONDS * rate))
    if ramp:
        envelope[:ramp] = np.linspace(1.0, gain, ramp, dtype=np.float32)
        envelope[-ramp:] = np.linspace(gain, 1.0, ramp, dtype=np.float32)
    audio[start:end] *= envelope
