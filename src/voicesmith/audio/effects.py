"""Signal transforms a neural voice cannot do by itself: Polly's SSML prosody pitch and amazon:effect
(whispered, phonation="soft", vocal-tract-length, drc), and the prosody of emotion rendering.

All functions take and return mono float32 arrays and keep the length exactly. Pitch, vocal tract
length, whisper and breathiness go through one WORLD analysis/resynthesis (:mod:`.world`); tilt, gain,
compression and fades work on samples. :class:`Transform` bundles them so that a sentence is analysed
once whatever it asks for.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from voicesmith.audio import world
from voicesmith.audio.resample import as_mono_float32
from voicesmith.errors import ValidationError

_LOGGER = logging.getLogger(__name__)

#: Polly's vocal-tract-length accepts -50 % .. +100 %.
VTL_MIN_PERCENT = -50.0
VTL_MAX_PERCENT = 100.0
#: Breathiness used for Polly's phonation="soft" (0: none, 1: the upper bands all noise).
SOFT_PHONATION_AMOUNT = 0.6
#: Whispered speech is this much quieter (RMS) than the voiced input; Polly's whisper is also softer.
WHISPER_LEVEL_DB = -6.0
_TILT_FLOOR_HZ = 50.0


def gain_db(audio: np.ndarray, db: float) -> np.ndarray:
    """``audio`` scaled by ``db`` decibels (no clipping here: the encoder clips)."""
    return (as_mono_float32(audio) * np.float32(10.0 ** (db / 20.0))).astype(np.float32)


def fade(
    audio: np.ndarray, sample_rate: int, ms: float = 10.0, *, fade_in: bool = True, fade_out: bool = True
) -> np.ndarray:
    """Raised-cosine fade-in and/or fade-out of ``ms`` milliseconds (shortened to half the signal)."""
    out = as_mono_float32(audio).copy()
    n = min(int(round(sample_rate * ms / 1000.0)), out.size // 2)
    if n <= 0:
        return out
    ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n, endpoint=False))).astype(np.float32)
    if fade_in:
        out[:n] *= ramp
    if fade_out:
        out[out.size - n :] *= ramp[::-1]
    return out


def spectral_tilt(
    audio: np.ndarray,
    sample_rate: int,
    db_per_octave: float,
    *,
    pivot_hz: float = 1000.0,
    keep_level: bool = True,
) -> np.ndarray:
    """Tilt the spectrum by ``db_per_octave`` around ``pivot_hz`` (positive: brighter, as in anger).

    A zero-phase FFT filter whose gain is exactly ``db_per_octave * log2(f / pivot_hz)`` dB (held
    constant below 50 Hz). With ``keep_level`` the RMS level is restored afterwards, so only the
    balance between low and high frequencies changes.
    """
    x = as_mono_float32(audio)
    if db_per_octave == 0 or x.size == 0:
        return x.copy()
    n_fft = 1 << math.ceil(math.log2(x.size + 2048))  # padding keeps the filter's tails from wrapping
    frequencies = np.maximum(np.fft.rfftfreq(n_fft, 1.0 / sample_rate), _TILT_FLOOR_HZ)
    response = 10.0 ** (db_per_octave * np.log2(frequencies / pivot_hz) / 20.0)
    y = np.fft.irfft(np.fft.rfft(x, n_fft) * response, n_fft)[: x.size]
    if keep_level:
        y *= _rms(x) / max(_rms(y), 1e-12)
    return y.astype(np.float32)


def drc(
    audio: np.ndarray,
    sample_rate: int,
    *,
    threshold_db: float = -20.0,
    ratio: float = 4.0,
    knee_db: float = 6.0,
    attack_ms: float = 5.0,
    release_ms: float = 100.0,
) -> np.ndarray:
    """Dynamic range compression, like Polly's amazon:effect name="drc": quiet parts come up.

    A feed-forward compressor: the peak level per millisecond above ``threshold_db`` (relative to the
    signal's own peak, so the effect does not depend on the input level) is reduced by ``ratio`` with
    a soft knee; the gain falls ``attack_ms`` ahead of an onset (look-ahead) and recovers with
    ``release_ms``. Make-up gain then
    brings the peak back to the input's peak (at most 0.97), so the result is louder and never clips.
    """
    x = as_mono_float32(audio)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak == 0.0:
        return x.copy()
    block = max(1, sample_rate // 1000)
    n_blocks = -(-x.size // block)
    padded = np.zeros(n_blocks * block, np.float32)
    padded[: x.size] = np.abs(x)
    level = 20.0 * np.log10(np.maximum(padded.reshape(n_blocks, block).max(axis=1), 1e-9) / peak)
    target = _gain_reduction(level, threshold_db, ratio, knee_db)
    smoothed = _smooth_gain(target, block / sample_rate, attack_ms / 1000.0, release_ms / 1000.0)
    centres = (np.arange(n_blocks) + 0.5) * block
    gain = 10.0 ** (np.interp(np.arange(x.size), centres, smoothed) / 20.0)
    y = x * gain
    out_peak = float(np.max(np.abs(y)))
    return (y * (min(peak, 0.97) / out_peak)).astype(np.float32)


def _gain_reduction(level_db: np.ndarray, threshold: float, ratio: float, knee: float) -> np.ndarray:
    over = level_db - threshold
    slope = 1.0 / ratio - 1.0
    gain = np.where(over > knee / 2, slope * over, 0.0)
    in_knee = np.abs(over) <= knee / 2
    if knee > 0:
        gain = np.where(in_knee, slope * (over + knee / 2) ** 2 / (2 * knee), gain)
    return gain


def _smooth_gain(target: np.ndarray, step: float, attack: float, release: float) -> np.ndarray:
    """Smooth the gain (dB) without letting an onset through: it may fall early, never late.

    A forward pass drops at once and recovers with the ``release`` time constant; a backward pass
    then spreads each drop ``attack`` ahead of the onset (look-ahead, as the whole sentence is at
    hand). The result is never above the target gain, so peaks never overshoot.
    """
    a_attack = math.exp(-step / attack) if attack > 0 else 0.0
    a_release = math.exp(-step / release) if release > 0 else 0.0
    values = target.tolist()
    current = 0.0
    for i, value in enumerate(values):
        current = min(value, a_release * current + (1.0 - a_release) * value)
        values[i] = current
    current = 0.0
    for i in range(len(values) - 1, -1, -1):
        current = min(values[i], a_attack * current + (1.0 - a_attack) * values[i])
        values[i] = current
    return np.asarray(values)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


@dataclass(frozen=True)
class Transform:
    """A set of voice transforms applied in one go (identity by default).

    Order: one WORLD pass (pitch and range, vocal tract length, whisper or breathiness), then tilt,
    compression and gain.
    """

    semitones: float = 0.0
    """F0 shift in semitones (SSML prosody pitch "+2st", or "+10%" as 12 * log2(1.1))."""
    range_scale: float = 1.0
    """F0 excursions around the utterance median multiplied by this (1: unchanged, 0: monotone)."""
    tilt_db_per_octave: float = 0.0
    """Spectral tilt in dB per octave around 1 kHz, level kept (positive: brighter)."""
    gain_db: float = 0.0
    """Final gain in dB (SSML prosody volume)."""
    whisper: bool = False
    """Unvoiced resynthesis (amazon:effect name="whispered"); F0 and breathiness are then moot."""
    soft: float = 0.0
    """Breathiness 0..1 (phonation="soft" is SOFT_PHONATION_AMOUNT)."""
    vtl_percent: float = 0.0
    """Vocal tract length change in % (amazon:effect vocal-tract-length), -50..+100."""
    drc: bool = False
    """Dynamic range compression (amazon:effect name="drc")."""

    def __post_init__(self) -> None:
        if not VTL_MIN_PERCENT <= self.vtl_percent <= VTL_MAX_PERCENT:
            raise ValidationError(
                f"Vocal tract length change {self.vtl_percent:+g}% is out of range: use "
                f"{VTL_MIN_PERCENT:+g}% to {VTL_MAX_PERCENT:+g}%."
            )
        if not 0.0 <= self.soft <= 1.0:
            raise ValidationError(f"Breathiness {self.soft} is out of range: use 0 to 1.")
        if self.range_scale < 0:
            raise ValidationError(f"Pitch range scale {self.range_scale} is negative: use 0 or more.")

    @property
    def needs_world(self) -> bool:
        pitch = self.semitones != 0 or self.range_scale != 1
        return self.whisper or pitch or self.soft > 0 or self.vtl_percent != 0

    @property
    def is_identity(self) -> bool:
        return not (self.needs_world or self.tilt_db_per_octave or self.gain_db or self.drc)

    def combined(self, inner: Transform) -> Transform:
        """This transform with ``inner`` nested inside it (nested SSML prosody/effect tags)."""
        vtl = ((1 + self.vtl_percent / 100) * (1 + inner.vtl_percent / 100) - 1) * 100
        return Transform(
            semitones=self.semitones + inner.semitones,
            range_scale=self.range_scale * inner.range_scale,
            tilt_db_per_octave=self.tilt_db_per_octave + inner.tilt_db_per_octave,
            gain_db=self.gain_db + inner.gain_db,
            whisper=self.whisper or inner.whisper,
            soft=max(self.soft, inner.soft),
            vtl_percent=float(np.clip(vtl, VTL_MIN_PERCENT, VTL_MAX_PERCENT)),
            drc=self.drc or inner.drc,
        )

    def apply(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """The transformed audio: float32, same length as ``audio``."""
        out = as_mono_float32(audio)
        if self.is_identity:
            return out.copy()
        if self.needs_world:
            out = self._world_pass(out, sample_rate)
        if self.tilt_db_per_octave:
            out = spectral_tilt(out, sample_rate, self.tilt_db_per_octave)
        if self.drc:
            out = drc(out, sample_rate)
        if self.gain_db:
            out = gain_db(out, self.gain_db)
        return out

    def _world_pass(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        if not world.analyzable(audio, sample_rate):
            _LOGGER.debug("Audio too short or silent for WORLD (%d samples); left unchanged.", audio.size)
            return audio.copy()
        # Whisper replaces the aperiodicity with noise: no need to measure it.
        features = world.analyze(audio, sample_rate, aperiodicity=not self.whisper)
        if self.vtl_percent:
            features.sp = world.warp_envelope(features.sp, self.vtl_percent)
        if self.whisper:
            out = world.synthesize_noise(features)
            return out * np.float32(_rms(audio) / max(_rms(out), 1e-12) * 10.0 ** (WHISPER_LEVEL_DB / 20.0))
        features.f0 = world.shift_f0(features.f0, self.semitones, self.range_scale)
        if self.soft:
            features.ap = world.breathier(features.ap, features.bin_frequencies, self.soft)
        return world.synthesize(features)


def pitch_shift(
    audio: np.ndarray, sample_rate: int, semitones: float = 0.0, range_scale: float = 1.0
) -> np.ndarray:
    """F0 moved by ``semitones`` and its range around the utterance median scaled; duration kept."""
    return Transform(semitones=semitones, range_scale=range_scale).apply(audio, sample_rate)


def whisper(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Whispered version: the spectral envelope excited by noise only, 6 dB quieter (RMS)."""
    return Transform(whisper=True).apply(audio, sample_rate)


def soft_phonation(audio: np.ndarray, sample_rate: int, amount: float = SOFT_PHONATION_AMOUNT) -> np.ndarray:
    """Breathier voice (Polly's phonation="soft"): aperiodicity raised by ``amount`` (0..1)."""
    return Transform(soft=amount).apply(audio, sample_rate)


def vocal_tract_length(audio: np.ndarray, sample_rate: int, percent: float) -> np.ndarray:
    """Voice of a vocal tract ``percent`` % longer (-50..+100; positive sounds bigger/deeper)."""
    return Transform(vtl_percent=percent).apply(audio, sample_rate)
