"""A Polly speech request (SynthesizeSpeech, StartSpeechSynthesisTask, SageMaker invocations): its fields,
Polly's checks in Polly's order, and what it turns into (a SynthesisRequest, a format, a rate, marks).

boto3 validates no enum and no pattern, so every check Polly does on the server happens here, with
Polly's error types and messages that say what to change.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from voicesmith.audio.formats import get_format, resolve_rate
from voicesmith.audio.stream import encoded_chunks
from voicesmith.engine.marks import marks_to_json_lines
from voicesmith.engine.requests import SynthesisRequest
from voicesmith.engine.synthesizer import SynthesisStream, Synthesizer
from voicesmith.errors import (
    AudioDurationExceededError,
    MarksNotSupportedForFormatError,
    TextLengthExceededError,
    ValidationError,
)
from voicesmith.text.ssml import Break, SsmlDocument, TextRun, check_speech_mark_types, parse_ssml
from voicesmith.text.ssml.speech_marks import SPEECH_MARK_TYPES
from voicesmith.text.unicode import check_text

_LOGGER = logging.getLogger(__name__)

OUTPUT_FORMATS = ("json", "mp3", "ogg_opus", "ogg_vorbis", "pcm", "mulaw", "alaw")
ENGINES = ("standard", "neural", "long-form", "generative")
DEFAULT_ENGINE = "standard"
"""Polly's engine when a request names none."""
SUPPORTED_ENGINES = ENGINES
"""Every voice speaks under every engine name: the engine is recorded, the voice is the same."""
TEXT_TYPES = ("ssml", "text")
MAX_MARK_TYPES = 4
MARKS_CONTENT_TYPE = "application/x-json-stream"


@dataclass(frozen=True)
class TextLimits:
    """Polly's character limits: all characters, and billed ones (text without SSML tags)."""

    total: int
    billed: int


SPEECH_LIMITS = TextLimits(total=6000, billed=3000)
TASK_LIMITS = TextLimits(total=200_000, billed=100_000)


class PollySpeechFields(BaseModel):
    """The body of SynthesizeSpeech (and the speech part of StartSpeechSynthesisTask)."""

    model_config = ConfigDict(extra="ignore")

    Text: str
    VoiceId: str
    OutputFormat: str
    TextType: str = "text"
    Engine: str | None = None
    LanguageCode: str | None = None
    LexiconNames: list[str] = Field(default_factory=list)
    SampleRate: str | None = None
    SpeechMarkTypes: list[str] = Field(default_factory=list)
    # voicesmith extensions (raw HTTP clients; boto3 validates its own parameters, so it cannot send
    # them: with boto3 use SSML <amazon:emotion>): an emotion for the whole text, and its strength.
    Emotion: str | None = None
    EmotionIntensity: float = 1.0


@dataclass(frozen=True)
class PreparedSpeech:
    """A validated Polly speech request."""

    request: SynthesisRequest
    output_format: str
    """An audio format name, or ``json`` for speech marks."""
    sample_rate: int | None
    """Output rate of audio; None for marks."""
    mark_types: tuple[str, ...]
    billed_characters: int

    @property
    def content_type(self) -> str:
        if self.output_format == "json":
            return MARKS_CONTENT_TYPE
        return get_format(self.output_format).content_type


def enum_error(value: object, field: str, allowed: tuple[str, ...]) -> ValidationError:
    return ValidationError(
        f"1 validation error detected: Value {value!r} at '{field}' failed to satisfy constraint: "
        f"Member must satisfy enum value set: [{', '.join(allowed)}]"
    )


def check_engine(engine: str | None) -> str:
    """The request's engine (Polly's default ``standard`` when none is named). Every engine is served by
    the same voices; an engine outside Polly's four is a ValidationException, as on Polly."""
    if engine is None:
        return DEFAULT_ENGINE
    if engine not in ENGINES:
        raise enum_error(engine, "engine", ENGINES)
    return engine


def billed_characters(text: str, text_type: str) -> int:
    """Characters Polly bills: the text, without SSML tags (entities count once). Validates the SSML."""
    return _measure(text, text_type)[0]


def _measure(text: str, text_type: str) -> tuple[int, float, SsmlDocument | None]:
    """Billed characters, the seconds of ``<break>`` silence (which Polly does not bill), and the parsed
    SSML (None for text), which the synthesis request carries so the SSML is parsed once."""
    if text_type != "ssml":
        return len(text), 0.0, None
    document = parse_ssml(text)
    billed = sum(len(item.text) for item in document if isinstance(item, TextRun))
    return billed, sum(item.time_ms for item in document if isinstance(item, Break)) / 1000.0, document


def prepare(
    fields: PollySpeechFields,
    limits: TextLimits,
    lexicons: list[object],
    max_audio_seconds: float | None = None,
) -> PreparedSpeech:
    """Check a Polly speech request the way Polly does and build the synthesis request.

    ``lexicons`` are the parsed lexicons named by ``LexiconNames`` (the caller looks them up, so
    LexiconNotFound comes from there). ``max_audio_seconds``: the longest audio the request may make
    (None: the synthesizer's per-request limit); SSML breaks beyond it are refused here, the rest when
    the request is planned, before any audio.
    """
    check_text(fields.Text, "Text")
    if fields.OutputFormat not in OUTPUT_FORMATS:
        raise enum_error(fields.OutputFormat, "outputFormat", OUTPUT_FORMATS)
    if fields.TextType not in TEXT_TYPES:
        raise enum_error(fields.TextType, "textType", TEXT_TYPES)
    check_engine(fields.Engine)
    if len(fields.SpeechMarkTypes) > MAX_MARK_TYPES:
        raise ValidationError(
            f"1 validation error detected: Value at 'speechMarkTypes' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_MARK_TYPES}"
        )
    for mark_type in fields.SpeechMarkTypes:
        if mark_type not in SPEECH_MARK_TYPES:
            raise enum_error(mark_type, "speechMarkTypes", SPEECH_MARK_TYPES)
    if fields.OutputFormat == "json":
        if not fields.SpeechMarkTypes:
            raise ValidationError(
                "OutputFormat 'json' gives speech marks: name at least one in SpeechMarkTypes"
            )
        marks = tuple(sorted(check_speech_mark_types(fields.TextType, fields.SpeechMarkTypes)))
    elif fields.SpeechMarkTypes:
        raise MarksNotSupportedForFormatError(
            f"speech marks come only with OutputFormat 'json', not {fields.OutputFormat!r}: "
            "set OutputFormat to 'json' or drop SpeechMarkTypes"
        )
    else:
        marks = ()
    if len(fields.Text) > limits.total:
        raise TextLengthExceededError(
            f"the text is {len(fields.Text)} characters; the limit is {limits.total} characters in all "
            f"({limits.billed} billed): split it, or use StartSpeechSynthesisTask for long text"
        )
    billed, silence, document = _measure(fields.Text, fields.TextType)
    if billed > limits.billed:
        raise TextLengthExceededError(
            f"the text has {billed} billed characters (without SSML tags); the limit is {limits.billed}"
        )
    if max_audio_seconds is not None and silence > max_audio_seconds:
        raise AudioDurationExceededError(
            f"the SSML's breaks alone last {silence:.0f} s; the limit is {max_audio_seconds:g} s of audio "
            f"per {'task' if limits is TASK_LIMITS else 'request'}: shorten or remove breaks"
        )
    rate = None
    if fields.OutputFormat != "json":
        fmt = get_format(fields.OutputFormat)
        # Without a SampleRate, Polly's default for the format (pcm: 16000) - clients rely on it.
        rate = resolve_rate(fmt, fields.SampleRate if fields.SampleRate is not None else fmt.default_rate)
    request = SynthesisRequest(
        text=fields.Text,
        voice=fields.VoiceId,
        text_type=fields.TextType,
        lexicons=tuple(lexicons),
        emotion=fields.Emotion,
        intensity=fields.EmotionIntensity,
        max_audio_seconds=max_audio_seconds,
        document=document,
    )
    return PreparedSpeech(request, fields.OutputFormat, rate, marks, billed)


def encoded_audio(
    synthesizer: Synthesizer,
    speech: PreparedSpeech,
    stream: SynthesisStream | None = None,
    api: str = "polly",
) -> Iterator[bytes]:
    """The encoded audio, as it is made. The first ``next()`` plans and validates the whole request
    (unless an already opened ``stream`` is given). ``api`` labels the audio in /metrics."""
    from voicesmith.server.metrics import measured

    chunks = measured(iter(stream if stream is not None else synthesizer.open(speech.request)), api)
    yield from encoded_chunks(chunks, speech.output_format, speech.sample_rate)


def speech_marks_lines(synthesizer: Synthesizer, speech: PreparedSpeech) -> bytes:
    """Polly's json output: one speech mark per line."""
    return marks_to_json_lines(synthesizer.speech_marks(speech.request, speech.mark_types))


def output_bytes(synthesizer: Synthesizer, speech: PreparedSpeech) -> Iterator[bytes]:
    """Audio or marks, whichever the request asks for."""
    if speech.output_format == "json":
        yield speech_marks_lines(synthesizer, speech)
    else:
        yield from encoded_audio(synthesizer, speech)
