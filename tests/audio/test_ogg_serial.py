"""Ogg outputs are deterministic: the stream serial comes from the audio, and every page's CRC is right."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from voicesmith.audio.encode import StreamEncoder, decode, encode, ogg_crc


def _tone(seconds: float, frequency: float, rate: int = 22050) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def _pages(data: bytes) -> list[bytes]:
    pages, position = [], 0
    while position < len(data):
        assert data[position : position + 4] == b"OggS"
        segments = data[position + 26]
        table = data[position + 27 : position + 27 + segments]
        end = position + 27 + segments + sum(table)
        pages.append(data[position:end])
        position = end
    return pages


def _check_pages(data: bytes) -> int:
    serials = set()
    for page in _pages(data):
        stored = struct.unpack_from("<I", page, 22)[0]
        blank = bytearray(page)
        struct.pack_into("<I", blank, 22, 0)
        assert ogg_crc(bytes(blank)) == stored
        serials.add(struct.unpack_from("<I", page, 14)[0])
    assert len(serials) == 1
    return serials.pop()


@pytest.mark.parametrize("fmt", ["ogg_vorbis", "ogg_opus"])
def test_same_audio_same_bytes_whole_and_streamed(fmt):
    audio = _tone(2.0, 440)
    whole = encode(audio, 22050, fmt)
    assert whole == encode(audio, 22050, fmt)
    serial = _check_pages(whole)
    assert serial != _check_pages(encode(_tone(2.0, 330), 22050, fmt))

    def streamed() -> bytes:
        encoder = StreamEncoder(fmt, 22050)
        return b"".join(
            [encoder.feed(audio[i : i + 4000]) for i in range(0, len(audio), 4000)] + [encoder.close()]
        )

    first = streamed()
    assert first == streamed()
    _check_pages(first)
    decoded, _ = decode(first)
    assert len(decoded) > 0


def test_an_empty_stream_is_still_a_valid_ogg_file():
    encoder = StreamEncoder("ogg_vorbis", 22050)
    data = encoder.close()
    _check_pages(data)
    assert data == StreamEncoder("ogg_vorbis", 22050).close()
