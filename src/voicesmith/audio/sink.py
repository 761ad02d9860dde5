"""A seekable file object that lets encoded bytes go as soon as they are written, and MP3 frame sniffing.

libsndfile writes through a file object it may seek on (soundfile's virtual I/O needs ``seek``,
``tell``, ``read`` and ``write``). :class:`ByteSink` keeps only the bytes not yet taken; a later
write into bytes already taken (an encoder patching its header at the end) is dropped, since those
bytes are already on their way to the client.
"""

from __future__ import annotations

import logging
import os

_LOGGER = logging.getLogger(__name__)


class ByteSink:
    """Write-only, seekable byte buffer whose finished prefix can be taken away."""

    def __init__(self) -> None:
        self._pending = bytearray()
        self._base = 0  # absolute offset of _pending[0]; everything before it was taken
        self._pos = 0

    def write(self, data: bytes) -> int:
        count = len(data)
        view = memoryview(data).cast("B")
        start = self._pos - self._base
        if start < 0:
            skip = min(-start, count)
            _LOGGER.debug("Dropping a %d-byte rewrite of data already sent (offset %d).", skip, self._pos)
            view = view[skip:]
            start = 0
        end = start + len(view)
        if end > len(self._pending):
            self._pending.extend(bytes(end - len(self._pending)))
        self._pending[start:end] = view
        self._pos += count
        return count

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            self._pos = offset
        elif whence == os.SEEK_CUR:
            self._pos += offset
        elif whence == os.SEEK_END:
            self._pos = self._base + len(self._pending) + offset
        else:
            raise ValueError(f"Invalid whence {whence}.")
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, size: int = -1) -> bytes:
        """Nothing to read: the sink is write-only (libsndfile never reads in write mode)."""
        return b""

    def peek(self) -> bytes:
        """The bytes not taken yet, left in place."""
        return bytes(self._pending)

    def take(self) -> bytes:
        """Hand out the bytes written so far; they can no longer be changed."""
        out = bytes(self._pending)
        self._base += len(self._pending)
        self._pending.clear()
        return out


# MPEG audio Layer III: bit rates (kbit/s) by index, and sample rates by version.
_L3_BITRATES = {
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def mp3_frame_length(header: bytes) -> int | None:
    """Length in bytes of the Layer III frame starting with ``header`` (4 bytes), None if not one."""
    if len(header) < 4 or header[0] != 0xFF or (header[1] & 0xE0) != 0xE0:
        return None
    version = (header[1] >> 3) & 0x3  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
    layer = (header[1] >> 1) & 0x3  # 1: Layer III
    bitrate_index = header[2] >> 4
    rate_index = (header[2] >> 2) & 0x3
    padding = (header[2] >> 1) & 0x1
    if version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    bitrate = _L3_BITRATES[1 if version == 3 else 2][bitrate_index] * 1000
    rate = _SAMPLE_RATES[version][rate_index]
    return (144 if version == 3 else 72) * bitrate // rate + padding


def lame_placeholder_length(data: bytes) -> int | None:
    """Length of LAME's empty Info-frame placeholder at the start of ``data``; 0 if there is none.

    LAME reserves its first frame for an Info/Xing tag (a frame header, then zeros) and fills it when
    the file is closed, by seeking back. Returns None while ``data`` is too short to tell.
    """
    if len(data) < 4:
        return None
    length = mp3_frame_length(data[:4])
    if length is None:
        return 0
    body = data[4:length]
    if any(body):
        return 0
    return length if len(data) >= length else None
