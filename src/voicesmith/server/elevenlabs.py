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
``pronunciation_dictionary_id``); ``seed`` seeds the voice; inline ``<break time="1.5s" />`` pauses.
voicesmith extensions in the body (and in the WebSocket's first message): ``emotion`` and
``emotion_intensity``, as on the other doors.

Keys: when ``openai_api_keys`` are configured, every route wants one of them as ``xi-api-key`` (or
``Authorization: Bearer``; on the WebSocket also as ``xi_api_key`` in the first message). Errors are
ElevenLabs' ``{"detail": {"status", "message"}}`` with the HTTP status.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, WebSocket
from fastapi.responses import JSONResponse, StreamingResponse

from voicesmith.audio.stream import ChunkEncoder, encoded_chunks
from voicesmith.engine.catalog import VoiceInfo
from voicesmith.engine.requests import SynthesisRequest
from voicesmith.server.alignment import CharTimings, TextAligner
from voicesmith.server.auth import ELEVENLABS, ROUTE_CHECKED
from voicesmith.server.deps import ServicesDep, require_auth
from voicesmith.server.elevenlabs_protocol import (
    DEFAULT_MODEL,
    MAX_TEXT_CHARACTERS,
    MODELS,
    PREFIX,
    OutputFormatQuery,
    OutputSpec,
    TextBody,
    elevenlabs_auth,
    find_voice,
    output_spec,
    text_request,
)
from voicesmith.server.elevenlabs_ws import serve_stream
from voicesmith.server.services import Services
from voicesmith.server.stream_speech import SegmentSpeaker

_LOGGER = logging.getLogger(__name__)

router = APIRouter(prefix=PREFIX, tags=["elevenlabs"])
_auth = [Depends(elevenlabs_auth), require_auth(ELEVENLABS)]


# -- text to speech ------------------------------------------------------------------------------------------


async def _audio_blocks(services: Services, request: SynthesisRequest, spec: OutputSpec):
    """The encoded audio: the request is planned (and refused) and its first audio made before the
    answer starts."""
    stream = await services.pool.run(services.synthesizer.open, request)
    return await services.pool.started(encoded_chunks(stream, spec.format, spec.rate))


async def _audio_response(services: Services, voice_id: str, body: TextBody, output_format: str | None):
    spec = output_spec(output_format)
    request = await services.pool.run(text_request, services, voice_id, body)
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
    speaker = SegmentSpeaker(services, request)
    aligner = TextAligner(request.text, markup=request.text_type == "ssml")
    encoder = ChunkEncoder(spec.format, spec.rate)
    pending = CharTimings()
    async for chunk in speaker.speak(request.text, request.text_type):
        if chunk.utterance_span is not None:
            start, end = (s * 1000 / chunk.sample_rate for s in chunk.utterance_span)
            timings = aligner.utterance(chunk.marks, start, end)
            timings.starts = [s + start for s in timings.starts]  # REST times are from the audio's start
            pending.extend(timings)
        data = encoder.feed(chunk)
        if data:
            yield data, pending
            pending = CharTimings()
    if encoder.started:
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
    request = await services.pool.run(text_request, services, voice_id, body)
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
    request = await services.pool.run(text_request, services, voice_id, body)
    parts = _timestamped(services, request, spec)
    first = await anext(parts)  # bad input is refused before the answer starts

    async def lines():
        yield json.dumps(_timestamp_json(*first)).encode() + b"\n"
        async for data, timings in parts:
            if data or timings.chars:
                yield json.dumps(_timestamp_json(data, timings)).encode() + b"\n"

    return StreamingResponse(lines(), media_type="application/json")


# -- voices, models, user ------------------------------------------------------------------------------------


#: What ElevenLabs clients read as a voice's settings; of them voicesmith uses ``speed`` (the rate).
DEFAULT_VOICE_SETTINGS: dict[str, Any] = {
    "stability": 0.5,
    "similarity_boost": 0.75,
    "style": 0.0,
    "use_speaker_boost": True,
    "speed": 1.0,
}


def voice_json(voice: VoiceInfo) -> dict[str, Any]:
    return {
        "voice_id": voice.id,
        "name": voice.name,
        "category": "premade" if voice.origin == "bundled" else "cloned",
        "labels": {"language": voice.language, "gender": voice.gender.lower(), "origin": voice.origin},
        "description": f"{voice.name}, {voice.language} ({voice.origin})",
        "preview_url": None,
        "available_for_tiers": [],
        "settings": dict(DEFAULT_VOICE_SETTINGS),
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


@router.get("/v1/voices/settings/default", dependencies=_auth, summary="Default voice settings")
def default_voice_settings() -> dict:
    return dict(DEFAULT_VOICE_SETTINGS)


@router.get("/v1/voices/{voice_id}/settings", dependencies=_auth, summary="Voice settings")
def voice_settings(voice_id: str, services: ServicesDep) -> dict:
    find_voice(services, voice_id)
    return dict(DEFAULT_VOICE_SETTINGS)


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


@router.websocket("/v1/text-to-speech/{voice_id}/stream-input", dependencies=[require_auth(ROUTE_CHECKED)])
async def stream_input(websocket: WebSocket, voice_id: str) -> None:
    await serve_stream(websocket, voice_id, multi=False)


@router.websocket(
    "/v1/text-to-speech/{voice_id}/multi-stream-input", dependencies=[require_auth(ROUTE_CHECKED)]
)
async def multi_stream_input(websocket: WebSocket, voice_id: str) -> None:
    await serve_stream(websocket, voice_id, multi=True)
