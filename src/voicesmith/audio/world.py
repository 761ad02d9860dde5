"""WORLD vocoder analysis/synthesis and the edits made on its parameters.

WORLD splits speech into F0 (pitch per frame), a smooth spectral envelope (the vocal tract) and band
aperiodicity (how noisy each band is). Pitch, vocal tract length, whisper and breathiness are edits on
those three, followed by one resynthesis; :class:`voicesmith.audio.effects.Transform` runs them all on
one analysis. F0 comes from Praat's autocorrelation tracker (parselmouth), then StoneMask: on the
bundled voice (F0 ~85 Hz, weak fundamental) both DIO and Harvest lock on the second harmonic (~155 Hz),
and a resynthesis at that F0 speaks an octave too high; Praat, pYIN and the cepstrum agree on ~85 Hz.
"""

from __future__ import annotations

import functools
import logging
import warnings
from dataclasses import dataclass

import numpy as np


@functools.cache
def _pyworld():
    """pyworld, imported on first use: it imports pkg_resources (~0.13 s), which a voice that applies
    no effect should not pay for at load. pyworld 0.3.x's pkg_resources warns on import (hence
    setuptools<81)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        import pyworld
    return pyworld


_LOGGER = logging.getLogger(__name__)

FRAME_PERIOD_MS = 5.0
F0_FLOOR_HZ = 60.0
F0_CEIL_HZ = 700.0
#: CheapTrick's floor sets its FFT size (three periods): WORLD's default 71 Hz gives 1024 points at
#: 22.05 kHz where 60 Hz would need 2048, for a third less time overall. Lower F0s are still tracked.
ENVELOPE_F0_FLOOR_HZ = 71.0
#: Shorter signals are returned unchanged: WORLD needs a few pitch periods to analyse anything.
MIN_SECONDS = 0.05


@dataclass
class WorldFeatures:
    """One WORLD analysis. Shapes: ``f0`` (frames,), ``sp`` and ``ap`` (frames, fft_size // 2 + 1)."""

    f0: np.ndarray
    """F0 in Hz per frame; 0 where unvoiced."""
    sp: np.ndarray
    """Spectral envelope (power) per frame and frequency bin."""
    ap: np.ndarray
    """Aperiodicity in [0, 1] per frame and bin (0: periodic, 1: noise)."""
    sample_rate: int
    length: int
    """Number of samples analysed; synthesis returns exactly this many."""

    @property
    def bin_frequencies(self) -> np.ndarray:
        bins = self.sp.shape[1]
        return np.linspace(0.0, self.sample_rate / 2, bins)


def analyzable(audio: np.ndarray, sample_rate: int) -> bool:
    return audio.size >= MIN_SECONDS * sample_rate and bool(np.any(audio))


def analyze(audio: np.ndarray, sample_rate: int, aperiodicity: bool = True) -> WorldFeatures:
    """WORLD analysis of mono audio. Without ``aperiodicity`` (its costliest part), ``ap`` is all ones."""
    x = np.ascontiguousarray(audio, dtype=np.float64)
    times = np.arange(int(len(x) / sample_rate * 1000 / FRAME_PERIOD_MS) + 1) * (FRAME_PERIOD_MS / 1000)
    f0 = track_f0(x, sample_rate, times)
    f0 = _pyworld().stonemask(x, f0, times, sample_rate)
    fft_size = _pyworld().get_cheaptrick_fft_size(sample_rate, ENVELOPE_F0_FLOOR_HZ)
    sp = _pyworld().cheaptrick(x, f0, times, sample_rate, f0_floor=ENVELOPE_F0_FLOOR_HZ, fft_size=fft_size)
    if aperiodicity:
        ap = _pyworld().d4c(x, f0, times, sample_rate, fft_size=fft_size)
    else:
        ap = np.ones_like(sp)
    return WorldFeatures(f0=f0, sp=sp, ap=ap, sample_rate=sample_rate, length=audio.size)


def track_f0(x: np.ndarray, sample_rate: int, times: np.ndarray) -> np.ndarray:
    """F0 in Hz at ``times`` (0 where unvoiced), from Praat's autocorrelation pitch tracker."""
    import parselmouth

    pitch = parselmouth.Sound(x, sample_rate).to_pitch_ac(
        time_step=FRAME_PERIOD_MS / 1000, pitch_floor=F0_FLOOR_HZ, pitch_ceiling=F0_CEIL_HZ
    )
    values = pitch.selected_array["frequency"]
    frame_times = pitch.xs()
    f0 = np.zeros(len(times))
    if not len(values):
        return f0
    nearest = np.clip(np.searchsorted(frame_times, times), 0, len(frame_times) - 1)
    previous = np.clip(nearest - 1, 0, len(frame_times) - 1)
    closer = np.where(
        np.abs(frame_times[previous] - times) < np.abs(frame_times[nearest] - times), previous, nearest
    )
    voiced = values[closer] > 0
    inside = (times >= frame_times[0] - FRAME_PERIOD_MS / 1000) & (
        times <= frame_times[-1] + FRAME_PERIOD_MS / 1000
    )
    f0[voiced & inside] = np.interp(times[voiced & inside], frame_times[values > 0], values[values > 0])
    return f0


def synthesize(features: WorldFeatures) -> np.ndarray:
    """Resynthesise float32 audio of exactly ``features.length`` samples."""
    y = _pyworld().synthesize(
        np.ascontiguousarray(features.f0),
        np.ascontiguousarray(features.sp),
        np.clip(np.ascontiguousarray(features.ap), 0.0, 1.0),
        features.sample_rate,
        FRAME_PERIOD_MS,
    )
    out = np.zeros(features.length, np.float32)
    n = min(out.size, y.size)
    out[:n] = y[:n]
    return out


def synthesize_noise(features: WorldFeatures, smooth_hz: float = 300.0, seed: int = 0) -> np.ndarray:
    """Whisper: white noise shaped by the spectral envelope, frame by frame (overlap-add).

    WORLD's own synthesis with F0 = 0 places its noise bursts on a 500 Hz grid, which pitch trackers
    hear as voicing; a stationary noise vocoder has no such grid. The envelope is first smoothed over
    ``smooth_hz`` (log power): whispered formants are broader, and noise through a narrow formant
    rings like a tone (without it Praat calls 5-10 % of the frames voiced). Deterministic per ``seed``.
    """
    n_fft = 2 * (features.sp.shape[1] - 1)
    hop = n_fft // 4
    n_frames = features.length // hop + 2
    # Envelope at each synthesis frame's centre, interpolated between WORLD frames in log power.
    position = np.clip(
        np.arange(n_frames) * hop / features.sample_rate * 1000.0 / FRAME_PERIOD_MS,
        0,
        features.sp.shape[0] - 1,
    )
    low = np.floor(position).astype(np.intp)
    high = np.minimum(low + 1, features.sp.shape[0] - 1)
    frac = (position - low)[:, np.newaxis]
    log_sp = _smooth_bins(np.log(np.maximum(features.sp, 1e-16)), smooth_hz / features.bin_frequencies[1])
    magnitude = np.exp(0.5 * (log_sp[low] * (1.0 - frac) + log_sp[high] * frac))
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(magnitude.shape) + 1j * rng.standard_normal(magnitude.shape)
    frames = np.fft.irfft(noise * magnitude, n_fft) * np.hanning(n_fft)
    out = np.zeros((n_frames + 3) * hop, np.float64)
    for i, frame in enumerate(frames):  # frame i is centred on sample i * hop
        out[i * hop : i * hop + n_fft] += frame
    start = n_fft // 2
    return out[start : start + features.length].astype(np.float32)


def _smooth_bins(values: np.ndarray, width_bins: float) -> np.ndarray:
    """Moving average along the last axis over ``width_bins`` bins (edges repeated)."""
    width = int(round(width_bins))
    if width <= 1:
        return values
    padded = np.pad(values, ((0, 0), (width // 2, width - 1 - width // 2)), mode="edge")
    sums = np.cumsum(padded, axis=1)
    sums = np.concatenate([np.zeros((sums.shape[0], 1)), sums], axis=1)
    return (sums[:, width:] - sums[:, :-width]) / width


def shift_f0(f0: np.ndarray, semitones: float, range_scale: float) -> np.ndarray:
    """F0 moved by ``semitones`` and its excursions around the utterance median scaled by ``range_scale``.

    Works in log frequency: a range scale of 1.5 makes every interval to the median 1.5 times wider.
    Unvoiced frames stay 0.
    """
    voiced = f0 > 0
    if not voiced.any() or (semitones == 0 and range_scale == 1):
        return f0.copy()
    log_f0 = np.log2(f0[voiced])
    median = float(np.median(log_f0))
    out = np.zeros_like(f0)
    out[voiced] = 2.0 ** (median + range_scale * (log_f0 - median) + semitones / 12.0)
    return out


def warp_envelope(sp: np.ndarray, percent: float) -> np.ndarray:
    """Spectral envelope of a vocal tract ``percent`` % longer (positive: formants lower, bigger voice).

    A tract longer by a factor ``a`` has its resonances at ``f / a``: the new envelope at ``f`` is the
    old one at ``f * a`` (the top bin repeats where that runs past Nyquist).
    """
    factor = 1.0 + percent / 100.0
    bins = sp.shape[1]
    source = np.minimum(np.arange(bins) * factor, bins - 1)
    low = np.floor(source).astype(np.intp)
    high = np.minimum(low + 1, bins - 1)
    frac = source - low
    # Interpolate in log power so formant peaks keep their shape.
    log_sp = np.log(np.maximum(sp, 1e-16))
    return np.exp(log_sp[:, low] * (1.0 - frac) + log_sp[:, high] * frac)


def breathier(ap: np.ndarray, frequencies: np.ndarray, amount: float) -> np.ndarray:
    """Aperiodicity raised towards noise by ``amount`` in [0, 1], more in the upper bands.

    Breathy (soft) phonation leaks air mostly above ~1 kHz; the low harmonics stay periodic enough for
    the pitch to be heard.
    """
    amount = float(np.clip(amount, 0.0, 1.0))
    weight = amount * np.clip(0.3 + 0.7 * frequencies / 3000.0, 0.0, 1.0)
    return 1.0 - (1.0 - ap) * (1.0 - weight[np.newaxis, :])
