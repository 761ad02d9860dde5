"""Output formats: the one place that says what each format is, what it is called and what it allows.

Format names follow Amazon Polly's ``OutputFormat`` values (``mp3``, ``ogg_vorbis``, ``ogg_opus``,
``pcm``, ``mulaw``, ``alaw``) plus ``wav``, ``flac`` and ``aac`` for the OpenAI speech API and the CLI.
Polly's ``json`` (speech marks) is not audio and is not listed here.

Facts taken from the Polly API reference (SynthesizeSpeech): content types ``audio/mpeg`` (mp3),
``audio/ogg`` (ogg_vorbis, ogg_opus), ``audio/pcm`` (pcm: signed 16-bit little-endian mono, no header),
``audio/mulaw`` and ``audio/alaw`` (raw 8-bit G.711, no header); valid rates mp3/ogg_vorbis
8000/16000/22050/24000 (neural default 24000), pcm 8000/16000 (default 16000), ogg_opus 48000,
mulaw/alaw 8000. voicesmith accepts a superset (``sample_rates``); ``polly_rates`` keeps Polly's own
list for a front end that wants to be strict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath

from voicesmith.errors import InvalidSampleRateError, UnsupportedFormatError

#: Rates every format that has no narrower rule accepts.
STANDARD_RATES: tuple[int, ...] = (8000, 16000, 22050, 24000, 44100, 48000)
#: Opus encodes at these rates only (RFC 6716); 22050 and 44100 are not among them.
OPUS_RATES: tuple[int, ...] = (8000, 12000, 16000, 24000, 48000)
#: G.711 is defined at 8 kHz.
G711_RATES: tuple[int, ...] = (8000,)


@dataclass(frozen=True)
class AudioFormat:
    """What voicesmith knows about one output format."""

    name: str
    """The format's name, as Polly's ``OutputFormat`` spells it where Polly has it."""
    content_type: str
    """MIME type of the HTTP answer (Polly's value where Polly has the format)."""
    extension: str
    """File extension with the dot, for ``voicesmith say -o``."""
    sample_rates: tuple[int, ...]
    """Output rates voicesmith encodes at (ascending)."""
    default_rate: int
    """Rate used when the caller names none: Polly's default for neural voices, or the OpenAI API's 24000."""
    polly_rates: tuple[int, ...] = ()
    """Rates Amazon Polly accepts for this format; empty where Polly has no such format."""
    streams: bool = True
    """Whether bytes come out while audio is still being fed (False: everything comes at the end)."""
    lossless: bool = False
    """Whether decoding gives back the encoded 16-bit samples exactly."""
    has_header: bool = True
    """False for raw sample formats: a reader must be told the rate."""

    @property
    def is_polly_format(self) -> bool:
        return bool(self.polly_rates)


_POLLY_MP3_RATES = (8000, 16000, 22050, 24000)

FORMATS: dict[str, AudioFormat] = {
    f.name: f
    for f in (
        AudioFormat("mp3", "audio/mpeg", ".mp3", STANDARD_RATES, 24000, _POLLY_MP3_RATES),
        AudioFormat("ogg_vorbis", "audio/ogg", ".ogg", STANDARD_RATES, 24000, _POLLY_MP3_RATES),
        AudioFormat("ogg_opus", "audio/ogg", ".opus", OPUS_RATES, 48000, (48000,)),
        AudioFormat(
            "pcm", "audio/pcm", ".pcm", STANDARD_RATES, 16000, (8000, 16000), lossless=True, has_header=False
        ),
        AudioFormat(
            "mulaw", "audio/mulaw", ".ulaw", G711_RATES, 8000, G711_RATES, lossless=False, has_header=False
        ),
        AudioFormat(
            "alaw", "audio/alaw", ".alaw", G711_RATES, 8000, G711_RATES, lossless=False, has_header=False
        ),
        AudioFormat("wav", "audio/wav", ".wav", STANDARD_RATES, 24000, lossless=True),
        # libFLAC patches its header at the end; a streamed FLAC without that patch does not read back
        # reliably (libsndfile fails at EOF on an unknown length), so FLAC comes out whole at close().
        AudioFormat("flac", "audio/flac", ".flac", STANDARD_RATES, 24000, streams=False, lossless=True),
        AudioFormat("aac", "audio/aac", ".aac", STANDARD_RATES, 24000),
    )
}

#: Extra file extensions (lower case, with the dot) that map to a format.
_EXTENSION_ALIASES: dict[str, str] = {
    ".raw": "pcm",
    ".s16": "pcm",
    ".ul": "mulaw",
    ".mulaw": "mulaw",
    ".mu": "mulaw",
    ".al": "alaw",
    ".oga": "ogg_vorbis",
    ".wave": "wav",
    ".adts": "aac",
}


def get_format(name: str) -> AudioFormat:
    """The format called ``name`` (case-insensitive).

    Raises:
        UnsupportedFormatError: no such format; the message lists the known ones.
    """
    fmt = FORMATS.get(name.strip().lower()) if isinstance(name, str) else None
    if fmt is None:
        raise UnsupportedFormatError(f"Unsupported output format {name!r}: use one of {', '.join(FORMATS)}.")
    return fmt


def format_for_path(path: str | PurePath) -> AudioFormat:
    """The format a file name asks for by its extension (``out.mp3`` -> mp3, ``x.opus`` -> ogg_opus).

    Raises:
        UnsupportedFormatError: no extension, or one that no format uses.
    """
    suffix = PurePath(path).suffix.lower()
    for fmt in FORMATS.values():
        if fmt.extension == suffix:
            return fmt
    if suffix in _EXTENSION_ALIASES:
        return FORMATS[_EXTENSION_ALIASES[suffix]]
    known = sorted({f.extension for f in FORMATS.values()} | set(_EXTENSION_ALIASES))
    what = f"extension {suffix!r}" if suffix else "no extension"
    raise UnsupportedFormatError(
        f"Cannot tell the audio format of {str(path)!r} ({what}): use one of {', '.join(known)}, "
        "or name the format explicitly."
    )


def resolve_rate(fmt: str | AudioFormat, requested: int | str | None, source_rate: int | None = None) -> int:
    """The output rate to encode ``fmt`` at.

    An explicit ``requested`` rate (an int, or a string of digits as Polly's ``SampleRate`` is sent)
    must be one the format allows. Without one, the source rate is kept
    when the format allows it (no needless resampling); otherwise the nearest allowed rate at or above
    it is chosen (e.g. Piper's 22050 Hz becomes 24000 Hz for Opus), and without either, the format's
    default.

    Raises:
        InvalidSampleRateError: ``requested`` is not allowed for the format; the message lists what is.
    """
    spec = fmt if isinstance(fmt, AudioFormat) else get_format(fmt)
    if requested is not None:
        rate = _as_int(requested)
        if rate is None or rate not in spec.sample_rates:
            allowed = ", ".join(str(r) for r in spec.sample_rates)
            raise InvalidSampleRateError(
                f"Sample rate {requested!r} Hz is not supported for {spec.name}: use one of {allowed}."
            )
        return rate
    if source_rate is None:
        return spec.default_rate
    if source_rate in spec.sample_rates:
        return source_rate
    higher = [r for r in spec.sample_rates if r >= source_rate]
    return higher[0] if higher else spec.sample_rates[-1]


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    # ASCII digits only: str.isdigit() also accepts "²" or "٣", which int() refuses or reads otherwise.
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,9}", value.strip()):
        return int(value.strip())
    return None
