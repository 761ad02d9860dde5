"""Sample-rate conversion with soxr, whole signals and streams.

Streamed audio must be resampled by one stateful resampler: resampling each chunk on its own restarts
the filter at every join and leaves clicks (and a few samples too many or too few) there.
"""

from __future__ import annotations

import numpy as np
import soxr

#: soxr quality preset: "HQ" is transparent for speech and about twice as fast as "VHQ".
DEFAULT_QUALITY = "HQ"


def as_mono_float32(audio: np.ndarray) -> np.ndarray:
    """``audio`` as a contiguous 1-D float32 array; (n, 1) and (1, n) shapes are accepted.

    Raises:
        ValueError: more than one channel.
    """
    array = np.asarray(audio)
    if array.ndim == 2 and 1 in array.shape:
        array = array.reshape(-1)
    if array.ndim != 1:
        raise ValueError(f"Expected mono audio (a 1-D array), got shape {array.shape}.")
    return np.ascontiguousarray(array, dtype=np.float32)


def resample(audio: np.ndarray, in_rate: int, out_rate: int, quality: str = DEFAULT_QUALITY) -> np.ndarray:
    """``audio`` (mono float) converted from ``in_rate`` to ``out_rate`` Hz, as float32.

    The output has ``round(len(audio) * out_rate / in_rate)`` samples.
    """
    audio = as_mono_float32(audio)
    if in_rate == out_rate or audio.size == 0:
        return audio.copy() if in_rate == out_rate else np.zeros(0, np.float32)
    return soxr.resample(audio, in_rate, out_rate, quality=quality).astype(np.float32, copy=False)


class StreamResampler:
    """Resamples audio that arrives in chunks, without seams at the joins.

    ``process`` returns what is ready so far (soxr holds back a few milliseconds of filter delay);
    ``flush`` returns the rest. The concatenated outputs equal :func:`resample` of the whole signal
    up to float rounding. A resampler whose rates are equal passes chunks through.
    """

    def __init__(self, in_rate: int, out_rate: int, quality: str = DEFAULT_QUALITY) -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError(f"Sample rates must be positive, got {in_rate} -> {out_rate}.")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._stream = (
            None
            if in_rate == out_rate
            else soxr.ResampleStream(in_rate, out_rate, 1, dtype="float32", quality=quality)
        )
        self._flushed = False

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """Feed one chunk; returns the output samples ready so far (possibly none)."""
        if self._flushed:
            raise RuntimeError("StreamResampler.process() called after flush().")
        chunk = as_mono_float32(chunk)
        if self._stream is None:
            return chunk.copy()
        return self._stream.resample_chunk(chunk, last=False)

    def flush(self) -> np.ndarray:
        """End of input: returns the samples still held back. The resampler cannot be fed afterwards."""
        if self._flushed:
            return np.zeros(0, np.float32)
        self._flushed = True
        if self._stream is None:
            return np.zeros(0, np.float32)
        return self._stream.resample_chunk(np.zeros(0, np.float32), last=True)
