"""Sounds the voice does not make: silence, breaths, bleeps, and gain ramps over parts of an utterance."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

_RAMP_SECONDS = 0.005
BREATH_SECONDS = 0.35
"""Length of one ``amazon:breath``."""


def lead_blocks(utterance, rate: int, samples: int, block: int) -> Iterator[np.ndarray]:
    """Silence before an utterance, with a soft breath at its end for each ``amazon:breath``, in blocks
    of at most ``block`` samples.

    A lead can be long (each ``<break>`` adds up to 10 s, and consecutive breaks add up: 314 of them
    are 52 minutes): made whole it would cost 4 bytes per sample at once, so it is made block by
    block, and only the blocks that hold breaths (at the lead's end) are more than zeros.
    """
    block = max(int(block), 1)
    breath_len = int(BREATH_SECONDS * rate)
    count = min(utterance.breaths_before, samples // max(breath_len, 1))
    breaths = [(samples - (n + 1) * breath_len, breath(rate, breath_len, seed=n)) for n in range(count)]
    for start in range(0, samples, block):
        end = min(samples, start + block)
        audio = np.zeros(end - start, dtype=np.float32)
        for breath_start, sound in breaths:
            a, b = max(start, breath_start), min(end, breath_start + breath_len)
            if a < b:
                audio[a - start : b - start] = sound[a - breath_start : b - breath_start]
        yield audio


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


def apply_gain(audio: np.ndarray, start: int, end: int, gain: float, rate: int, origin: int = 0) -> None:
    """Scale ``audio[start:end]`` in place by ``gain`` with short ramps, so no click at the edges.

    ``start`` and ``end`` count from ``origin``, the position of ``audio[0]``: a word's gain can be
    applied to each decoded window of a stream in turn (``origin`` = the window's position), with
    the same result as on the whole utterance.
    """
    length = end - start
    lo, hi = max(start, origin), min(end, origin + len(audio))
    if length <= 0 or hi <= lo:
        return
    ramp = min(length // 2, int(_RAMP_SECONDS * rate))
    positions = np.arange(lo - start, hi - start, dtype=np.float64)
    if ramp >= 2:
        envelope = np.interp(positions, [0, ramp - 1, length - ramp, length - 1], [1.0, gain, gain, 1.0])
    else:
        envelope = np.full(len(positions), gain)
    audio[lo - origin : hi - origin] *= envelope.astype(np.float32)
