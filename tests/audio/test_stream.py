"""The one encode loop (audio/stream.py): a synthesis stream's chunks to a file's bytes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from voicesmith.audio.encode import StreamEncoder, decode
from voicesmith.audio.stream import ChunkEncoder, encoded_chunks
from voicesmith.errors import InvalidSampleRateError

from .signals import chirp_signal

RATE = 22050


@dataclass
class Chunk:
    audio: np.ndarray
    sample_rate: int = RATE


def _chunks(audio: np.ndarray, size: int = 2205) -> list[Chunk]:
    return [Chunk(audio[i : i + size]) for i in range(0, audio.size, size)]


@pytest.mark.parametrize(("fmt", "rate"), [("wav", None), ("mp3", 24000), ("ogg_opus", None), ("pcm", 16000)])
def test_same_bytes_as_the_stream_encoder(fmt, rate):
    audio = chirp_signal(RATE)
    blocks = list(encoded_chunks(_chunks(audio), fmt, rate))
    encoder = StreamEncoder(fmt, RATE, rate)
    expected = b"".join([encoder.feed(c.audio) for c in _chunks(audio)] + [encoder.close()])
    assert b"".join(blocks) == expected
    assert all(blocks[1:-1])  # only the first (made before the answer starts) and the tail may be empty
    if fmt != "pcm":
        decoded, out_rate = decode(b"".join(blocks), fmt)
        assert out_rate == (rate or StreamEncoder(fmt, RATE).out_rate)
        assert decoded.size > 0


def test_first_block_comes_with_the_first_chunk_even_when_empty():
    made = []

    def chunks():
        for chunk in _chunks(chirp_signal(RATE)):
            made.append(chunk)
            yield chunk

    blocks = encoded_chunks(chunks(), "flac")  # flac holds everything back until close
    assert next(blocks) == b"" and len(made) == 1
    rest = list(blocks)
    assert rest[-1].startswith(b"fLaC")


def test_an_empty_stream_gives_nothing():
    assert list(encoded_chunks(iter([]), "wav")) == []
    encoder = ChunkEncoder("wav")
    assert not encoder.started and encoder.close() == b""


def test_closing_early_closes_the_synthesis():
    closed = []

    def chunks():
        try:
            while True:
                yield Chunk(np.zeros(1000, dtype=np.float32))
        finally:
            closed.append(True)

    blocks = encoded_chunks(chunks(), "pcm")
    next(blocks), next(blocks)
    blocks.close()
    assert closed == [True]


def test_rate_from_the_first_chunk_and_same_rate():
    encoder = ChunkEncoder("ogg_opus")
    encoder.feed(Chunk(np.zeros(100, dtype=np.float32)))
    assert encoder.encoder.out_rate == 24000  # opus has no 22050: the next rate above
    with pytest.raises(InvalidSampleRateError):
        ChunkEncoder("ogg_opus", same_rate=True).feed(Chunk(np.zeros(100, dtype=np.float32)))
    kept = ChunkEncoder("pcm", same_rate=True)
    kept.feed(Chunk(np.zeros(100, dtype=np.float32)))
    assert kept.encoder.out_rate == RATE
