"""A synthesis stream to encoded bytes: the one encode loop every door and the CLI share.

A synthesis stream is a series of chunks (mono float32 ``audio`` at the voice's ``sample_rate``); a
door wants bytes of one format at one rate. :class:`ChunkEncoder` starts its :class:`StreamEncoder` on
the first chunk (the input rate is the voice's, known only then) and :func:`encoded_chunks` runs it
over a whole stream. Doors that send more than audio (OpenAI's SSE marks, ElevenLabs' alignment,
Wyoming's events) walk the stream themselves and feed each chunk to a :class:`ChunkEncoder`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

import numpy as np

from voicesmith.audio.encode import StreamEncoder


class AudioChunk(Protocol):
    """What the encoder reads of a synthesis chunk (``engine`` chunks, ``SpokenChunk``)."""

    @property
    def audio(self) -> np.ndarray: ...

    @property
    def sample_rate(self) -> int: ...


class ChunkEncoder:
    """Encodes the chunks of one synthesis stream to ``fmt`` at ``out_rate`` (None: the format's rate
    for the voice's, as :func:`~voicesmith.audio.formats.resolve_rate` chooses). ``same_rate``: at the
    stream's own rate, never resampled (InvalidSampleRateError where the format does not allow it)."""

    def __init__(self, fmt: str, out_rate: int | None = None, *, same_rate: bool = False) -> None:
        self.format = fmt
        self.requested_rate = out_rate
        self.same_rate = same_rate
        self.encoder: StreamEncoder | None = None
        """None until the first chunk."""

    @property
    def started(self) -> bool:
        """Whether a chunk has been fed (a stream with no chunk has no audio, not even a header)."""
        return self.encoder is not None

    def feed(self, chunk: AudioChunk) -> bytes:
        """The bytes that are final after this chunk (possibly none)."""
        if self.encoder is None:
            rate = chunk.sample_rate if self.same_rate else self.requested_rate
            self.encoder = StreamEncoder(self.format, chunk.sample_rate, rate)
        return self.encoder.feed(chunk.audio)

    def close(self) -> bytes:
        """The rest of the file; b"" when no chunk came (nothing was started)."""
        return self.encoder.close() if self.encoder is not None else b""


def encoded_chunks(chunks: Iterable[AudioChunk], fmt: str, out_rate: int | None = None) -> Iterator[bytes]:
    """A whole stream's bytes, as they are made: ``b"".join(...)`` is a complete file of ``fmt``.

    The first item is always the first chunk's bytes, even when the encoder holds them back (b""): the
    first ``next()`` is where the first audio is made, so callers run it before they answer (errors
    then become proper error answers). After that only non-empty blocks, then the tail (b"" for the
    raw formats). A stream without chunks gives nothing.
    """
    encoder = ChunkEncoder(fmt, out_rate)
    iterator = iter(chunks)
    try:
        for chunk in iterator:
            yield encoder.feed(chunk)
            break
        else:
            return
        for chunk in iterator:
            data = encoder.feed(chunk)
            if data:
                yield data
        yield encoder.close()
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:  # closed early (client gone): the synthesis stops with it
            close()
