"""Encode mono float audio to the output formats, whole or as a stream, and decode it back.

Everything libsndfile can write goes through soundfile: WAV, FLAC, Ogg Vorbis, Ogg Opus, MP3 (LAME,
libsndfile >= 1.1) and the raw formats (PCM s16le, G.711 mu-law and A-law as RAW ULAW/ALAW subtypes).
AAC goes through PyAV (:mod:`voicesmith.audio.aac`).

Streaming: :class:`StreamEncoder` writes through one ``soundfile.SoundFile`` onto a seekable sink that
hands out bytes as soon as libsndfile has written them. Encoders that seek back at the end to patch a
header (LAME's Info/Xing frame, libFLAC's STREAMINFO) cannot patch bytes already sent; per format:

- pcm, mulaw, alaw: bytes for every chunk at once.
- wav: a 44-byte header whose RIFF and data sizes are 0xFFFFFFFF ("unknown, read to the end"; the
  convention of streaming WAV servers: libsndfile, ffmpeg and Python's ``wave`` read such files to
  EOF), then PCM as it comes. :func:`encode` writes exact sizes.
- mp3: frames as LAME finishes them. MP3 is constant bit rate so that readers which estimate the
  length from the first frame (libsndfile does, when there is no Info frame) get it right. The
  streamed output leaves out LAME's Info-frame placeholder (a frame of zeros it would fill at the
  end), so it has no gapless information: decoders add the codec delay (~1105 samples) at the start.
- ogg_vorbis, ogg_opus: Ogg pages as libogg closes them (headers with the first audio, then a page
  every 0.5-1 s of speech). libsndfile gives each Ogg stream a random serial number; voicesmith
  rewrites it (and each page's CRC) to one derived from the first audio, so the same request gives
  the same bytes, as in every other format.
- flac: everything at close() (see ``AudioFormat.streams``).
- aac: ADTS frames as the encoder produces them.
"""

from __future__ import annotations

import hashlib
import io
import logging
import struct
import zlib
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import soundfile as sf

from voicesmith.audio.aac import AacWriter, decode_aac
from voicesmith.audio.formats import AudioFormat, get_format, resolve_rate
from voicesmith.audio.resample import StreamResampler, as_mono_float32, resample
from voicesmith.audio.sink import ByteSink, lame_placeholder_length
from voicesmith.errors import AudioDecodeError, InvalidSampleRateError

_LOGGER = logging.getLogger(__name__)

#: LAME CBR level: ~64 kbit/s at 16-24 kHz, 128 at 44.1/48 kHz, 24-32 at 8 kHz.
_MP3_COMPRESSION_LEVEL = 0.65
_DECODE_BLOCK = 1 << 16


@dataclass(frozen=True)
class _SfSpec:
    container: str
    subtype: str
    endian: str | None = None
    bitrate_mode: str | None = None
    compression_level: float | None = None


_SF_SPECS: dict[str, _SfSpec] = {
    "wav": _SfSpec("WAV", "PCM_16"),
    "pcm": _SfSpec("RAW", "PCM_16", endian="LITTLE"),
    "mulaw": _SfSpec("RAW", "ULAW"),
    "alaw": _SfSpec("RAW", "ALAW"),
    "flac": _SfSpec("FLAC", "PCM_16"),
    "ogg_vorbis": _SfSpec("OGG", "VORBIS"),
    "ogg_opus": _SfSpec("OGG", "OPUS"),
    "mp3": _SfSpec(
        "MP3", "MPEG_LAYER_III", bitrate_mode="CONSTANT", compression_level=_MP3_COMPRESSION_LEVEL
    ),
}
_STREAMED_WAV = _SfSpec("RAW", "PCM_16", endian="LITTLE")


class _Writer(Protocol):
    def write(self, audio: np.ndarray) -> bytes: ...

    def close(self) -> bytes: ...


def _bit_reversed_bytes() -> bytes:
    return bytes(int(f"{value:08b}"[::-1], 2) for value in range(256))


_REVERSED = _bit_reversed_bytes()
_OGG_HEADER = struct.Struct("<4sBBqIIIB")
"""capture pattern, version, header type, granule position, serial, page sequence, CRC, segments."""


def ogg_crc(page: bytes) -> int:
    """Ogg's page checksum (CRC-32, polynomial 0x04C11DB7, not reflected, no init/final XOR).

    zlib's CRC-32 is the reflected form of the same polynomial: fed bit-reversed bytes, starting from
    an all-zero register and not inverted at the end, it gives the Ogg CRC bit-reversed.
    """
    reflected = zlib.crc32(page.translate(_REVERSED), 0xFFFFFFFF) ^ 0xFFFFFFFF
    return int(f"{reflected:032b}"[::-1], 2)


class OggSerialRewriter:
    """Sets the serial number of every Ogg page passing through (and its CRC), page by page.

    The serial is the first audio's digest unless given: until the first audio is fed, pages are held.
    """

    def __init__(self, serial: int | None = None) -> None:
        self.serial = serial
        self._pending = bytearray()

    def feed(self, data: bytes, audio: np.ndarray | None = None) -> bytes:
        if self.serial is None and audio is not None and audio.size:
            self.serial = stream_serial(np.ascontiguousarray(audio, dtype=np.float32).tobytes())
        self._pending += data
        return self._pages(final=False)

    def close(self, data: bytes) -> bytes:
        if self.serial is None:
            self.serial = stream_serial(b"")
        self._pending += data
        return self._pages(final=True)

    def _pages(self, final: bool) -> bytes:
        if self.serial is None:
            return b""
        out = bytearray()
        buffer = self._pending
        position = 0
        while len(buffer) - position >= _OGG_HEADER.size:
            fields = _OGG_HEADER.unpack_from(buffer, position)
            if fields[0] != b"OggS":
                raise ValueError("not an Ogg page boundary in the encoder's output")
            segments = fields[7]
            table_end = position + _OGG_HEADER.size + segments
            if len(buffer) < table_end:
                break
            end = table_end + sum(buffer[table_end - segments : table_end])
            if len(buffer) < end:
                break
            page = bytearray(buffer[position:end])
            struct.pack_into("<I", page, 14, self.serial)
            struct.pack_into("<I", page, 22, 0)
            struct.pack_into("<I", page, 22, ogg_crc(bytes(page)))
            out += page
            position = end
        del buffer[:position]
        if final and buffer:
            raise ValueError(f"the encoder's output ends with {len(buffer)} bytes that are not a whole page")
        return bytes(out)


def stream_serial(*parts: bytes) -> int:
    """A 32-bit Ogg stream serial derived from ``parts``."""
    digest = hashlib.blake2b(digest_size=4)
    for part in parts:
        digest.update(part)
    return int.from_bytes(digest.digest(), "little")


class _SoundfileWriter:
    """One SoundFile on a ByteSink; with ``streaming`` it hands out bytes after every write."""

    def __init__(self, fmt: AudioFormat, rate: int, streaming: bool) -> None:
        self._streaming = streaming and fmt.streams
        spec = _SF_SPECS[fmt.name]
        self._prefix = b""
        if fmt.name == "wav" and self._streaming:
            spec = _STREAMED_WAV
            self._prefix = _streaming_wav_header(rate)
        self._strip_placeholder = fmt.name == "mp3" and self._streaming
        # A codec file with no samples at all is not readable back (MP3: no frame; FLAC, Opus: no
        # audio packet): those get one silent sample. Sample formats and WAV are fine empty.
        self._pad_if_empty = fmt.name not in ("wav", "pcm", "mulaw", "alaw")
        self._ogg = OggSerialRewriter() if spec.container == "OGG" else None
        self._sink = ByteSink()
        self._file = sf.SoundFile(
            self._sink,
            "w",
            samplerate=rate,
            channels=1,
            subtype=spec.subtype,
            endian=spec.endian,
            format=spec.container,
            compression_level=spec.compression_level,
            bitrate_mode=spec.bitrate_mode,
        )

    def write(self, audio: np.ndarray) -> bytes:
        if audio.size:
            self._file.write(audio)
            self._pad_if_empty = False
        if self._ogg is not None and self._ogg.serial is None and audio.size:
            self._ogg.feed(b"", audio)  # the serial comes from the first audio (pages are held till then)
        return self._take(final=False) if self._streaming else b""

    def close(self) -> bytes:
        if self._pad_if_empty:
            self._file.write(np.zeros(1, np.float32))
        self._file.close()
        return self._take(final=True)

    def _take(self, final: bool) -> bytes:
        if self._strip_placeholder:
            skip = lame_placeholder_length(self._sink.peek())
            if skip is None and not final:
                return b""  # wait until the first frame is complete
            self._strip_placeholder = False
            data = self._sink.take()[skip or 0 :]
        else:
            data = self._sink.take()
        if self._ogg is not None:
            data = self._ogg.close(data) if final else self._ogg.feed(data)
        prefix, self._prefix = self._prefix, b""
        return prefix + data


def _streaming_wav_header(rate: int) -> bytes:
    """RIFF/WAVE header for 16-bit mono PCM of unknown length (sizes 0xFFFFFFFF)."""
    unknown = 0xFFFFFFFF
    fmt_chunk = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, rate, rate * 2, 2, 16)
    riff = struct.pack("<4sI4s", b"RIFF", unknown, b"WAVE")
    return riff + fmt_chunk + struct.pack("<4sI", b"data", unknown)


def _make_writer(fmt: AudioFormat, rate: int, streaming: bool) -> _Writer:
    if fmt.name == "aac":
        return AacWriter(rate)
    return _SoundfileWriter(fmt, rate, streaming)


def _prepare(audio: np.ndarray) -> np.ndarray:
    """Mono float32 in [-1, 1]: clipped here so integer conversion can never wrap around."""
    audio = as_mono_float32(audio)
    if not np.isfinite(audio).all():
        _LOGGER.warning("Audio holds NaN or infinite samples; encoding them as silence.")
        audio = np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(audio, -1.0, 1.0)


def encode(audio: np.ndarray, sample_rate: int, fmt: str, out_rate: int | None = None) -> bytes:
    """Encode a whole mono float32 signal (values in [-1, 1]; louder samples are clipped).

    Args:
        audio: 1-D float array at ``sample_rate`` Hz.
        sample_rate: rate of ``audio``.
        fmt: a format name from :data:`voicesmith.audio.formats.FORMATS`.
        out_rate: output rate; None keeps ``sample_rate`` where the format allows it
            (see :func:`~voicesmith.audio.formats.resolve_rate`).

    Raises:
        UnsupportedFormatError: unknown format.
        InvalidSampleRateError: ``out_rate`` not allowed for the format.
    """
    spec = get_format(fmt)
    rate = resolve_rate(spec, out_rate, sample_rate)
    audio = _prepare(audio)
    if rate != sample_rate:
        audio = np.clip(resample(audio, sample_rate, rate), -1.0, 1.0)
    writer = _make_writer(spec, rate, streaming=False)
    return writer.write(audio) + writer.close()


class StreamEncoder:
    """Encodes audio that arrives in chunks; each call returns the bytes ready so far.

    ``b"".join([enc.feed(c) for c in chunks] + [enc.close()])`` is a complete file of ``fmt`` that
    decodes to the same audio as :func:`encode` of the joined chunks (within codec tolerance; see the
    module docstring for what each format emits early). Resampling, when ``out_rate`` differs from
    ``in_rate``, is seamless across chunks. Usable as a context manager (closing discards the tail).
    """

    def __init__(self, fmt: str, in_rate: int, out_rate: int | None = None) -> None:
        self.format = get_format(fmt)
        self.in_rate = in_rate
        self.out_rate = resolve_rate(self.format, out_rate, in_rate)
        self._resampler = StreamResampler(in_rate, self.out_rate) if in_rate != self.out_rate else None
        self._writer = _make_writer(self.format, self.out_rate, streaming=True)
        self._closed = False

    @property
    def content_type(self) -> str:
        return self.format.content_type

    def feed(self, chunk: np.ndarray) -> bytes:
        """Encode one chunk at ``in_rate``; returns the bytes that are final (possibly none)."""
        if self._closed:
            raise RuntimeError("StreamEncoder.feed() called after close().")
        audio = _prepare(chunk)
        if self._resampler is not None:
            audio = np.clip(self._resampler.process(audio), -1.0, 1.0)
        return self._writer.write(audio)

    def close(self) -> bytes:
        """End of input: returns the remaining bytes. Calling it again returns b""."""
        if self._closed:
            return b""
        self._closed = True
        tail = b""
        if self._resampler is not None:
            tail = self._writer.write(np.clip(self._resampler.flush(), -1.0, 1.0))
        return tail + self._writer.close()

    def __enter__(self) -> StreamEncoder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def decode(data: bytes, fmt: str | None = None, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Decode encoded audio to mono float32 and its rate (channels are averaged).

    Args:
        data: the encoded bytes.
        fmt: the format name; None detects it from the header (raw formats cannot be detected).
        sample_rate: the rate of headerless data (pcm, mulaw, alaw); ignored otherwise.

    Raises:
        UnsupportedFormatError: unknown ``fmt``.
        InvalidSampleRateError: a raw format without ``sample_rate``.
        AudioDecodeError: the data cannot be read.
    """
    spec = get_format(fmt) if fmt is not None else None
    if spec is not None and spec.name == "aac":
        return decode_aac(data)
    if spec is not None and not spec.has_header:
        if not sample_rate:
            raise InvalidSampleRateError(f"Decoding headerless {spec.name} audio needs its sample rate.")
        sf_spec = _SF_SPECS[spec.name]
        raw = {"samplerate": sample_rate, "channels": 1, "subtype": sf_spec.subtype, "endian": sf_spec.endian}
        return _read_soundfile(data, format="RAW", **raw)
    try:
        return _read_soundfile(data)
    except AudioDecodeError as error:
        if spec is not None:
            raise
        try:
            return decode_aac(data)  # the one headered format libsndfile cannot read
        except AudioDecodeError:
            raise AudioDecodeError(
                f"Cannot decode the audio data as WAV, FLAC, Ogg, MP3 or AAC ({error.message})."
            ) from error


def _read_soundfile(data: bytes, **kwargs: object) -> tuple[np.ndarray, int]:
    """Read with libsndfile in blocks until EOF: streamed files may declare no (or a wrong) length."""
    parts: list[np.ndarray] = []
    try:
        with sf.SoundFile(io.BytesIO(data), "r", **kwargs) as source:
            rate = source.samplerate
            while True:
                block = source.read(_DECODE_BLOCK, dtype="float32", always_2d=True)
                if not len(block):
                    break
                parts.append(block.mean(axis=1) if block.shape[1] > 1 else block[:, 0])
                if len(block) < _DECODE_BLOCK:
                    break
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        raise AudioDecodeError(f"Cannot decode the audio data: {error}") from error
    audio = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return audio.astype(np.float32, copy=False), rate
