"""Amazon Polly's REST API (rest-json, 2016-06-10): speech, voices and lexicons.

Routes and field names follow botocore's service model, so ``boto3.client("polly",
endpoint_url=...)`` works unchanged. Synthesis tasks are in :mod:`voicesmith.server.polly_tasks`,
custom voices in :mod:`voicesmith.server.voices`.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams

from voicesmith.engine.catalog import VoiceInfo
from voicesmith.engine.polly_voices import PollyVoice, language_name, polly_voice, polly_voices
from voicesmith.errors import (
    LanguageNotSupportedError,
    LexiconNotFoundError,
    ValidationError,
    VoiceNotFoundError,
)
from voicesmith.server.cache import cached, request_key
from voicesmith.server.deps import ServicesDep, polly_auth
from voicesmith.server.services import SYNTHESIS, Services
from voicesmith.server.speech import (
    ENGINES,
    SPEECH_LIMITS,
    SUPPORTED_ENGINES,
    PollySpeechFields,
    PreparedSpeech,
    TextLimits,
    encoded_audio,
    enum_error,
    prepare,
    speech_marks_lines,
)
from voicesmith.tasks.store import LexiconRow, decode_token, encode_token, utcnow
from voicesmith.text.lexicon import check_lexicon_capacity, check_lexicon_name, parse_lexicon

_LOGGER = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["polly"], dependencies=[Depends(polly_auth)])

PAGE_SIZE = 100
EMOTIONS_HEADER = "x-voicesmith-emotions"
"""The emotion each sentence is spoken with, comma separated, in order (a voicesmith extension)."""
ACCOUNT = "000000000000"
REGION = "local"
CHARACTERS_HEADER = "x-amzn-RequestCharacters"

VOICES_PAGE_SIZE = 1000
"""DescribeVoices answers in one page, as Polly does (clients such as Home Assistant read one call)."""
VENDOR_VOICE_FIELD = "VoicesmithVoiceId"
"""DescribeVoices' vendor field: the installed voice that speaks an entry (boto3 drops unknown keys)."""


def voice_json(info: VoiceInfo) -> dict[str, Any]:
    """An installed voice as DescribeVoices lists it."""
    return {
        "Gender": info.gender,
        "Id": info.id,
        "LanguageCode": info.language,
        "LanguageName": language_name(info.language),
        "Name": info.name,
        "SupportedEngines": list(SUPPORTED_ENGINES),
        "AdditionalLanguageCodes": [],
        VENDOR_VOICE_FIELD: info.id,
    }


def polly_voice_json(voice: PollyVoice, local: str) -> dict[str, Any]:
    """A Polly voice name as DescribeVoices lists it: Polly's facts, and the installed voice ``local``
    that speaks it (in the vendor field, and after the name: ``Joanna (joe)``)."""
    return {
        "Gender": voice.gender,
        "Id": voice.id,
        "LanguageCode": voice.language,
        "LanguageName": language_name(voice.language),
        "Name": f"{voice.name} ({local})",
        "SupportedEngines": list(SUPPORTED_ENGINES),
        "AdditionalLanguageCodes": list(voice.additional_languages),
        VENDOR_VOICE_FIELD: local,
    }


def all_voices_json(services: Services) -> list[tuple[dict[str, Any], tuple[str, ...]]]:
    """Installed voices, then every Polly name not shadowed by an installed voice of the same id; each
    with the languages it speaks (its own first)."""
    installed = services.synthesizer.voices()
    ids = {info.id for info in installed}
    entries: list[tuple[dict[str, Any], tuple[str, ...]]] = [
        (voice_json(info), (info.language,)) for info in installed
    ]
    mapping = services.polly_voices.table(installed)
    entries += [
        (polly_voice_json(voice, mapping[voice.id]), (voice.language, *voice.additional_languages))
        for voice in polly_voices()
        if voice.id not in ids
    ]
    return entries


def epoch(moment: Any) -> float:
    """A stored timestamp as rest-json sends it (epoch seconds); SQLite gives back naive UTC."""
    from datetime import UTC

    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


async def speech_response(services: Services, speech: PreparedSpeech) -> Response:
    """Audio streamed as it is made (or the speech marks), with Polly's headers."""
    headers = {CHARACTERS_HEADER: str(speech.billed_characters)}
    synthesizer = services.synthesizer
    if speech.output_format == "json":
        body = await services.pool.run(speech_marks_lines, synthesizer, speech)
        return Response(body, media_type=speech.content_type, headers=headers)
    opened = await services.pool.run(synthesizer.open, speech.request)  # plans: errors become proper answers
    headers[EMOTIONS_HEADER] = ",".join(opened.sentence_emotions)
    blocks = await services.pool.started(encoded_audio(synthesizer, speech, opened))
    return StreamingResponse(blocks, media_type=speech.content_type, headers=headers)


def check_voice(services: Services, fields: PollySpeechFields) -> VoiceInfo:
    """The installed voice that speaks the request's VoiceId (an installed voice's id or a Polly name),
    which must speak its LanguageCode, if one is given: a bilingual Polly voice (Aditi, Kajal) speaks
    either of its languages, each with the installed voice of that language."""
    polly = polly_voice(fields.VoiceId)
    if polly is not None and _installed(services, fields.VoiceId):
        polly = None  # an installed voice of that id wins over the Polly name
    language = fields.LanguageCode
    if polly is not None:
        if language is not None and not polly.speaks(language):
            raise LanguageNotSupportedError(
                f"voice {polly.id!r} speaks {_languages(polly)}, not {language}: "
                "drop LanguageCode or pick a voice of that language (DescribeVoices lists them)"
            )
        return services.voice(fields.VoiceId, language)
    info = services.voice(fields.VoiceId)
    if language is not None and language != info.language:
        raise LanguageNotSupportedError(
            f"voice {info.id!r} speaks {info.language}, not {language}: "
            "drop LanguageCode or pick a voice of that language (DescribeVoices lists them)"
        )
    return info


def _installed(services: Services, voice_id: str) -> bool:
    try:
        services.synthesizer.catalog.get(voice_id)
    except (VoiceNotFoundError, ValidationError):
        return False
    return True


def _languages(voice: PollyVoice) -> str:
    return " and ".join((voice.language, *voice.additional_languages))


def prepare_speech(
    services: Services,
    fields: PollySpeechFields,
    limits: TextLimits = SPEECH_LIMITS,
    max_audio_seconds: float | None = None,
) -> PreparedSpeech:
    """A checked speech request, spoken by the installed voice that serves its VoiceId
    (``max_audio_seconds``: see :func:`~voicesmith.server.speech.prepare`)."""
    speech_lexicons = services.lexicons(fields.LexiconNames) if fields.LexiconNames else []
    prepared = prepare(fields, limits, speech_lexicons, max_audio_seconds)
    info = check_voice(services, fields)
    return replace(prepared, request=replace(prepared.request, voice=info.id))


def _prepare_keyed(services: Services, fields: PollySpeechFields) -> tuple[PreparedSpeech, str]:
    speech = prepare_speech(services, fields)
    return speech, request_key("polly", speech, services.voice(fields.VoiceId).digest)


@router.post("/speech", summary="SynthesizeSpeech", response_class=Response, dependencies=[SYNTHESIS])
async def synthesize_speech(fields: PollySpeechFields, services: ServicesDep) -> Response:
    if services.cache is None:
        speech = await services.pool.run(prepare_speech, services, fields)
        return await speech_response(services, speech)
    # Not in the synthesis pool: a cached answer must not wait behind synthesis.
    speech, key = await run_in_threadpool(_prepare_keyed, services, fields)
    return await cached(services.cache, key, lambda: speech_response(services, speech))


#: SynthesizeSpeech's fields that a GET carries in its query (lists as repeated names, as the JS SDK's
#: presigner writes them); the query's X-Amz-* parameters are the signature.
QUERY_FIELDS = ("Text", "VoiceId", "OutputFormat", "TextType", "Engine", "LanguageCode", "SampleRate")
QUERY_LIST_FIELDS = ("LexiconNames", "SpeechMarkTypes")


def speech_fields_from_query(query: QueryParams) -> PollySpeechFields:
    """A GET SynthesizeSpeech's fields (a presigned URL's, say), checked as the POST body is."""
    values: dict[str, Any] = {name: query[name] for name in QUERY_FIELDS if name in query}
    for name in QUERY_LIST_FIELDS:
        if name in query:
            values[name] = [item for value in query.getlist(name) for item in value.split(",") if item]
    missing = [name for name in ("Text", "VoiceId", "OutputFormat") if name not in values]
    if missing:
        raise ValidationError(
            f"{len(missing)} validation error{'s' if len(missing) > 1 else ''} detected: "
            + "; ".join(
                f"Value null at '{name[0].lower() + name[1:]}' failed to satisfy constraint: "
                "Member must not be null"
                for name in missing
            )
        )
    return PollySpeechFields.model_validate(values)


@router.get(
    "/speech",
    summary="SynthesizeSpeech (GET, presigned URLs)",
    response_class=Response,
    dependencies=[SYNTHESIS],
)
async def synthesize_speech_get(request: Request, services: ServicesDep) -> Response:
    """SynthesizeSpeech from query parameters: what a browser app's presigned URL asks for."""
    fields = speech_fields_from_query(request.query_params)
    speech = await services.pool.run(prepare_speech, services, fields)
    return await speech_response(services, speech)


class VoicesPage(BaseModel):
    Voices: list[dict[str, Any]]
    NextToken: str | None = None


@router.get("/voices", summary="DescribeVoices", response_model=VoicesPage, response_model_exclude_none=True)
def describe_voices(
    services: ServicesDep,
    engine: Annotated[str | None, Query(alias="Engine")] = None,
    language: Annotated[str | None, Query(alias="LanguageCode")] = None,
    include_additional: Annotated[bool, Query(alias="IncludeAdditionalLanguageCodes")] = False,
    token: Annotated[str | None, Query(alias="NextToken")] = None,
) -> VoicesPage:
    """Installed voices and Polly's names. ``LanguageCode`` keeps the voices of that language, and with
    ``IncludeAdditionalLanguageCodes`` the bilingual ones that speak it as their second language."""
    if engine is not None and engine not in ENGINES:
        raise enum_error(engine, "engine", ENGINES)
    offset = decode_token(token)
    entries = all_voices_json(services)
    if engine is not None and engine not in SUPPORTED_ENGINES:
        entries = []
    if language is not None:
        entries = [
            (entry, languages)
            for entry, languages in entries
            if languages[0] == language or (include_additional and language in languages)
        ]
    voices = [entry for entry, _ in entries]
    page = voices[offset : offset + VOICES_PAGE_SIZE]
    more = offset + VOICES_PAGE_SIZE < len(voices)
    return VoicesPage(Voices=page, NextToken=encode_token(offset + VOICES_PAGE_SIZE) if more else None)


# -- lexicons ------------------------------------------------------------------------------------------------

LexiconName = Annotated[str, Path(alias="LexiconName")]


class PutLexiconBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    Content: str


def lexicon_attributes(row: LexiconRow) -> dict[str, Any]:
    return {
        "Alphabet": row.alphabet,
        "LanguageCode": row.language,
        "LastModified": epoch(row.modified),
        "LexiconArn": f"arn:aws:polly:{REGION}:{ACCOUNT}:lexicon/{row.name}",
        "LexemesCount": row.lexemes,
        "Size": row.size,
    }


@router.put("/lexicons/{LexiconName}", summary="PutLexicon")
def put_lexicon(name: LexiconName, body: PutLexiconBody, services: ServicesDep) -> dict:
    lexicon = parse_lexicon(name, body.Content)
    check_lexicon_capacity(services.store.lexicon_names(), name)
    attributes = lexicon.attributes()
    services.store.put_lexicon(
        LexiconRow(
            name=name,
            content=body.Content,
            alphabet=str(attributes["Alphabet"]),
            language=str(attributes["LanguageCode"]),
            lexemes=int(attributes["LexemesCount"]),  # type: ignore[call-overload]
            size=int(attributes["Size"]),  # type: ignore[call-overload]
            modified=utcnow(),
        )
    )
    _LOGGER.info("stored lexicon %s (%d lexemes)", name, lexicon.lexeme_count)
    return {}


def _stored(services: Services, name: str) -> LexiconRow:
    row = services.store.get_lexicon(check_lexicon_name(name))
    if row is None:
        raise LexiconNotFoundError(f"lexicon {name!r} does not exist (ListLexicons shows the stored ones)")
    return row


@router.get("/lexicons/{LexiconName}", summary="GetLexicon")
def get_lexicon(name: LexiconName, services: ServicesDep) -> dict:
    row = _stored(services, name)
    return {
        "Lexicon": {"Content": row.content, "Name": row.name},
        "LexiconAttributes": lexicon_attributes(row),
    }


@router.delete("/lexicons/{LexiconName}", summary="DeleteLexicon")
def delete_lexicon(name: LexiconName, services: ServicesDep) -> dict:
    _stored(services, name)
    services.store.delete_lexicon(name)
    return {}


@router.get("/lexicons", summary="ListLexicons")
def list_lexicons(
    services: ServicesDep, token: Annotated[str | None, Query(alias="NextToken")] = None
) -> dict:
    offset = decode_token(token)
    rows = services.store.list_lexicons(offset, PAGE_SIZE + 1)
    result: dict[str, Any] = {
        "Lexicons": [{"Name": row.name, "Attributes": lexicon_attributes(row)} for row in rows[:PAGE_SIZE]]
    }
    if len(rows) > PAGE_SIZE:
        result["NextToken"] = encode_token(offset + PAGE_SIZE)
    return result
