from __future__ import annotations

import numpy as np
import pytest

from voicesmith.audio.resample import StreamResampler, resample

from .signals import chirp_signal


def _peak_frequency(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    return float(np.fft.rfftfreq(audio.size, 1 / rate)[np.argmax(spectrum)])


@pytest.mark.parametrize(("in_rate", "out_rate"), [(22050, 24000), (22050, 8000), (16000, 48000)])
def test_resample_keeps_duration_and_pitch(in_rate, out_rate):
    t = np.arange(in_rate) / in_rate
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    out = resample(tone, in_rate, out_rate)
    assert out.dtype == np.float32
    assert out.size == out_rate
    assert _peak_frequency(out, out_rate) == pytest.approx(440, abs=2)


def test_stream_resampler_has_no_seams():
    audio = chirp_signal(22050)
    whole = resample(audio, 22050, 24000)
    stream = StreamResampler(22050, 24000)
    sizes = [1, 511, 3000, 7, 20000]
    parts, start = [], 0
    for size in sizes * 10:
        parts.append(stream.process(audio[start : start + size]))
        start += size
    parts.append(stream.flush())
    joined = np.concatenate(parts)
    assert joined.size == whole.size
    np.testing.assert_allclose(joined, whole, atol=1e-5)


def test_stream_resampler_passes_equal_rates_through():
    audio = chirp_signal(16000, 0.2)
    stream = StreamResampler(16000, 16000)
    np.testing.assert_array_equal(np.concatenate([stream.process(audio), stream.flush()]), audio)


def test_stream_resampler_cannot_be_fed_after_flush():
    stream = StreamResampler(22050, 16000)
    stream.flush()
    with pytest.raises(RuntimeError):
        stream.process(np.zeros(10, np.float32))


def test_resample_rejects_stereo():
    with pytest.raises(ValueError, match="mono"):
        resample(np.zeros((100, 2), np.float32), 16000, 8000)
