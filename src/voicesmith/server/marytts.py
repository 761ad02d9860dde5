"""The MaryTTS HTTP API, for Linux screen readers (speech-dispatcher's ``mary-generic`` module) and Home
Assistant's ``marytts`` integration.

On the main port, and on MaryTTS's own 59125 when ``voicesmith serve --marytts-port 59125`` adds that
listener. Routes: ``GET``/``POST /process`` (parameters in the query or a form body, which speak2mary
sends without a Content-Type), ``/voices``, ``/locales``, ``/version``, ``/audioformats``, ``/datatypes``;
answers and errors are plain text, as MaryTTS's are (errors with a 4xx status).

``/process``: ``INPUT_TEXT``; ``INPUT_TYPE`` ``TEXT`` or ``SSML`` (other MaryTTS input types, such as
``RAWMARYXML``, are refused by name); ``OUTPUT_TYPE=AUDIO``; ``AUDIO`` ``WAVE_FILE``/``WAVE`` (WAV),
``AU_FILE``, ``AIFF_FILE``; ``LOCALE`` (``en_US`` or ``en-US``); ``VOICE`` (a voicesmith voice id; the
stock MaryTTS voice names that clients ship with, ``cmu-slt-hsmm``, ``dfki-...``, speak with the
locale's voice); effects ``effect_Volume_*`` (``amount:2.0``, a linear gain) and ``effect_Rate_*``
(``durScale:1.5``, longer durations); other effects are refused by name. Lexicons and emotions apply
as on the other doors: ``EMOTION`` (a voicesmith extension) or SSML ``amazon:emotion``.

Keys: when ``openai_api_keys`` are configured, ``/process`` wants one as ``Authorization: Bearer`` or as
the password of HTTP basic auth (``curl -u :KEY``, ``http://:KEY@host:59125``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import io
import logging
import math
import re
from urllib.parse import parse_qsl

import numpy as np
import soundfile as sf
from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response

from voicesmith import __version__
from voicesmith.engine.catalog import BUNDLED_VOICE_ID, VoiceInfo
from voicesmith.engine.requests import SynthesisRequest
from voicesmith.errors import AccessDeniedError, ValidationError, VoiceNotFoundError
from voicesmith.server.auth import MARYTTS
from voicesmith.server.deps import ServicesDep, SettingsDep, require_auth
from voicesmith.server.errors import register_error_shape
from voicesmith.server.services import Services

_LOGGER = logging.getLogger(__name__)

PATHS = ("/process", "/voices", "/locales", "/version", "/audioformats", "/datatypes")
MARY_VERSION = "5.2"
MAX_TEXT_CHARACTERS = 100_000
#: AUDIO value -> (soundfile container, content type).
AUDIO_TYPES: dict[str, tuple[str, str]] = {
    "WAVE_FILE": ("WAV", "audio/x-wav"),
    "WAVE": ("WAV", "audio/x-wav"),
    "AU_FILE": ("AU", "audio/basic"),
    "AIFF_FILE": ("AIFF", "audio/x-aiff"),
}
INPUT_TYPES = ("TEXT", "SSML")
#: MaryTTS's other data types: named, so a client asking for one hears what to use instead.
MARY_ONLY_TYPES = (
    "RAWMARYXML",
    "TOKENS",
    "WORDS",
    "PHONEMES",
    "ACOUSTPARAMS",
    "ALLOPHONES",
    "INTONATION",
    "PARTSOFSPEECH",
    "SIMPLEPHONEMES",
    "TARGETFEATURES",
    "APML",
    "SABLE",
    "EMOTIONML",
)
#: Voice names of MaryTTS's own releases (what clients are configured with out of the box).
_STOCK_VOICE = re.compile(r"^(cmu-|dfki-|bits\d|upmc-|enst-|istc-|marylux|voxforge-)", re.IGNORECASE)
_EFFECT = re.compile(r"^effect_(\w+?)_(selected|parameters)$")
_EFFECT_VALUE = re.compile(r"(\w+)\s*:\s*([-+]?\d+(?:\.\d+)?)")


def is_marytts_path(path: str) -> bool:
    return path in PATHS


def error_shape(message: str, status: int, error: Exception | None) -> Response:
    return PlainTextResponse(message + "\n", status_code=status)


register_error_shape(is_marytts_path, error_shape)


def check_key(settings, request: Request) -> None:
    """The one key check of this door (MaryTTS itself has none): Bearer, or HTTP basic's password."""
    keys = settings.openai_api_keys
    if not keys:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            token = base64.b64decode(token.strip()).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            token = ""
    elif scheme.lower() != "bearer":
        token = ""
    token = token.strip()
    if not token or not any(hmac.compare_digest(token.encode(), key.encode()) for key in keys):
        raise AccessDeniedError("a key is needed: send it as HTTP basic auth's password or as a Bearer token")


async def marytts_auth(request: Request, settings: SettingsDep) -> None:
    check_key(settings, request)


router = APIRouter(tags=["marytts"], dependencies=[require_auth(MARYTTS)])


# -- listings ----------------------------------------------------------------------------------------------


def locale_of(voice: VoiceInfo) -> str:
    return voice.language.replace("-", "_")


def _plain(lines: list[str]) -> PlainTextResponse:
    return PlainTextResponse("".join(line + "\n" for line in lines))


@router.get("/version", summary="MaryTTS version")
def version() -> PlainTextResponse:
    return PlainTextResponse(f"Mary TTS server {MARY_VERSION} (voicesmith {__version__})\n")


@router.get("/voices", summary="MaryTTS voices")
def voices(services: ServicesDep) -> PlainTextResponse:
    """One line per voice: name, locale, gender, type (MaryTTS's layout)."""
    return _plain([f"{v.id} {locale_of(v)} {v.gender.lower()} neural" for v in services.synthesizer.voices()])


@router.get("/locales", summary="MaryTTS locales")
def locales(services: ServicesDep) -> PlainTextResponse:
    return _plain(sorted({locale_of(v) for v in services.synthesizer.voices()}))


@router.get("/audioformats", summary="MaryTTS audio formats")
def audioformats() -> PlainTextResponse:
    return _plain(list(AUDIO_TYPES))


@router.get("/datatypes", summary="MaryTTS data types")
def datatypes() -> PlainTextResponse:
    return _plain(["TEXT Input", "SSML Input", "AUDIO Output"])


# -- /process ----------------------------------------------------------------------------------------------


async def _parameters(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    if request.method == "POST":
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "multipart/form-data":
            form = await request.form()
            params.update({k: str(v) for k, v in form.items()})
        elif kind in ("", "application/x-www-form-urlencoded", "text/plain"):
            body = (await request.body()).decode("utf-8", errors="replace")
            params.update(parse_qsl(body, keep_blank_values=True))
        else:
            raise ValidationError(f"POST /process takes form parameters, not {kind}")
    return params


def _voice(services: Services, name: str | None, locale: str | None) -> VoiceInfo:
    voices = services.synthesizer.voices()
    if name:
        try:
            return services.voice(name)
        except (VoiceNotFoundError, ValidationError):
            if not _STOCK_VOICE.match(name):
                raise ValidationError(
                    f"unknown VOICE {name!r}; voices: {', '.join(v.id for v in voices)}"
                ) from None
            _LOGGER.info("MaryTTS voice %r is not installed here: speaking with the locale's voice", name)
    if not locale:
        return services.voice(BUNDLED_VOICE_ID)
    wanted = locale.replace("-", "_").lower()
    match = [v for v in voices if locale_of(v).lower() == wanted] or [
        v for v in voices if locale_of(v).lower().split("_")[0] == wanted.split("_")[0]
    ]
    if not match:
        raise ValidationError(
            f"no voice for LOCALE {locale!r}; locales: {', '.join(sorted({locale_of(v) for v in voices}))}"
        )
    return next((v for v in match if v.id == BUNDLED_VOICE_ID), match[0])


def _effects(params: dict[str, str]) -> tuple[float, float]:
    """(rate, volume dB) from MaryTTS's effect parameters."""
    rate, volume_db = 1.0, 0.0
    selected = {
        m[1] for k, v in params.items() if (m := _EFFECT.match(k)) and m[2] == "selected" and v == "on"
    }
    for effect in sorted(selected):
        values = dict(_EFFECT_VALUE.findall(params.get(f"effect_{effect}_parameters", "")))
        if effect == "Volume":
            amount = float(values.get("amount", 2.0))
            if not 0.0 < amount <= 10.0:
                raise ValidationError(f"effect Volume amount {amount} is out of range (0, 10]")
            volume_db = 20 * math.log10(amount)
        elif effect == "Rate":
            scale = float(values.get("durScale", 1.5))
            if not 0.25 <= scale <= 4.0:
                raise ValidationError(f"effect Rate durScale {scale} is out of range 0.25-4")
            rate = 1.0 / scale
        else:
            raise ValidationError(f"effect {effect!r} is not supported; supported effects: Volume, Rate")
    return rate, volume_db


def prepare(services: Services, params: dict[str, str]) -> tuple[SynthesisRequest, str, str]:
    """The synthesis request, soundfile container and content type of a ``/process`` call."""
    text = params.get("INPUT_TEXT")
    if text is None or not text.strip():
        raise ValidationError("INPUT_TEXT is missing or empty: give the text to speak")
    if len(text) > MAX_TEXT_CHARACTERS:
        raise ValidationError(f"INPUT_TEXT is {len(text)} characters; the limit is {MAX_TEXT_CHARACTERS}")
    input_type = params.get("INPUT_TYPE", "TEXT").upper()
    if input_type in MARY_ONLY_TYPES:
        raise ValidationError(f"INPUT_TYPE {input_type} is MaryTTS's own XML format; use TEXT or SSML")
    if input_type not in INPUT_TYPES:
        raise ValidationError(f"INPUT_TYPE {input_type!r} is not one of: {', '.join(INPUT_TYPES)}")
    output_type = params.get("OUTPUT_TYPE", "AUDIO").upper()
    if output_type != "AUDIO":
        raise ValidationError(f"OUTPUT_TYPE {output_type!r} is not supported; use AUDIO")
    audio = params.get("AUDIO", "WAVE_FILE").upper()
    if audio not in AUDIO_TYPES:
        raise ValidationError(f"AUDIO {audio!r} is not one of: {', '.join(AUDIO_TYPES)}")
    voice = _voice(services, params.get("VOICE") or None, params.get("LOCALE") or None)
    rate, volume_db = _effects(params)
    request = SynthesisRequest(
        text=text,
        voice=voice.id,
        text_type=input_type.lower(),
        rate=rate,
        volume_db=volume_db,
        emotion=params.get("EMOTION") or None,
    )
    container, content_type = AUDIO_TYPES[audio]
    return request, container, content_type


def _file(audio: np.ndarray, rate: int, container: str) -> bytes:
    out = io.BytesIO()
    sf.write(out, audio, rate, format=container, subtype="PCM_16")
    return out.getvalue()


@router.get(
    "/process", dependencies=[Depends(marytts_auth)], summary="Speak", operation_id="marytts_process_get"
)
@router.post(
    "/process", dependencies=[Depends(marytts_auth)], summary="Speak", operation_id="marytts_process"
)
async def process(request: Request, services: ServicesDep) -> Response:
    params = await _parameters(request)
    synthesis, container, content_type = await services.pool.run(prepare, services, params)
    stream = await services.pool.run(services.synthesizer.open, synthesis)
    # Chunk by chunk in the pool, so a long text shares the pool with other requests; a MaryTTS file
    # has its length in its header, so it is written once the audio is whole.
    pieces = [chunk.audio async for chunk in services.pool.iterate(iter(stream))]
    data = await services.pool.run(_file, np.concatenate(pieces), stream.sample_rate, container)
    return Response(data, media_type=content_type)
