"""ElevenLabs' protocol pieces that its REST routes (:mod:`.elevenlabs`) and its WebSockets
(:mod:`.elevenlabs_ws`) share: model and voice ids, output formats, the request fields, the one key check
of the door, and ElevenLabs' error shape (``{"detail": {"status", "message"}}``) for every path under
``/elevenlabs``.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from xml.sax.saxutils import escape as xml_escape

from fastapi import Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from voicesmith.engine.catalog import BUNDLED_VOICE_ID, VoiceInfo
from voicesmith.engine.requests import SynthesisRequest
from voicesmith.errors import (
    AccessDeniedError,
    ConflictError,
    LexiconNotFoundError,
    TextLengthExceededError,
    ValidationError,
    VoiceNotFoundError,
)
from voicesmith.server.deps import SettingsDep
from voicesmith.server.errors import register_error_shape
from voicesmith.server.services import Services
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
_BREAK = re.compile(r"""<break\s+time\s*=\s*["'](\d+(?:\.\d+)?)\s*(s|ms)["']\s*/?>""", re.IGNORECASE)
MAX_BREAK_MS = 3000
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
    text, text_type = speech_text(text)
    return SynthesisRequest(
        text=text,
        text_type=text_type,
        voice=info.id,
        rate=speed,
        seed=fields.seed or 0,
        emotion=fields.emotion,
        intensity=fields.emotion_intensity,
        lexicons=tuple(lexicons),
    )


def speech_text(text: str) -> tuple[str, str]:
    """(text, text type) to synthesize: ElevenLabs' inline pause tags (``<break time="1.5s" />``, up to
    3 s) become SSML breaks; without them the text is plain text, ``<`` and all."""
    if not _BREAK.search(text):
        return text, "text"
    parts, position = [], 0
    for match in _BREAK.finditer(text):
        milliseconds = float(match[1]) * (1000 if match[2].lower() == "s" else 1)
        if milliseconds > MAX_BREAK_MS:
            raise ValidationError(f"a break is at most {MAX_BREAK_MS / 1000:g} s, not {match[0]}")
        parts += [xml_escape(text[position : match.start()]), f'<break time="{round(milliseconds)}ms"/>']
        position = match.end()
    parts.append(xml_escape(text[position:]))
    return "<speak>" + "".join(parts) + "</speak>", "ssml"


def text_request(services: Services, voice_id: str, body: TextBody) -> SynthesisRequest:
    if not body.text.strip():
        raise ValidationError("text is empty: give the text to speak")
    if len(body.text) > MAX_TEXT_CHARACTERS:
        raise TextLengthExceededError(
            f"text is {len(body.text)} characters; the limit is {MAX_TEXT_CHARACTERS} per request"
        )
    return build_request(services, voice_id, body, body.text)


OutputFormatQuery = Annotated[str | None, Query()]
