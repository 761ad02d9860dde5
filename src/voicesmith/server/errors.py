"""Errors on the wire: one mapping from voicesmith's exceptions to each API's error shape.

Polly (rest-json): the HTTP status of the error class, an ``x-amzn-ErrorType`` header and a
``{"__type", "message"}`` body. botocore takes the code from that header (or ``__type``/``code``), so
boto3 raises ``client.exceptions.<Type>`` for each. OpenAI: ``{"error": {"message", "type", "param",
"code"}}`` with the same status, except that missing or wrong credentials are 401 there.
Which shape a response gets depends on the path (``/v1/audio/...`` and ``/v1/models`` are OpenAI's).
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from voicesmith.errors import AccessDeniedError, ThrottlingError, VoicesmithError

_LOGGER = logging.getLogger(__name__)

OPENAI_PATHS = ("/v1/audio/", "/v1/models")
REQUEST_ID_HEADER = "x-amzn-RequestId"
_OPENAI_TYPES = {401: "invalid_request_error", 403: "invalid_request_error", 429: "rate_limit_exceeded"}
_HTTP_POLLY_TYPES = {
    404: "UnknownOperationException",
    405: "UnknownOperationException",
    413: "ValidationException",
}


def is_openai_path(path: str) -> bool:
    return path.startswith(OPENAI_PATHS)


#: Doors whose errors have a shape of their own (MaryTTS, ElevenLabs): ``(matches(path), shape(message,
#: status, error or None))``, registered by the door modules; the first match wins.
_DOOR_SHAPES: list[tuple[Callable[[str], bool], Callable[[str, int, Exception | None], Response]]] = []


def register_error_shape(
    matches: Callable[[str], bool], shape: Callable[[str, int, Exception | None], Response]
) -> None:
    _DOOR_SHAPES.append((matches, shape))


def door_error(path: str, message: str, status: int, error: Exception | None = None) -> Response | None:
    """The error in the shape of the door that serves ``path``, or None for the Polly/OpenAI paths."""
    for matches, shape in _DOOR_SHAPES:
        if matches(path):
            return shape(message, status, error)
    return None


def request_id(request: Request) -> str:
    """The id of this request (set by the request middleware; made up if it did not run)."""
    state = request.scope.setdefault("state", {})
    return state.setdefault("request_id", str(uuid.uuid4()))


def polly_error(error_type: str, message: str, status: int, rid: str) -> JSONResponse:
    return JSONResponse(
        {"__type": error_type, "message": message},
        status_code=status,
        headers={"x-amzn-ErrorType": error_type, REQUEST_ID_HEADER: rid},
    )


def openai_error(
    message: str,
    status: int,
    *,
    error_type: str | None = None,
    param: str | None = None,
    code: str | None = None,
) -> JSONResponse:
    kind = (
        error_type
        or _OPENAI_TYPES.get(status)
        or ("server_error" if status >= 500 else "invalid_request_error")
    )
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def error_response(request: Request, error: VoicesmithError) -> Response:
    throttled = isinstance(error, ThrottlingError)
    status = 429 if throttled else error.status  # doors with their own shape throttle as HTTP does
    path = request.scope["path"]
    if (door := door_error(path, error.message, status, error)) is not None:
        if throttled:
            _retry_headers(door, error)
        return door
    if throttled:
        return throttled_response(request, error)
    if is_openai_path(path):
        if isinstance(error, AccessDeniedError):
            return openai_error(error.message, 401, code="invalid_api_key")
        return openai_error(error.message, error.status, param=getattr(error, "param", None))
    return polly_error(error.polly_type, error.message, error.status, request_id(request))


def throttled_response(request: Request, error: ThrottlingError) -> JSONResponse:
    """Polly's ThrottlingException (HTTP 400, which boto3 retries) or OpenAI's 429, with Retry-After
    (whole seconds) and retry-after-ms (the OpenAI SDK's finer hint)."""
    if is_openai_path(request.scope["path"]):
        response = openai_error(error.message, 429, error_type="requests", code="rate_limit_exceeded")
    else:
        response = polly_error(error.polly_type, error.message, error.status, request_id(request))
    _retry_headers(response, error)
    return response


def _retry_headers(response: Response, error: ThrottlingError) -> None:
    response.headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
    response.headers["retry-after-ms"] = str(max(1, round(error.retry_after * 1000)))


async def _on_voicesmith_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, VoicesmithError)
    if error.status >= 500:
        _LOGGER.error("%s %s: %s", request.method, request.url.path, error.message)
    return error_response(request, error)


def _describe(error: RequestValidationError) -> tuple[str, str | None]:
    problems = []
    param = None
    for item in error.errors():
        location = [str(part) for part in item.get("loc", ()) if part not in ("body", "query", "path")]
        where = ".".join(location) or "body"
        param = param or (location[0] if location else None)
        problems.append(f"Value at '{where}' failed to satisfy constraint: {item.get('msg', 'invalid')}")
    count = len(problems)
    return f"{count} validation error{'s' if count != 1 else ''} detected: " + "; ".join(problems), param


async def _on_validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    message, param = _describe(error)
    if (door := door_error(request.url.path, message, 400, error)) is not None:
        return door
    if is_openai_path(request.url.path):
        return openai_error(message, 400, param=param)
    return polly_error("ValidationException", message, 400, request_id(request))


async def _on_http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    message = str(error.detail)
    if (door := door_error(request.url.path, message, error.status_code, error)) is not None:
        return door
    if is_openai_path(request.url.path):
        return openai_error(message, error.status_code)
    error_type = _HTTP_POLLY_TYPES.get(error.status_code, "ValidationException")
    if error.status_code >= 500:
        error_type = "ServiceFailureException"
    return polly_error(error_type, message, error.status_code, request_id(request))


async def unexpected_error_response(request: Request, error: Exception) -> Response:
    _LOGGER.exception("%s %s failed", request.method, request.url.path)
    message = f"internal error ({type(error).__name__}); the server log has the details"
    if (door := door_error(request.url.path, message, 500)) is not None:
        return door
    if is_openai_path(request.url.path):
        return openai_error(message, 500)
    return polly_error("ServiceFailureException", message, 500, request_id(request))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(VoicesmithError, _on_voicesmith_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, unexpected_error_response)
