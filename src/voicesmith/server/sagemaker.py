"""Amazon SageMaker's hosting contract: ``GET /ping`` and ``POST /invocations``.

Inside a SageMaker endpoint, SageMaker authenticates the caller and forwards requests unsigned: run
the container without keys there. On a server with auth on, ``/invocations`` wants SigV4 scoped to
service ``sagemaker``, which is what ``boto3.client("sagemaker-runtime").invoke_endpoint`` signs with;
its own path, ``/endpoints/<EndpointName>/invocations``, is served too, so that client works against
this server unchanged (any endpoint name). ``/ping`` stays open.

``/invocations`` takes SynthesizeSpeech's JSON body (``Text``, ``VoiceId``, ``OutputFormat``, ...;
``VoiceId`` defaults to the bundled voice and ``OutputFormat`` to mp3) and answers the audio, or the
speech marks, exactly as SynthesizeSpeech does.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import ValidationError as PydanticError

from voicesmith.engine.bundled import BUNDLED_VOICE_ID
from voicesmith.errors import ValidationError
from voicesmith.server.deps import ServicesDep, sagemaker_auth
from voicesmith.server.polly import prepare_speech, speech_response
from voicesmith.server.services import SYNTHESIS
from voicesmith.server.speech import PollySpeechFields

_LOGGER = logging.getLogger(__name__)

router = APIRouter(tags=["sagemaker"])

DEFAULTS = {"VoiceId": BUNDLED_VOICE_ID, "OutputFormat": "mp3"}


@router.get("/ping", summary="SageMaker health check")
def ping(services: ServicesDep) -> Response:
    services.synthesizer.catalog.get(BUNDLED_VOICE_ID)
    return Response(status_code=200)


@router.post("/invocations", summary="SageMaker inference", dependencies=[Depends(sagemaker_auth), SYNTHESIS])
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


@router.post(
    "/endpoints/{EndpointName}/invocations",
    summary="InvokeEndpoint (sagemaker-runtime)",
    dependencies=[Depends(sagemaker_auth), SYNTHESIS],
)
async def invoke_endpoint(
    request: Request, services: ServicesDep, endpoint: Annotated[str, Path(alias="EndpointName")]
) -> Response:
    """``sagemaker-runtime``'s InvokeEndpoint: ``/invocations`` (whatever the endpoint name)."""
    return await invocations(request, services)
