from __future__ import annotations

import struct

import numpy as np
import pytest

from voicesmith.audio.encode import StreamEncoder, decode, encode
from voicesmith.audio.formats import FORMATS
from voicesmith.audio.resample import resample
from voicesmith.audio.sink import lame_placeholder_length, mp3_frame_length
from voicesmith.errors import AudioDecodeError, InvalidSampleRateError, UnsupportedFormatError

from .signals import aligned_correlation, chirp_signal

SOURCE_RATE = 22050
# Samples a decoder may give back beyond the encoded length: one codec frame (AAC: its 1024-sample
# priming, which ADTS cannot signal, plus the padded last frame).
FRAME_TOLERANCE = {"mp3": 1152, "ogg_vorbis": 2048, "ogg_opus": 960, "aac": 2048}
# Lowest waveform correlation with the input, after alignment.
MIN_CORRELATION = {"pcm": 0.99999, "wav": 0.99999, "flac": 0.99999, "mulaw": 0.999, "alaw": 0.999}
LOSSY_CORRELATION = 0.95
CASES = [(name, rate) for name, spec in FORMATS.items() for rate in spec.sample_rates]


@pytest.fixture(scope="module")
def chirp() -> np.ndarray:
    return chirp_signal(SOURCE_RATE)


def _stream(fmt: str, audio: np.ndarray, out_rate: int | None, chunk: int = 1103) -> list[bytes]:
    encoder = StreamEncoder(fmt, SOURCE_RATE, out_rate)
    outputs = [encoder.feed(audio[i : i + chunk]) for i in range(0, audio.size, chunk)]
    outputs.append(encoder.close())
    return outputs


@pytest.mark.parametrize(("fmt", "rate"), CASES)
def test_round_trip(chirp, fmt, rate):
    data = encode(chirp, SOURCE_RATE, fmt, rate)
    decoded, decoded_rate = decode(data, fmt, sample_rate=rate)
    assert decoded_rate == rate
    expected = resample(chirp, SOURCE_RATE, rate)
    assert 0 <= decoded.size - expected.size <= FRAME_TOLERANCE.get(fmt, 0)
    _, correlation = aligned_correlation(expected, decoded)
    assert correlation > MIN_CORRELATION.get(fmt, LOSSY_CORRELATION)


def test_lossless_formats_keep_16_bit_samples(chirp):
    expected = np.round(chirp * 32767) / 32767
    for fmt in ("pcm", "wav", "flac"):
        decoded, _ = decode(encode(chirp, SOURCE_RATE, fmt), fmt, sample_rate=SOURCE_RATE)
        np.testing.assert_allclose(decoded * 32768 / 32767, expected, atol=1.5 / 32767)


def test_pcm_is_signed_16_bit_little_endian():
    data = encode(np.array([0.0, 0.5, -1.0, 1.0], np.float32), 16000, "pcm")
    assert struct.unpack("<4h", data) == (0, 16384, -32768, 32767)


def test_loud_input_is_clipped_not_wrapped():
    loud = np.array([1.7, -2.5, 0.25], np.float32)
    for fmt in ("pcm", "wav", "mulaw"):
        decoded, _ = decode(encode(loud, 8000, fmt), fmt, sample_rate=8000)
        assert decoded[0] > 0.97
        assert decoded[1] < -0.97
        assert decoded[2] == pytest.approx(0.25, abs=0.01)


def test_default_rate_keeps_the_source_rate(chirp):
    _, rate = decode(encode(chirp, SOURCE_RATE, "mp3"))
    assert rate == SOURCE_RATE


@pytest.mark.parametrize("fmt", ["wav", "flac", "ogg_vorbis", "ogg_opus", "mp3", "aac"])
def test_decode_detects_headered_formats(chirp, fmt):
    rate = 24000
    decoded, decoded_rate = decode(encode(chirp, SOURCE_RATE, fmt, rate))
    assert decoded_rate == rate
    assert decoded.size >= chirp.size * rate // SOURCE_RATE


STREAM_CASES = [(name, rate) for name in FORMATS for rate in (None, FORMATS[name].sample_rates[-1])]


@pytest.mark.parametrize(("fmt", "rate"), STREAM_CASES)
def test_stream_decodes_like_whole_encode(chirp, fmt, rate):
    whole, out_rate = decode(encode(chirp, SOURCE_RATE, fmt, rate), fmt, sample_rate=rate or 8000)
    streamed, streamed_rate = decode(b"".join(_stream(fmt, chirp, rate)), fmt, sample_rate=out_rate)
    assert streamed_rate == out_rate
    lag, correlation = aligned_correlation(whole, streamed)
    if fmt == "mp3":
        assert lag == 1105  # the LAME Info frame (gapless data) cannot be patched into a stream
    else:
        assert lag == 0
    assert 0 <= streamed.size - lag - whole.size <= FRAME_TOLERANCE.get(fmt, 0)
    assert correlation > 0.999


@pytest.mark.parametrize("fmt", ["pcm", "mulaw", "alaw"])
def test_raw_stream_bytes_equal_whole_encode(chirp, fmt):
    rate = 8000
    assert b"".join(_stream(fmt, chirp, rate)) == encode(chirp, SOURCE_RATE, fmt, rate)


def test_wav_stream_has_an_unknown_size_header(chirp):
    streamed = b"".join(_stream("wav", chirp, None))
    whole = encode(chirp, SOURCE_RATE, "wav")
    assert streamed[:4] == b"RIFF" and streamed[8:16] == b"WAVEfmt "
    assert struct.unpack("<I", streamed[4:8])[0] == 0xFFFFFFFF
    assert streamed[36:40] == b"data" and struct.unpack("<I", streamed[40:44])[0] == 0xFFFFFFFF
    assert streamed[44:] == whole[44:]


@pytest.mark.parametrize("fmt", [name for name, spec in FORMATS.items() if spec.streams])
def test_stream_emits_audio_before_close(fmt):
    audio = chirp_signal(SOURCE_RATE, seconds=4.0)
    outputs = _stream(fmt, audio, None, chunk=SOURCE_RATE // 10)
    early = sum(len(part) for part in outputs[:-1])
    # More than headers: most of the audio is out before close().
    assert early > 0.6 * sum(len(part) for part in outputs)
    if not FORMATS[fmt].has_header or fmt == "wav":
        assert outputs[0]  # sample formats: bytes for the very first chunk


def test_flac_stream_comes_whole_at_close(chirp):
    outputs = _stream("flac", chirp, None)
    assert not any(outputs[:-1])
    assert outputs[-1] == encode(chirp, SOURCE_RATE, "flac")


def test_mp3_stream_starts_with_a_real_frame(chirp):
    streamed = b"".join(_stream("mp3", chirp, 24000))
    whole = encode(chirp, SOURCE_RATE, "mp3", 24000)
    assert lame_placeholder_length(streamed) == 0
    length = mp3_frame_length(whole[:4])
    assert length and (b"Info" in whole[:length] or b"Xing" in whole[:length])


def test_lame_placeholder_detection():
    header = bytes([0xFF, 0xF3, 0x84, 0xC4])  # MPEG-2 Layer III, 64 kbit/s, 24 kHz: 192-byte frames
    assert mp3_frame_length(header) == 192
    assert lame_placeholder_length(header + bytes(188) + header) == 192
    assert lame_placeholder_length(header + bytes(50)) is None
    assert lame_placeholder_length(header + b"\x01" + bytes(187)) == 0
    assert lame_placeholder_length(b"OggS" + bytes(200)) == 0


def test_stream_encoder_is_closed_once():
    encoder = StreamEncoder("pcm", 16000)
    encoder.feed(np.zeros(160, np.float32))
    encoder.close()
    assert encoder.close() == b""
    with pytest.raises(RuntimeError):
        encoder.feed(np.zeros(160, np.float32))


def test_unknown_format_is_rejected(chirp):
    with pytest.raises(UnsupportedFormatError, match="ogg_vorbis"):
        encode(chirp, SOURCE_RATE, "m4a")
    with pytest.raises(UnsupportedFormatError):
        StreamEncoder("speex", SOURCE_RATE)


def test_bad_rate_is_rejected(chirp):
    with pytest.raises(InvalidSampleRateError, match="48000"):
        encode(chirp, SOURCE_RATE, "ogg_opus", 44100)
    with pytest.raises(InvalidSampleRateError, match="8000"):
        StreamEncoder("alaw", SOURCE_RATE, 16000)


def test_decode_errors():
    with pytest.raises(InvalidSampleRateError, match="sample rate"):
        decode(b"\x00\x01", "pcm")
    with pytest.raises(AudioDecodeError):
        decode(b"this is not audio at all" * 20)
    with pytest.raises(AudioDecodeError):
        decode(b"RIFF-broken" * 10, "wav")


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_empty_audio_gives_a_readable_file(fmt):
    rate = FORMATS[fmt].default_rate
    empty = np.zeros(0, np.float32)
    encoder = StreamEncoder(fmt, rate)
    streamed = encoder.feed(empty) + encoder.close()
    for data in (encode(empty, rate, fmt), streamed):
        decoded, decoded_rate = decode(data, fmt, sample_rate=rate)
        assert decoded_rate == rate
        assert decoded.size <= FRAME_TOLERANCE.get(fmt, 1)
        assert np.all(np.abs(decoded) < 1e-3)
