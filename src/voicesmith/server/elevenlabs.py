"""ElevenLabs' text-to-speech API, under the prefix ``/elevenlabs``: what voice-agent frameworks (pipecat,
LiveKit) and the official ``elevenlabs`` SDK speak.

Why a prefix: ElevenLabs' ``GET /v1/voices`` (and ``/v1/voices/{id}``, ``/v1/models``) are the same paths
as Polly's DescribeVoices, voicesmith's custom-voice routes and OpenAI's models. Under ``/elevenlabs``
nothing is guessed from headers; clients take the prefix in their base URL:
``ElevenLabs(base_url="http://host:8000/elevenlabs")``, pipecat ``url="ws://host:8000/elevenlabs"``,
LiveKit ``base_url="http://host:8000/elevenlabs/v1"``.

Routes (``{voice_id}`` is a voicesmith voice id, e.g. ``joe``):

* ``POST /v1/text-to-speech/{voice_id}`` and ``.../stream``: audio, streamed as it is made;
* ``POST .../with-timestamps``: ``{audio_base64, alignment, normalized_alignment}``; ``.../stream/
  with-timestamps``: the same, one JSON object per line as the audio is made;
* ``WS .../stream-input`` and ``WS .../multi-stream-input``: text in as it is generated, audio out as
  soon as a sentence (or, on the generation schedule, a clause) is complete (:mod:`.elevenlabs_ws`);
* ``GET /v1/voices``, ``/v2/voices``, ``/v1/voices/{voice_id}``, ``/v1/models``, ``/v1/user``.

Voices: a voicesmith voice id, or one of the premade ElevenLabs voice ids clients ship as defaults
(:data:`PREMADE_VOICES`, the bundled voice). Models: every ``eleven_*`` model id speaks with the same
engine.

``output_format`` (query): ``mp3_<rate>_<kbps>``, ``pcm_<rate>``, ``wav_<rate>``, ``ulaw_8000``,
``alaw_8000``, ``opus_48000_<kbps>`` (Ogg Opus); the bitrate is the encoder's own. ``voice_settings.speed``
is the speaking rate; ``pronunciation_dictionary_locators`` name stored Polly lexicons (by
``pronunciation_dictionary_id``); ``seed`` seeds the voice. voicesmith extensions in the body (and in the
WebSocket's first message): ``emotion`` and ``emotion_intensity``, as on the other doors.

Keys: when ``openai_api_keys`` are configured, every route wants one of them as ``xi-api-key`` (or
``Authorization: Bearer``; on the WebSocket also as ``xi_api_key`` in the first message). Errors are
ElevenLabs' ``{"detail": {"status", "message"}}`` with the HTTP status.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, WebSocket
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from voicesmith.engine.catalog import BUNDLED_VOICE_ID, VoiceInfo
from voicesmith.engine.synthesizer import SynthesisRequest
from voicesmith.errors import (
    AccessDeniedError,
    ConflictError,
    LexiconNotFoundError,
    TextLengthExceededError,
    ValidationError,
    VoiceNotFoundError,
)
from voicesmith.server.alignment import CharTimings, TextAligner
from voicesmith.server.deps import ServicesDep, SettingsDep
from voicesmith.server.errors import register_error_shape
from voicesmith.server.services import Services
from voicesmith.server.stream_speech import SegmentSpeaker
from voicesmith.settings import Settings

_LOGGER = logging.getLogger(__name__)

PREFIX = "/elevenlabs"
MAX_TEXT_CHARACTERS = 10_000
"""Longest text of one REST request (ElevenLabs' own limit for its long-form models)."""
DEFAULT_OUTPUT_FORMAT = "mp3_44100_128"
DEFAULT_MODEL = "eleven_multilingual_v2"
#: ElevenLabs' model ids: all speak with voicesmith's engine, so a client's configured model works.
MODELS: tuple[str, ...] = (
    "eleven_multilingual_v2",
    "eleven_turbo_v2_5",
    "eleven_flash_v2_5",
    "eleven_turbo_v2",
    "eleven_flash_v2",
    "eleven_monolingual_v1",
    "eleven_multilingual_v1",
    "eleven_v3",
    "voicesmith",
)
#: ElevenLabs' premade voices that clients ship as defaults (LiveKit: Sarah/Bella; the SDK's examples:
#: George; pipecat's: Adam, Rachel, ...) -> the bundled voice, as OpenAI's voice names are. A catalog
#: voice with the same id wins.
PREMADE_VOICES: dict[str, str] = {
    voice_id: BUNDLED_VOICE_ID
    for voice_id in (
        "21m00Tcm4TlvDq8ikWAM",  # Rachel
        "EXAVITQu4vr4xnSDxMaL",  # Sarah (Bella)
        "JBFqnCBsd6RMkjVDRZzb",  # George
        "pNInz6obpgDQGcFmaJgB",  # Adam
        "ErXwobaYiN019PkySvjV",  # Antoni
        "TxGEqnHWrfWFTfGW9XjX",  # Josh
        "VR6AewLTigWG4xSOukaG",  # Arnold
        "AZnzlk1XvdvUeBnXmlld",  # Domi
        "MF3mGyEYCl7XYWbV9V6O",  # Elli
        "yoZ06aMxZJJ28mfd3POQ",  # Sam
    )
}
_FORMAT = re.compile(r"^(mp3|pcm|wav|ulaw|alaw|opus)_(\d+)(?:_(\d+))?$")
_CODECS = {"mp3": "mp3", "pcm": "pcm", "wav": "wav", "ulaw": "mulaw", "alaw": "alaw", "opus": "ogg_opus"}
_STATUS_NAMES = {401: "invalid_api_key", 404: "not_found", 409: "conflict", 413: "request_too_large"}


# -- errors --------------------------------------------------------------------------------------------------


def is_elevenlabs_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def error_status(error: Exception | None, status: int) -> tuple[int, str]:
    """ElevenLabs' status and ``detail.status`` for an error."""
    if isinstance(error, AccessDeniedError):
        return 401, "invalid_api_key"
    if isinstance(error, VoiceNotFoundError):
        return 404, "voice_not_found"
    if isinstance(error, LexiconNotFoundError):
        return 404, "pronunciation_dictionary_not_found"
    if isinstance(error, TextLengthExceededError):
        return 400, "max_character_limit_exceeded"
    if isinstance(error, ConflictError):
        return 409, "voice_not_ready"
    if status >= 500:
        return status, "internal_error"
    return status, _STATUS_NAMES.get(status, "invalid_request")


def error_shape(message: str, status: int, error: Exception | None) -> Response:
    status, name = error_status(error, status)
    return JSONResponse({"detail": {"status": name, "message": message}}, status_code=status)


register_error_shape(is_elevenlabs_path, error_shape)


# -- keys ----------------------------------------------------------------------------------------------------


def check_key(
    settings: Settings, headers: Mapping[str, str], message: Mapping[str, Any] | None = None
) -> None:
    """The one key check of this door: ``xi-api-key``, ``Authorization: Bearer``, or (WebSocket) the
    first message's ``xi_api_key`` / ``authorization``. Open when no keys are configured."""
    keys = settings.openai_api_keys
    if not keys:
        return
    candidates = [headers.get("xi-api-key", "")]
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        candidates.append(token)
    if message:
        candidates += [str(message.get(k) or "") for k in ("xi_api_key", "xi-api-key")]
        scheme, _, token = str(message.get("authorization") or "").partition(" ")
        candidates.append(token if scheme.lower() == "bearer" else scheme)
    for candidate in candidates:
        candidate = candidate.strip()
        if candidate and any(hmac.compare_digest(candidate.encode(), key.encode()) for key in keys):
            return
    raise AccessDeniedError("invalid or missing API key: send it as the xi-api-key header")


async def elevenlabs_auth(request: Request, settings: SettingsDep) -> None:
    check_key(settings, request.headers)


router = APIRouter(prefix=PREFIX, tags=["elevenlabs"])
_auth = [Depends(elevenlabs_auth)]


# -- requests ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutputSpec:
    """An ElevenLabs ``output_format``: our format name and rate."""

    name: str
    format: str
    rate: int

    @property
    def content_type(self) -> str:
        from voicesmith.audio.formats import get_format

        return get_format(self.format).content_type


def output_spec(value: str | None) -> OutputSpec:
    from voicesmith.audio.formats import get_format

    name = value or DEFAULT_OUTPUT_FORMAT
    match = _FORMAT.match(name)
    if match is None:
        raise ValidationError(
            f"output_format {name!r} is not one of mp3_<rate>_<kbps>, pcm_<rate>, wav_<rate>, ulaw_8000, "
            "alaw_8000, opus_48000_<kbps> (e.g. mp3_44100_128, pcm_16000)"
        )
    fmt = get_format(_CODECS[match[1]])
    rate = int(match[2])
    if rate not in fmt.sample_rates:
        rates = ", ".join(str(r) for r in fmt.sample_rates)
        raise ValidationError(f"output_format {name!r}: {match[1]} is available at {rates} Hz")
    return OutputSpec(name, fmt.name, rate)


class VoiceSettingsBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    stability: float | None = None
    similarity_boost: float | None = None
    style: float | None = None
    use_speaker_boost: bool | None = None
    speed: float | None = Field(default=None, ge=0.25, le=4.0)


class DictionaryLocator(BaseModel):
    model_config = ConfigDict(extra="ignore")

    pronunciation_dictionary_id: str
    version_id: str | None = None


class SpeechFields(BaseModel):
    """What ElevenLabs' TTS routes and the WebSocket's first message carry (unknown fields ignored)."""

    model_config = ConfigDict(extra="ignore")

    model_id: str | None = None
    voice_settings: VoiceSettingsBody | None = None
    pronunciation_dictionary_locators: list[DictionaryLocator] = Field(default_factory=list, max_length=3)
    seed: int | None = Field(default=None, ge=0, le=4294967295)
    language_code: str | None = None
    emotion: str | None = None
    emotion_intensity: float = Field(default=1.0, ge=0.0, le=2.0)


class TextBody(SpeechFields):
    text: str


def check_model(model_id: str | None) -> None:
    """Any of ElevenLabs' model ids (``eleven_*``, today's and future ones) speaks with voicesmith's
    engine, so a client's configured model works; other names are refused."""
    if model_id is not None and model_id not in MODELS and not model_id.startswith("eleven_"):
        raise ValidationError(f"model_id {model_id!r} is not available; use one of: {', '.join(MODELS)}")


def find_voice(services: Services, voice_id: str) -> VoiceInfo:
    try:
        return services.voice(voice_id)
    except (VoiceNotFoundError, ValidationError):
        if voice_id in PREMADE_VOICES:
            return services.voice(PREMADE_VOICES[voice_id])
        known = ", ".join(v.id for v in services.synthesizer.voices())
        raise VoiceNotFoundError(
            f"a voice with voice_id {voice_id!r} was not found; voices: {known}"
        ) from None


def build_request(
    services: Services, voice_id: str, fields: SpeechFields, text: str = " "
) -> SynthesisRequest:
    """The synthesis request for a voice and ElevenLabs' fields (voice, model, lexicons checked here)."""
    check_model(fields.model_id)
    info = find_voice(services, voice_id)
    names = [locator.pronunciation_dictionary_id for locator in fields.pronunciation_dictionary_locators]
    lexicons = services.lexicons(names) if names else []
    speed = fields.voice_settings.speed if fields.voice_settings and fields.voice_settings.speed else 1.0
    return SynthesisRequest(
        text=text,
        voice=info.id,
        rate=speed,
        seed=fields.seed or 0,
        emotion=fields.emotion,
        intensity=fields.emotion_intensity,
        lexicons=tuple(lexicons),
    )


def _text_request(services: Services, voice_id: str, body: TextBody) -> SynthesisRequest:
    if not body.text.strip():
        raise ValidationError("text is empty: give the text to speak")
    if len(body.text) > MAX_TEXT_CHARACTERS:
        raise TextLengthExceededError(
            f"text is {len(body.text)} characters; the limit is {MAX_TEXT_CHARACTERS} per request"
        )
    return build_request(services, voice_id, body, body.text)


OutputFormatQuery = Annotated[str | None, Query()]


# -- text to speech ------------------------------------------------------------------------------------------


async def _audio_blocks(services: Services, request: SynthesisRequest, spec: OutputSpec):
    """(first block, the rest): the request is planned (and refused) before the answer starts."""
    from voicesmith.audio.encode import StreamEncoder

    stream = await services.pool.run(services.synthesizer.open, request)
    encoder = StreamEncoder(spec.format, stream.sample_rate, spec.rate)

    def blocks():
        for chunk in stream:
            data = encoder.feed(chunk.audio)
            if data:
                yield data
        yield encoder.close()

    return services.pool.iterate(blocks())


async def _audio_response(services: Services, voice_id: str, body: TextBody, output_format: str | None):
    spec = output_spec(output_format)
    request = await services.pool.run(_text_request, services, voice_id, body)
    blocks = await _audio_blocks(services, request, spec)
    return StreamingResponse(blocks, media_type=spec.content_type)


@router.post("/v1/text-to-speech/{voice_id}", dependencies=_auth, summary="Text to speech (ElevenLabs)")
async def convert(
    voice_id: str, body: TextBody, services: ServicesDep, output_format: OutputFormatQuery = None
) -> StreamingResponse:
    return await _audio_response(services, voice_id, body, output_format)


@router.post("/v1/text-to-speech/{voice_id}/stream", dependencies=_auth, summary="Stream text to speech")
async def stream(
    voice_id: str, body: TextBody, services: ServicesDep, output_format: OutputFormatQuery = None
) -> StreamingResponse:
    return await _audio_response(services, voice_id, body, output_format)


async def _timestamped(services: Services, request: SynthesisRequest, spec: OutputSpec):
    """(audio bytes, alignment of the utterances that began in them) as the audio is made."""
    from voicesmith.audio.encode import StreamEncoder

    speaker = SegmentSpeaker(services, request)
    aligner = TextAligner(request.text)
    encoder: StreamEncoder | None = None
    pending = CharTimings()
    async for chunk in speaker.speak(request.text):
        if encoder is None:
            encoder = StreamEncoder(spec.format, chunk.sample_rate, spec.rate)
        if chunk.utterance_span is not None:
            start, end = (s * 1000 / chunk.sample_rate for s in chunk.utterance_span)
            timings = aligner.utterance(chunk.marks, start, end)
            timings.starts = [s + start for s in timings.starts]  # REST times are from the audio's start
            pending.extend(timings)
        data = encoder.feed(chunk.audio)
        if data:
            yield data, pending
            pending = CharTimings()
    if encoder is not None:
        yield encoder.close(), pending


def _timestamp_json(data: bytes, timings: CharTimings) -> dict:
    alignment = timings.rest_json() if timings.chars else None
    return {
        "audio_base64": base64.b64encode(data).decode(),
        "alignment": alignment,
        "normalized_alignment": alignment,
    }


@router.post("/v1/text-to-speech/{voice_id}/with-timestamps", dependencies=_auth, summary="With timestamps")
async def with_timestamps(
    voice_id: str, body: TextBody, services: ServicesDep, output_format: OutputFormatQuery = None
) -> JSONResponse:
    spec = output_spec(output_format)
    request = await services.pool.run(_text_request, services, voice_id, body)
    audio = bytearray()
    timings = CharTimings()
    async for data, part in _timestamped(services, request, spec):
        audio += data
        timings.extend(part)
    return JSONResponse(_timestamp_json(bytes(audio), timings))


@router.post(
    "/v1/text-to-speech/{voice_id}/stream/with-timestamps",
    dependencies=_auth,
    summary="Stream with timestamps",
)
async def stream_with_timestamps(
    voice_id: str, body: TextBody, services: ServicesDep, output_format: OutputFormatQuery = None
) -> StreamingResponse:
    spec = output_spec(output_format)
    request = await services.pool.run(_text_request, services, voice_id, body)
    parts = _timestamped(services, request, spec)
    first = await anext(parts)  # bad input is refused before the answer starts

    async def lines():
        yield json.dumps(_timestamp_json(*first)).encode() + b"\n"
        async for data, timings in parts:
            if data or timings.chars:
                yield json.dumps(_timestamp_json(data, timings)).encode() + b"\n"

    return StreamingResponse(lines(), media_type="application/json")


# -- voices, models, user ------------------------------------------------------------------------------------


def voice_json(voice: VoiceInfo) -> dict[str, Any]:
    return {
        "voice_id": voice.id,
        "name": voice.name,
        "category": "premade" if voice.origin == "bundled" else "cloned",
        "labels": {"language": voice.language, "gender": voice.gender.lower(), "origin": voice.origin},
        "description": f"{voice.name}, {voice.language} ({voice.origin})",
        "preview_url": None,
        "available_for_tiers": [],
        "settings": {
            "stability": 0.5,
            "similarity_boost": 0.75,
            "style": 0.0,
            "use_speaker_boost": True,
            "speed": 1.0,
        },
        "high_quality_base_model_ids": list(MODELS),
        "verified_languages": [
            {"language": voice.language.split("-")[0], "model_id": DEFAULT_MODEL, "locale": voice.language}
        ],
        "is_owner": voice.origin != "bundled",
        "created_at_unix": None,
    }


@router.get("/v1/voices", dependencies=_auth, summary="List voices (ElevenLabs)")
def list_voices(services: ServicesDep) -> dict:
    return {"voices": [voice_json(v) for v in services.synthesizer.voices()]}


@router.get("/v2/voices", dependencies=_auth, summary="Search voices (ElevenLabs)")
def search_voices(
    services: ServicesDep,
    search: Annotated[str | None, Query()] = None,
    page_size: Annotated[int, Query(ge=1, le=100)] = 10,
    next_page_token: Annotated[str | None, Query()] = None,
) -> dict:
    voices = services.synthesizer.voices()
    if search:
        needle = search.lower()
        voices = [v for v in voices if needle in v.id.lower() or needle in v.name.lower()]
    offset = int(next_page_token) if next_page_token and next_page_token.isdigit() else 0
    page = voices[offset : offset + page_size]
    more = offset + page_size < len(voices)
    return {
        "voices": [voice_json(v) for v in page],
        "has_more": more,
        "total_count": len(voices),
        "next_page_token": str(offset + page_size) if more else None,
    }


@router.get("/v1/voices/{voice_id}", dependencies=_auth, summary="Get voice (ElevenLabs)")
def get_voice(voice_id: str, services: ServicesDep) -> dict:
    return voice_json(find_voice(services, voice_id))


def model_json(model_id: str) -> dict[str, Any]:
    return {
        "model_id": model_id,
        "name": f"{model_id} (voicesmith)",
        "can_be_finetuned": False,
        "can_do_text_to_speech": True,
        "can_do_voice_conversion": False,
        "can_use_style": False,
        "can_use_speaker_boost": False,
        "serves_pro_voices": False,
        "token_cost_factor": 1.0,
        "description": "Served by voicesmith: every model id speaks with the same engine.",
        "requires_alpha_access": False,
        "max_characters_request_free_user": MAX_TEXT_CHARACTERS,
        "max_characters_request_subscribed_user": MAX_TEXT_CHARACTERS,
        "maximum_text_length_per_request": MAX_TEXT_CHARACTERS,
        "languages": [{"language_id": "en", "name": "English"}],
    }


@router.get("/v1/models", dependencies=_auth, summary="List models (ElevenLabs)")
def list_models() -> list[dict]:
    return [model_json(m) for m in MODELS]


@router.get("/v1/user", dependencies=_auth, summary="User (ElevenLabs)")
def get_user() -> dict:
    return {
        "user_id": "voicesmith",
        "subscription": subscription_json(),
        "is_new_user": False,
        "xi_api_key": None,
        "can_use_delayed_payment_methods": False,
        "is_onboarding_completed": True,
        "is_onboarding_checklist_completed": True,
        "first_name": "voicesmith",
        "created_at": 0,
    }


def subscription_json() -> dict:
    return {
        "tier": "self-hosted",
        "character_count": 0,
        "character_limit": 1_000_000_000,
        "can_extend_character_limit": False,
        "allowed_to_extend_character_limit": False,
        "voice_limit": 10_000,
        "voice_slots_used": 0,
        "professional_voice_limit": 0,
        "can_extend_voice_limit": False,
        "can_use_instant_voice_cloning": False,
        "can_use_professional_voice_cloning": False,
        "status": "active",
        "currency": "usd",
    }


@router.get("/v1/user/subscription", dependencies=_auth, summary="Subscription (ElevenLabs)")
def get_subscription() -> dict:
    return subscription_json()


# -- streaming text in ---------------------------------------------------------------------------------------


@router.websocket("/v1/text-to-speech/{voice_id}/stream-input")
async def stream_input(websocket: WebSocket, voice_id: str) -> None:
    from voicesmith.server.elevenlabs_ws import serve_stream

    await serve_stream(websocket, voice_id, multi=False)


@router.websocket("/v1/text-to-speech/{voice_id}/multi-stream-input")
async def multi_stream_input(websocket: WebSocket, voice_id: str) -> None:
    from voicesmith.server.elevenlabs_ws import serve_stream

    await serve_stream(websocket, voice_id, multi=True)
