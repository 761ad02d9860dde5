from __future__ import annotations

import shutil
import subprocess

import numpy as np
import parselmouth
import pytest
import soundfile as sf

from voicesmith.audio import effects
from voicesmith.audio.effects import Transform
from voicesmith.audio.resample import resample
from voicesmith.errors import ValidationError

from .signals import harmonic_signal

RATE = 22050


@pytest.fixture(scope="module")
def voice() -> np.ndarray:
    return harmonic_signal(RATE)


def _pitch(audio: np.ndarray, rate: int = RATE) -> np.ndarray:
    """Praat's F0 per 10 ms frame, 0 where unvoiced."""
    pitch = parselmouth.Sound(audio.astype(np.float64), rate).to_pitch(0.01, 60.0, 600.0)
    return pitch.selected_array["frequency"]


def _semitones(f0: np.ndarray, reference: float) -> np.ndarray:
    return 12.0 * np.log2(f0[f0 > 0] / reference)


def _band_energy(audio: np.ndarray, low: float, high: float, rate: int = RATE) -> float:
    spectrum = np.abs(np.fft.rfft(audio)) ** 2
    frequencies = np.fft.rfftfreq(audio.size, 1 / rate)
    return float(spectrum[(frequencies >= low) & (frequencies < high)].sum())


def _centroid(audio: np.ndarray, rate: int = RATE) -> float:
    spectrum = np.abs(np.fft.rfft(audio)) ** 2
    return float((np.fft.rfftfreq(audio.size, 1 / rate) * spectrum).sum() / spectrum.sum())


def _crest(audio: np.ndarray) -> float:
    return float(np.max(np.abs(audio)) / np.sqrt(np.mean(audio.astype(np.float64) ** 2)))


@pytest.mark.parametrize("semitones", [2.0, -3.0])
def test_pitch_shift_moves_the_median_f0(voice, semitones):
    shifted = effects.pitch_shift(voice, RATE, semitones)
    assert shifted.dtype == np.float32
    assert shifted.size == voice.size
    before, after = _pitch(voice), _pitch(shifted)
    change = 12.0 * np.log2(np.median(after[after > 0]) / np.median(before[before > 0]))
    assert change == pytest.approx(semitones, abs=0.3)


def test_range_scale_widens_the_f0_range_around_the_median(voice):
    widened = effects.pitch_shift(voice, RATE, range_scale=1.5)
    before, after = _pitch(voice), _pitch(widened)
    median = float(np.median(before[before > 0]))
    spread = np.std(_semitones(after, median)) / np.std(_semitones(before, median))
    assert 1.3 < spread < 1.7
    assert 12.0 * np.log2(np.median(after[after > 0]) / median) == pytest.approx(0.0, abs=0.3)
    assert widened.size == voice.size


@pytest.mark.parametrize("tilt", [6.0, -6.0])
def test_spectral_tilt_changes_the_high_low_balance(voice, tilt):
    tilted = effects.spectral_tilt(voice, RATE, tilt)
    ratio_before = _band_energy(voice, 2000, 8000) / _band_energy(voice, 50, 1000)
    ratio_after = _band_energy(tilted, 2000, 8000) / _band_energy(tilted, 50, 1000)
    # Two to three octaves between the bands: at least 2 octaves' worth of tilt in power.
    assert np.sign(tilt) * 10 * np.log10(ratio_after / ratio_before) > 2 * abs(tilt)
    assert np.sqrt(np.mean(tilted**2)) == pytest.approx(np.sqrt(np.mean(voice**2)), rel=1e-3)
    assert tilted.size == voice.size


def test_whisper_removes_voicing(voice):
    assert np.mean(_pitch(voice) > 0) > 0.9
    whispered = effects.whisper(voice, RATE)
    assert whispered.size == voice.size
    assert np.mean(_pitch(whispered) > 0) < 0.1
    level = 20 * np.log10(np.sqrt(np.mean(whispered**2)) / np.sqrt(np.mean(voice**2)))
    assert level == pytest.approx(effects.WHISPER_LEVEL_DB, abs=0.5)


def test_soft_phonation_lowers_harmonicity(voice):
    def hnr(audio):
        harmonicity = parselmouth.Sound(audio.astype(np.float64), RATE).to_harmonicity()
        values = harmonicity.values[harmonicity.values > -200]
        return float(np.mean(values))

    soft = effects.soft_phonation(voice, RATE)
    assert soft.size == voice.size
    assert hnr(soft) < hnr(voice) - 3.0
    assert np.mean(_pitch(soft) > 0) > 0.8  # still voiced: breathy, not whispered


def test_gain_is_exact(voice):
    np.testing.assert_allclose(effects.gain_db(voice, -6.0), voice * 10 ** (-6 / 20), rtol=1e-6)
    np.testing.assert_allclose(effects.gain_db(voice, 20.0), voice * 10.0, rtol=1e-6)


def test_drc_lowers_the_crest_factor_without_clipping(voice):
    t = np.arange(voice.size) / RATE
    syllables = voice * (0.05 + 0.95 * np.abs(np.sin(2 * np.pi * 1.5 * t)) ** 4).astype(np.float32)
    compressed = effects.drc(syllables, RATE)
    assert compressed.size == syllables.size
    assert _crest(compressed) < 0.85 * _crest(syllables)
    assert np.max(np.abs(compressed)) <= np.max(np.abs(syllables)) + 1e-6


def test_drc_brings_quiet_passages_up_and_never_clips():
    quiet_then_loud = np.concatenate([0.05 * harmonic_signal(RATE, 1.0), 2.0 * harmonic_signal(RATE, 1.0)])
    compressed = effects.drc(quiet_then_loud, RATE)
    assert np.max(np.abs(compressed)) <= 0.97 + 1e-6
    before = np.std(quiet_then_loud[RATE:]) / np.std(quiet_then_loud[:RATE])
    after = np.std(compressed[RATE:]) / np.std(compressed[:RATE])
    assert after < before / 4


@pytest.mark.parametrize(("percent", "direction"), [(30.0, -1), (-30.0, 1)])
def test_vocal_tract_length_moves_the_spectral_centroid(voice, percent, direction):
    warped = effects.vocal_tract_length(voice, RATE, percent)
    assert warped.size == voice.size
    change = _centroid(warped) / _centroid(voice)
    assert (change - 1.0) * direction > 0.1
    after = _pitch(warped)  # timbre changes, pitch does not
    assert np.median(after[after > 0]) == pytest.approx(120.0, rel=0.03)


def test_fade(voice):
    faded = effects.fade(voice, RATE, ms=20)
    n = int(RATE * 0.02)
    assert faded[0] == 0.0 and abs(faded[-1]) < 1e-3
    np.testing.assert_array_equal(faded[n:-n], voice[n:-n])
    assert np.all(np.abs(faded[:n]) <= np.abs(voice[:n]) + 1e-7)


def test_transform_applies_everything_in_one_pass(voice):
    transform = Transform(
        semitones=2, range_scale=1.2, tilt_db_per_octave=3, gain_db=-3, soft=0.3, vtl_percent=10, drc=True
    )
    out = transform.apply(voice, RATE)
    assert out.size == voice.size and np.isfinite(out).all()
    after = _pitch(out)
    assert 12 * np.log2(np.median(after[after > 0]) / 120.0) == pytest.approx(2.0, abs=0.3)


def test_identity_transform_returns_the_input(voice):
    assert Transform().is_identity
    np.testing.assert_array_equal(Transform().apply(voice, RATE), voice)


def test_transforms_nest():
    outer, inner = Transform(semitones=2, vtl_percent=10, gain_db=-1), Transform(semitones=1, vtl_percent=10)
    both = outer.combined(inner)
    assert both.semitones == 3 and both.gain_db == -1
    assert both.vtl_percent == pytest.approx(21.0)


@pytest.mark.parametrize(
    "kwargs", [{"vtl_percent": 150}, {"vtl_percent": -60}, {"soft": 2}, {"range_scale": -1}]
)
def test_transform_rejects_out_of_range_values(kwargs):
    with pytest.raises(ValidationError):
        Transform(**kwargs)


@pytest.mark.parametrize("audio", [np.zeros(RATE // 2, np.float32), np.full(100, 0.1, np.float32)])
def test_silent_or_tiny_input_passes_through(audio):
    out = Transform(semitones=3, whisper=False, vtl_percent=20).apply(audio, RATE)
    np.testing.assert_array_equal(out, audio)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (make deb-test)")
def test_pitch_shift_on_real_speech(tmp_path):
    path = tmp_path / "speech.wav"
    subprocess.run(
        ["espeak-ng", "-w", str(path), "Hello there, this is a test of the pitch shifter."], check=True
    )
    speech, rate = sf.read(path, dtype="float32")
    speech = resample(speech, rate, RATE)
    shifted = effects.pitch_shift(speech, RATE, 2.0)
    before, after = _pitch(speech), _pitch(shifted)
    change = 12.0 * np.log2(np.median(after[after > 0]) / np.median(before[before > 0]))
    assert change == pytest.approx(2.0, abs=0.3)
    assert shifted.size == speech.size
    assert np.mean(_pitch(effects.whisper(speech, RATE)) > 0) < 0.1
