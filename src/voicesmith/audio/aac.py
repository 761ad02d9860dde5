"""AAC (ADTS stream) through PyAV, the one format libsndfile cannot write.

ADTS is AAC's self-framing stream format: every frame carries its own header, so the output can be
sent as it is produced and concatenated, as the OpenAI speech API's ``aac`` answers are. The encoder
adds AAC's usual 1024 samples of priming at the start, which ADTS has no field to signal: a decoder
gives back up to two frames (2048 samples) more than was encoded, at the start and end.
"""

from __future__ import annotations

import io
import logging
from types import ModuleType

import numpy as np

from voicesmith.errors import AudioDecodeError, UnsupportedFormatError

_LOGGER = logging.getLogger(__name__)


def _import_av() -> ModuleType:
    try:
        import av
    except ImportError as error:  # pragma: no cover - av is a declared dependency
        raise UnsupportedFormatError(
            "The aac format needs PyAV: install it with `pip install av`, or choose another format."
        ) from error
    return av


class _Collector:
    """Write-only file object that keeps what the muxer writes until it is taken."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


class AacWriter:
    """Encodes mono float32 audio at ``rate`` Hz to an ADTS byte stream, chunk by chunk."""

    def __init__(self, rate: int) -> None:
        av = _import_av()
        self._av = av
        self._rate = rate
        self._out = _Collector()
        self._container = av.open(self._out, "w", format="adts")
        self._stream = self._container.add_stream("aac", rate=rate, layout="mono")
        self._pts = 0

    def write(self, audio: np.ndarray) -> bytes:
        if audio.size:
            frame = self._av.AudioFrame.from_ndarray(audio[np.newaxis, :], format="fltp", layout="mono")
            frame.sample_rate = self._rate
            frame.pts = self._pts
            self._pts += audio.size
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        return self._out.take()

    def close(self) -> bytes:
        if self._pts == 0:  # an ADTS stream without a frame is not readable: one silent sample
            self.write(np.zeros(1, np.float32))
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        return self._out.take()


def decode_aac(data: bytes) -> tuple[np.ndarray, int]:
    """Decode an ADTS AAC stream to mono float32 and its rate.

    Raises:
        AudioDecodeError: not a readable AAC stream.
    """
    av = _import_av()
    parts: list[np.ndarray] = []
    rate = 0
    try:
        with av.open(io.BytesIO(data), "r", format="adts") as container:
            for frame in container.decode(audio=0):
                rate = frame.sample_rate
                samples = frame.to_ndarray()
                if frame.format.is_planar:
                    parts.append(samples.mean(axis=0))
                else:  # interleaved: (1, n * channels)
                    channels = len(frame.layout.channels)
                    parts.append(samples.reshape(-1, channels).mean(axis=1))
    except av.error.FFmpegError as error:
        raise AudioDecodeError(f"Cannot decode the data as AAC (ADTS): {error}") from error
    if not parts:
        raise AudioDecodeError("Cannot decode the data as AAC (ADTS): no audio frames found.")
    return np.concatenate(parts).astype(np.float32, copy=False), rate
