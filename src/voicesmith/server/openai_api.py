"""OpenAI's speech API: ``POST /v1/audio/speech``, plus ``GET /v1/audio/voices`` and ``GET /v1/models``.

The stock ``openai`` SDK works with ``base_url="http://host:port/v1"``. Voices: any catalog voice id
(or Polly voice name), or one of OpenAI's voice names (:data:`OPENAI_VOICE_NAMES`, ``marin`` and
``cedar`` included), which speak with the bundled voice unless ``Settings.openai_voice_map`` names
another; ``{"id": "<voice>"}`` is accepted too. Models: ``tts-1``, ``tts-1-hd``, ``gpt-4o-mini-tts``,
their dated snapshots, and ``Settings.openai_model_aliases``. ``speed`` is a plain multiplier of the
duration (0.25 four times as long, 4.0 a quarter). Formats: mp3, opus (Ogg
Opus), aac, flac, wav, pcm (24 kHz signed 16-bit little-endian, no header), all at 24 kHz.
``instructions`` that name an emotion ("speak angrily") set the request's emotion
(:func:`emotion_from_instructions`).
``stream_format="sse"`` sends ``speech.audio.delta`` events (base64 audio) and a ``speech.audio.done``;
before the audio of each utterance, a ``speech.audio.marks`` event (a voicesmith extension, which
OpenAI's clients skip as an unknown event type) with its sentence and word marks, Polly's shape, ``time``
in ms from the start of the audio.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from voicesmith.audio.stream import ChunkEncoder
from voicesmith.engine.catalog import BUNDLED_VOICE_ID
from voicesmith.engine.requests import SynthesisRequest
from voicesmith.errors import ResourceNotFoundError, ValidationError, VoiceNotFoundError
from voicesmith.server.cache import cached, request_key
from voicesmith.server.deps import ServicesDep, openai_auth
from voicesmith.server.services import SYNTHESIS, Services
from voicesmith.server.speech import PreparedSpeech, encoded_audio
from voicesmith.settings import Settings
from voicesmith.text.ssml.speech_marks import TIMED_TEXT_MARK_TYPES
from voicesmith.text.unicode import check_text

_LOGGER = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["openai"], dependencies=[Depends(openai_auth)])

MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
_DATED_MODEL = re.compile(r"(tts-1|tts-1-hd|gpt-4o-mini-tts)-(\d{4}|\d{4}-\d{2}-\d{2})")
"""OpenAI's dated snapshots of the three families: ``tts-1-1106``, ``gpt-4o-mini-tts-2025-12-15``."""
MAX_INPUT_CHARACTERS = 4096
OUTPUT_RATE = 24000
DEFAULT_VOICE = BUNDLED_VOICE_ID
OPENAI_VOICE_NAMES = (
    "alloy",
    "ash",
    "ballad",
    "cedar",
    "coral",
    "echo",
    "fable",
    "marin",
    "nova",
    "onyx",
    "sage",
    "shimmer",
    "verse",
)
"""OpenAI's voice names. Each speaks with the voice ``Settings.openai_voice_map`` gives it, else the
bundled voice; a catalog voice with the same id as an OpenAI name wins over both."""
#: OpenAI's response_format -> our format name.
FORMATS = {"mp3": "mp3", "opus": "ogg_opus", "aac": "aac", "flac": "flac", "wav": "wav", "pcm": "pcm"}
#: Keywords in ``instructions`` -> emotion label the engine renders (first match wins, in this order).
_EMOTION_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("angry", ("angry", "angrily", "anger", "furious", "mad", "irritated", "annoyed", "shout")),
    ("sad", ("sad", "sorrow", "melanchol", "gloom", "mournful", "depressed", "unhappy", "tearful")),
    ("surprise", ("surprise", "astonish", "amazed", "shocked", "incredulous")),
    ("happy", ("happy", "happily", "cheerful", "joy", "glad", "upbeat", "excited", "enthusiastic")),
    ("neutral", ("neutral", "calm", "flat", "monotone")),
)
_WORD = re.compile(r"[a-z]+")


def emotion_from_instructions(instructions: str | None) -> str | None:
    """The emotion an instruction names ("Speak angrily!" -> "angry"), or None when it names none."""
    if not instructions:
        return None
    words = _WORD.findall(instructions.lower())
    for label, keys in _EMOTION_WORDS:
        if any(word.startswith(key) for word in words for key in keys):
            return label
    return None


class VoiceRef(BaseModel):
    id: str


class SpeechBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str
    input: str
    voice: str | VoiceRef = DEFAULT_VOICE
    response_format: str = "mp3"
    speed: float = Field(default=1.0)
    instructions: str | None = None
    stream_format: Literal["audio", "sse"] = "audio"


def openai_voices(settings: Settings) -> dict[str, str]:
    """OpenAI voice name -> the voice id that speaks it."""
    return {name: settings.openai_voice_map.get(name, DEFAULT_VOICE) for name in OPENAI_VOICE_NAMES}


def resolve_voice(services: Services, voice: str | VoiceRef) -> str:
    """A catalog voice id (or a Polly voice name), else an OpenAI voice name, to the voice that speaks."""
    name = voice.id if isinstance(voice, VoiceRef) else voice
    try:
        return services.voice(name).id
    except (VoiceNotFoundError, ValidationError):
        mapped = openai_voices(services.settings).get(name.lower())
        if mapped is None:
            known = sorted(set(OPENAI_VOICE_NAMES) | {v.id for v in services.synthesizer.voices()})
            raise _param_error(
                f"voice {name!r} is not available; use one of: {', '.join(known)}", "voice"
            ) from None
        return services.voice(mapped).id


def models(settings: Settings) -> list[str]:
    """The model ids listed: OpenAI's families, then the operator's aliases."""
    return [*MODELS, *(m for m in settings.openai_model_aliases if m not in MODELS)]


def check_model(settings: Settings, model: str) -> str:
    """OpenAI's models, their dated snapshots, and the operator's aliases; all speak alike."""
    if model in MODELS or _DATED_MODEL.fullmatch(model) or model in settings.openai_model_aliases:
        return model
    raise _param_error(
        f"model {model!r} is not available; use one of: {', '.join(models(settings))} "
        "(or a dated snapshot such as gpt-4o-mini-tts-2025-12-15)",
        "model",
    )


def _param_error(message: str, param: str) -> ValidationError:
    error = ValidationError(message)
    error.param = param  # type: ignore[attr-defined]
    return error


def _prepare(services: Services, body: SpeechBody) -> PreparedSpeech:
    check_model(services.settings, body.model)
    try:
        check_text(body.input, "input")
    except ValidationError as error:
        raise _param_error(error.message, "input") from None
    if not body.input.strip():
        raise _param_error("input is empty: give the text to speak", "input")
    if len(body.input) > MAX_INPUT_CHARACTERS:
        raise _param_error(
            f"input is {len(body.input)} characters; the maximum is {MAX_INPUT_CHARACTERS}", "input"
        )
    fmt = FORMATS.get(body.response_format)
    if fmt is None:
        raise _param_error(
            f"response_format {body.response_format!r} is not one of: {', '.join(FORMATS)}", "response_format"
        )
    if not 0.25 <= body.speed <= 4.0:
        raise _param_error(f"speed {body.speed} is out of range 0.25-4.0", "speed")
    voice = resolve_voice(services, body.voice)
    emotion = emotion_from_instructions(body.instructions)
    request = SynthesisRequest(
        text=body.input,
        voice=voice,
        rate=body.speed,  # a plain multiplier: the synthesizer scales durations exactly
        emotion=emotion,
    )
    return PreparedSpeech(request, fmt, OUTPUT_RATE, (), len(body.input))


def _sse(kind: str, **data: Any) -> bytes:
    return f"data: {json.dumps({'type': kind, **data})}\n\n".encode()


def _sse_parts(synthesizer, speech: PreparedSpeech) -> Iterator[tuple[bytes, list[dict]]]:
    """(encoded audio, speech marks of the utterances that start in it) as the audio is made."""
    encoder = ChunkEncoder(speech.output_format, speech.sample_rate)
    for chunk in synthesizer.open(speech.request):
        marks = [m.to_json() for m in chunk.marks if m.type in TIMED_TEXT_MARK_TYPES]
        yield encoder.feed(chunk), marks
    if encoder.started:
        yield encoder.close(), []


@router.post("/audio/speech", summary="Create speech (OpenAI)", dependencies=[SYNTHESIS])
async def create_speech(body: SpeechBody, services: ServicesDep) -> Response:
    if services.cache is None:
        speech = await services.pool.run(_prepare, services, body)
        return await _speech_response(services, body, speech)
    # Not in the synthesis pool: a cached answer must not wait behind synthesis.
    speech, key = await run_in_threadpool(_prepare_keyed, services, body)
    return await cached(services.cache, key, lambda: _speech_response(services, body, speech))


def _prepare_keyed(services: Services, body: SpeechBody) -> tuple[PreparedSpeech, str]:
    speech = _prepare(services, body)
    digest = services.voice(speech.request.voice).digest
    return speech, request_key("openai", speech, digest, (body.stream_format,))


async def _speech_response(services: Services, body: SpeechBody, speech: PreparedSpeech) -> StreamingResponse:
    if body.stream_format == "sse":
        parts = await services.pool.started(_sse_parts(services.synthesizer, speech))  # errors raise here

        def frames(data: bytes, marks: list[dict]) -> Iterator[bytes]:
            if marks:  # a voicesmith extension: when each word of the audio that follows is spoken
                yield _sse("speech.audio.marks", marks=marks)
            if data:
                yield _sse("speech.audio.delta", audio=base64.b64encode(data).decode())

        async def events():
            async for data, marks in parts:
                for frame in frames(data, marks):
                    yield frame
            usage = {"input_tokens": len(body.input), "output_tokens": 0, "total_tokens": len(body.input)}
            yield _sse("speech.audio.done", usage=usage)

        return StreamingResponse(events(), media_type="text/event-stream")

    blocks = await services.pool.started(encoded_audio(services.synthesizer, speech))
    return StreamingResponse(blocks, media_type=speech.content_type)


@router.get("/audio/voices", summary="Voices (voicesmith extension; Open WebUI reads it)")
def list_voices(services: ServicesDep) -> dict:
    """``voices``: catalog voices, then OpenAI's names (``name`` says which voice speaks each);
    ``aliases``: OpenAI name -> voice id."""
    catalog = services.synthesizer.voices()
    names = {v.id: v.name for v in catalog}
    aliases = openai_voices(services.settings)
    voices = [{"id": v.id, "name": v.name, "language": v.language, "gender": v.gender} for v in catalog]
    voices += [
        {"id": name, "name": f"{name} ({names.get(voice, voice)})", "voice": voice}
        for name, voice in aliases.items()
        if name not in names
    ]
    return {"voices": voices, "aliases": aliases}


class ModelCard(BaseModel):
    id: str
    object: Annotated[str, Field()] = "model"
    created: int = 0
    owned_by: str = "voicesmith"


def _model_list(settings: Settings) -> list[dict]:
    return [ModelCard(id=name).model_dump() for name in models(settings)]


@router.get("/models", summary="List models (OpenAI)")
def list_models(services: ServicesDep) -> dict:
    return {"object": "list", "data": _model_list(services.settings)}


@router.get("/models/{model}", summary="Retrieve a model (OpenAI)")
def retrieve_model(model: str, services: ServicesDep) -> dict:
    """A model card for the ids ``/v1/models`` lists and the dated snapshots the speech route accepts."""
    try:
        check_model(services.settings, model)
    except ValidationError:
        raise ResourceNotFoundError(f"model {model!r} does not exist; GET /v1/models lists them") from None
    return ModelCard(id=model).model_dump()


@router.get("/audio/models", summary="Speech models (Open WebUI's shape, and OpenAI's list)")
def list_audio_models(services: ServicesDep) -> dict:
    """Open WebUI reads ``models`` (``[{"id": ...}]``); OpenAI-style clients read ``data``."""
    cards = _model_list(services.settings)
    return {"object": "list", "data": cards, "models": cards}
