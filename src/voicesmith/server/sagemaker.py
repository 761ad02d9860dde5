"""Amazon SageMaker's hosting contract: ``GET /ping`` and ``POST /invocations``.

A SageMaker endpoint forwards requests to the container unsigned (SageMaker itself authenticates the
caller), so these routes take no credentials. ``/invocations`` takes SynthesizeSpeech's JSON body
(``Text``, ``VoiceId``, ``OutputFormat``, ...; ``VoiceId`` defaults to the bundled voice and
``OutputFormat`` to mp3) and answers the audio, or the speech marks, exactly as SynthesizeSpeech does.
"""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError as PydanticError

from voicesmith.errors import ValidationError
from voicesmith.server.deps import ServicesDep
from voicesmith.server.polly import prepare_speech, speech_response
from voicesmith.server.speech import PollySpeechFields

_LOGGER = logging.getLogger(__name__)

router = APIRouter(tags=["sagemaker"])

DEFAULTS = {"VoiceId": "joe", "OutputFormat": "mp3"}


@router.get("/ping", summary="SageMaker health check")
def ping(services: ServicesDep) -> Response:
    services.synthesizer.catalog.get("joe")
    return Response(status_code=200)


@router.post("/invocations", summary="SageMaker inference")
async def invocations(request: Request, services: ServicesDep) -> Response:
    raw = await request.body()
    try:
        body = json.loads(raw or b"{}")
    except ValueError as error:
        raise ValidationError(f"the body is not JSON: {error}; send SynthesizeSpeech's fields") from None
    if not isinstance(body, dict):
        raise ValidationError(
            "the body must be a JSON object with SynthesizeSpeech's fields (Text, VoiceId, ...)"
        )
    try:
        fields = PollySpeechFields.model_validate({**DEFAULTS, **body})
    except PydanticError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise ValidationError(f"invalid invocation: {problems}") from None
    speech = await services.pool.run(prepare_speech, services, fields)
    return await speech_response(services, speech)
