"""Who may call: one switch for every route, and the credential each door takes.

Auth is on as soon as any credential is configured (``Settings.aws_credentials``,
``Settings.openai_api_keys``), or when ``Settings.auth`` is ``"on"``; then every route wants a
credential except the few that must stay open (:data:`PUBLIC_PATHS`: health checks and the console's
static page, which asks for keys itself). Which credential a route takes is its *door*:

========================  ===========================================================================
door                      credential
========================  ===========================================================================
:data:`POLLY`             AWS SigV4 (header or presigned URL), credential scope service ``polly``
:data:`SAGEMAKER`         AWS SigV4, service ``sagemaker`` (what ``sagemaker-runtime`` signs with)
:data:`OPENAI`            ``Authorization: Bearer <API key>``
:data:`ANY`               any of them (``/docs``, ``/openapi.json``, routes that name no door)
:data:`METRICS`           any of them, or a token of ``Settings.metrics_tokens``; none with
                          ``Settings.metrics_public``
:data:`PUBLIC`            none
========================  ===========================================================================

A router declares its door with ``dependencies=[require_auth(POLLY)]`` (a new door: ``Door(...)``).
The check itself runs in :class:`AuthMiddleware`, before the route reads the body: FastAPI reads a
body before it runs a route's dependencies, so a dependency alone would read a 300 MiB upload before
refusing a bogus signature. The middleware finds the route the request goes to, takes its door from
the dependency, checks the headers, and only then lets the body through; a body's SHA-256 is checked
against the signed ``X-Amz-Content-SHA256`` while it streams (a mismatch answers 403 instead of
whatever the route made of it). A body without a declared hash is hashed before the route sees it,
which needs it in memory: that is allowed up to ``max_request_bytes``; a larger one must declare its
hash or is refused before a byte of it is read.

After the credential, the same middleware applies the key's rate limit and the synthesis admission
(:mod:`voicesmith.server.services`), so a throttled request costs no body read and no synthesis.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voicesmith.errors import (
    AccessDeniedError,
    IncompleteSignatureError,
    InvalidSignatureError,
    MissingAuthenticationTokenError,
    UnrecognizedClientError,
    VoicesmithError,
)
from voicesmith.server import sigv4
from voicesmith.server.errors import error_response
from voicesmith.server.eventstream import STREAMING_PAYLOAD, StreamCredentials
from voicesmith.settings import Settings

_LOGGER = logging.getLogger(__name__)

PUBLIC_PATHS = frozenset({"/", "/healthz", "/readyz", "/ping"})
PUBLIC_PREFIXES = ("/console/", "/sns/")
"""Open on every server: health checks (no data in them beyond a voice count and the version) and the
console's static files (the page signs its own API calls with keys the user types in), and the
certificate that verifies task notifications."""
EVENT_STREAM_PATHS: set[str] = set()
"""Paths whose body is a stream of signed events (``x-amz-content-sha256:
STREAMING-AWS4-HMAC-SHA256-EVENTS``): the request's signature is checked here, and the door checks
each event's against it (:class:`voicesmith.server.eventstream.EventVerifier`). Registered by the door."""


@dataclass(frozen=True)
class Door:
    """The credentials one group of routes takes."""

    name: str
    sigv4_services: tuple[str, ...] = ()
    """SigV4 credential scope services accepted (empty: no SigV4)."""
    bearer: bool = False
    """``Authorization: Bearer <key>`` with one of ``Settings.openai_api_keys``."""
    api_key_headers: tuple[str, ...] = ()
    """Headers that may carry an API key instead (``xi-api-key``, say), lower case."""
    basic_password: bool = False
    """The API key as HTTP basic auth's password (``http://:KEY@host``, as MaryTTS clients send it)."""
    extra_keys: str | None = None
    """The name of a setting holding more keys this door alone takes (beside ``openai_api_keys``)."""
    opened_by: str | None = None
    """The name of a bool setting that, when true, opens this door to everyone."""
    respond: Callable[[Request, VoicesmithError], Response] | None = field(default=None, compare=False)
    """The door's own error shape; None: Polly's, or OpenAI's on OpenAI paths."""

    @property
    def public(self) -> bool:
        return not (self.sigv4_services or self.bearer or self.api_key_headers or self.basic_password)

    def open_on(self, settings: Settings) -> bool:
        """No credential wanted on this server: the door is public, auth is off, or a setting opens it."""
        if self.public or not auth_enabled(settings):
            return True
        return bool(self.opened_by and getattr(settings, self.opened_by))

    def keys(self, settings: Settings) -> list[str]:
        """The API keys this door takes on this server."""
        extra = list(getattr(settings, self.extra_keys)) if self.extra_keys else []
        return [*settings.openai_api_keys, *extra]


PUBLIC = Door("public")
POLLY = Door("polly", sigv4_services=("polly",))
SAGEMAKER = Door("sagemaker", sigv4_services=("sagemaker",))
OPENAI = Door("openai", bearer=True)
ANY = Door("any", sigv4_services=("polly", "sagemaker"), bearer=True)
ELEVENLABS = Door("elevenlabs", bearer=True, api_key_headers=("xi-api-key",))
MARYTTS = Door("marytts", bearer=True, basic_password=True)
METRICS = Door(
    "metrics",
    sigv4_services=("polly", "sagemaker"),
    bearer=True,
    extra_keys="metrics_tokens",
    opened_by="metrics_public",
)
ROUTE_CHECKED = Door("route-checked")
"""A route that checks its credential itself, inside its protocol (ElevenLabs' WebSocket takes the key
in its first message): the middleware lets it through."""


@dataclass(frozen=True)
class Principal:
    """Who a request comes from: ``kind`` is ``sigv4`` or ``key``; ``name`` the access key id, or a
    short hash of the API key (never the key)."""

    kind: str
    name: str


class AuthGuard:
    """The dependency ``require_auth`` adds: it names the door for the middleware, and refuses a
    request that reached the route without the middleware's check (an app built without it)."""

    def __init__(self, door: Door) -> None:
        self.door = door

    async def __call__(self, request: HTTPConnection) -> Principal | None:
        settings: Settings = request.app.state.services.settings
        if self.door.open_on(settings):
            return None
        state = request.scope.get("state", {})
        if "principal" not in state:
            raise AccessDeniedError("this route needs the auth middleware (create_app installs it)")
        return state["principal"]


def require_auth(door: Door) -> DependsParam:
    """The dependency that puts a router's routes behind ``door``:
    ``APIRouter(dependencies=[require_auth(POLLY)])``."""
    return Depends(AuthGuard(door))


def auth_enabled(settings: Settings) -> bool:
    """``auth="on"``, or ``"auto"`` (the default) with any credential configured."""
    if settings.auth == "off":
        return False
    return settings.auth == "on" or bool(settings.aws_credentials or settings.openai_api_keys)


def check_auth_settings(settings: Settings) -> None:
    """Refuse a switch that locks everyone out, and say when auth is off despite keys."""
    if settings.auth == "on" and not (settings.aws_credentials or settings.openai_api_keys):
        raise ValueError(
            "VOICESMITH_AUTH=on but no credentials are configured: set VOICESMITH_AWS_CREDENTIALS "
            "and/or VOICESMITH_OPENAI_API_KEYS"
        )
    if settings.auth == "off" and (settings.aws_credentials or settings.openai_api_keys):
        _LOGGER.warning("VOICESMITH_AUTH=off: the configured keys are ignored and every route is open")


def flat_routes(app: Any) -> list[Any]:
    """Every route of the app with its effective dependencies (those of the routers it was included
    through too). FastAPI >= 0.16x keeps included routers nested; ``iter_route_contexts`` flattens them."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: included routes are copied flat into app.routes
        return list(app.router.routes)
    return list(iter_route_contexts(app.router.routes))


def route_marks(routes: list[Any], scope: Scope) -> list[object]:
    """The dependency callables of the route ``scope`` goes to (full match, else a method mismatch)."""
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return [dep.dependency for dep in getattr(route, "dependencies", None) or []]
        if match is Match.PARTIAL and partial is None:
            partial = route
    return [dep.dependency for dep in getattr(partial, "dependencies", None) or []]


def route_door(path: str, marks: list[object]) -> Door:
    if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
        return PUBLIC
    for mark in marks:
        if isinstance(mark, AuthGuard):
            return mark.door
    return ANY


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in scope["headers"]:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]},{text}" if key in headers else text
    return headers


def _has_body(headers: dict[str, str]) -> bool:
    length = headers.get("content-length", "0").strip()
    return "transfer-encoding" in headers or (length != "0" and length != "")


def check_bearer(headers: dict[str, str], door: Door, keys: list[str]) -> Principal:
    """The API key from ``Authorization: Bearer`` (or one of the door's key headers)."""
    token = None
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if door.bearer and scheme.lower() == "bearer" and value.strip():
        token = value.strip()
    if door.basic_password and scheme.lower() == "basic":
        try:
            token = base64.b64decode(value.strip()).decode().partition(":")[2].strip() or None
        except (binascii.Error, UnicodeDecodeError):
            token = None
    for name in door.api_key_headers:
        token = token or headers.get(name, "").strip() or None
    if token is None:
        raise MissingAuthenticationTokenError(
            "You didn't provide an API key. You need to provide your API key in an Authorization header "
            "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY): the OpenAI SDK's api_key"
        )
    if not any(hmac.compare_digest(token.encode(), key.encode()) for key in keys):
        shown = token[:3] + "*" * min(8, max(0, len(token) - 7)) + token[-4:] if len(token) > 8 else "***"
        raise UnrecognizedClientError(f"Incorrect API key provided: {shown}")
    return Principal("key", hashlib.sha256(token.encode()).hexdigest()[:12])


class _BodyCheck:
    """Hashes a body as the route reads it; ``failed`` once it ends with another SHA-256 than signed."""

    def __init__(self, receive: Receive, declared: str) -> None:
        self._receive = receive
        self._declared = declared
        self._hash = hashlib.sha256()
        self.failed = False

    async def __call__(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self._hash.update(message.get("body", b""))
            if not message.get("more_body", False) and self._hash.hexdigest() != self._declared:
                self.failed = True
                raise InvalidSignatureError(
                    "The provided 'x-amz-content-sha256' header does not match what was computed."
                )
        return message


class AuthMiddleware:
    """Credentials, the key's rate limit and synthesis admission, before the body is read.

    ``fastapi_app`` is the app this wraps: its routes name their doors, and its ``state.services``
    holds the settings, the rate limiter and the admission queue.
    """

    def __init__(self, app: ASGIApp, fastapi_app: Any) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self._routes: list[Any] | None = None
        self._marks: dict[tuple[str, str, str], list[object]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        services = self.fastapi_app.state.services
        settings: Settings = services.settings
        marks = self._route_marks(scope)
        door = route_door(scope["path"], marks)
        check: _BodyCheck | None = None
        state = scope.setdefault("state", {})
        try:
            if not door.open_on(settings):
                principal, receive, check = await self._authenticate(door, scope, receive, settings)
                state["principal"] = principal
                services.rate_limiter.take(principal.name)
            ticket = services.admission.admit() if services.admission.marks(marks) else None
        except VoicesmithError as error:
            await self._refuse(door, scope, receive, send, error)
            return
        if check is None:
            send_through = send
        else:
            send_through = self._replace_if_tampered(door, scope, receive, send, check)
        try:
            await self.app(scope, receive, send_through)
        finally:
            if ticket is not None:
                ticket.release()

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket door takes the same credentials from its handshake (headers or a presigned
        query); refused ones are closed before they are accepted (the client sees HTTP 403)."""
        settings: Settings = self.fastapi_app.state.services.settings
        door = route_door(scope["path"], self._route_marks(scope))
        if not door.open_on(settings):
            try:
                principal, _, _ = await self._authenticate(door, scope, receive, settings)
                self.fastapi_app.state.services.rate_limiter.take(principal.name)
            except VoicesmithError as error:
                _LOGGER.info("websocket %s refused: %s", scope["path"], error.message)
                message = await receive()
                if message["type"] == "websocket.connect":
                    await send({"type": "websocket.close", "code": 1008, "reason": error.polly_type})
                return
            scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    _MARKS_CACHED = 4096

    def _route_marks(self, scope: Scope) -> list[object]:
        """:func:`route_marks`, remembered per (type, method, path): matching every route's pattern is
        most of what a refusal costs, and a burst of refusals asks for the same few paths."""
        if self._routes is None:  # the app's routes are all in place by the first request
            self._routes = flat_routes(self.fastapi_app)
        key = (scope["type"], scope.get("method", ""), scope["path"])
        marks = self._marks.get(key)
        if marks is None:
            if len(self._marks) >= self._MARKS_CACHED:  # paths with ids in them: bounded, not an LRU
                self._marks.clear()
            marks = self._marks[key] = route_marks(self._routes, scope)
        return marks

    def _replace_if_tampered(self, door: Door, scope: Scope, receive: Receive, send: Send, check: _BodyCheck):
        async def guarded_send(message: Message) -> None:
            if check.failed:  # whatever the route made of a body that is not the signed one: 403
                if message["type"] == "http.response.start":
                    error = InvalidSignatureError(
                        "The provided 'x-amz-content-sha256' header does not match what was computed."
                    )
                    await self._refuse(door, scope, receive, send, error)
                return
            await send(message)

        return guarded_send

    async def _refuse(
        self, door: Door, scope: Scope, receive: Receive, send: Send, error: VoicesmithError
    ) -> None:
        request = Request(scope)
        respond = door.respond or error_response
        response = respond(request, error)
        await response(scope, receive, send)

    async def _authenticate(
        self, door: Door, scope: Scope, receive: Receive, settings: Settings
    ) -> tuple[Principal, Receive, _BodyCheck | None]:
        headers = _headers(scope)
        query = scope.get("query_string", b"").decode("latin-1")
        if door.sigv4_services and sigv4.has_signature(headers, query):
            return await self._sigv4(door, scope, receive, settings, headers, query)
        scheme = headers.get("authorization", "").partition(" ")[0].lower()
        keyed = (door.bearer and scheme == "bearer") or (door.basic_password and scheme == "basic")
        if keyed or any(name in headers for name in door.api_key_headers):
            return check_bearer(headers, door, door.keys(settings)), receive, None
        if door.sigv4_services and "authorization" in headers:
            # Another Authorization scheme on a SigV4 door: AWS's answer names what is missing.
            return await self._sigv4(door, scope, receive, settings, headers, query)
        if door.sigv4_services:
            raise MissingAuthenticationTokenError("Missing Authentication Token")
        return check_bearer(headers, door, door.keys(settings)), receive, None

    async def _sigv4(
        self,
        door: Door,
        scope: Scope,
        receive: Receive,
        settings: Settings,
        headers: dict[str, str],
        query: str,
    ) -> tuple[Principal, Receive, _BodyCheck | None]:
        signed = sigv4.parse(
            headers,
            query,
            settings.aws_credentials,
            services=door.sigv4_services,
            regions=tuple(settings.aws_regions),
        )
        secret = settings.aws_credentials[signed.access_key]
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        request = {
            "method": scope.get("method", "GET"),
            "raw_path": raw_path,
            "query": query,
            "headers": headers,
        }
        principal = Principal("sigv4", signed.access_key)
        has_body = _has_body(headers)
        declared = signed.declared_payload
        if signed.presigned:
            if has_body:
                raise InvalidSignatureError("a presigned URL carries no body: send it as a GET without one")
            sigv4.check_signature(signed, secret, (sigv4.EMPTY_SHA256, sigv4.UNSIGNED_PAYLOAD), **request)
            return principal, receive, None
        if declared == sigv4.UNSIGNED_PAYLOAD:
            if has_body:
                raise InvalidSignatureError(
                    "UNSIGNED-PAYLOAD is not accepted for a request with a body: sign the body's SHA-256 "
                    "(x-amz-content-sha256), as the AWS SDKs do"
                )
            sigv4.check_signature(signed, secret, (sigv4.UNSIGNED_PAYLOAD,), **request)
            return principal, receive, None
        if declared == STREAMING_PAYLOAD:
            if scope["path"] not in EVENT_STREAM_PATHS:
                raise InvalidSignatureError(f"{STREAMING_PAYLOAD} is only for event-stream operations")
            sigv4.check_signature(signed, secret, (declared,), **request)
            scope.setdefault("state", {})["event_stream_credentials"] = StreamCredentials(
                secret, signed.region, signed.service, signed.signature
            )
            return principal, receive, None
        if declared is not None:
            sigv4.check_signature(signed, secret, (declared,), **request)
            if not has_body:
                if declared != sigv4.EMPTY_SHA256:
                    raise InvalidSignatureError(
                        "The provided 'x-amz-content-sha256' header does not match what was computed."
                    )
                return principal, receive, None
            check = _BodyCheck(receive, declared)
            return principal, check, check
        if not has_body:
            sigv4.check_signature(signed, secret, (sigv4.EMPTY_SHA256,), **request)
            return principal, receive, None
        body = await self._read_small_body(headers, receive, settings.max_request_bytes)
        sigv4.check_signature(signed, secret, (hashlib.sha256(body).hexdigest(),), **request)
        return principal, _replay(body, receive), None

    @staticmethod
    async def _read_small_body(headers: dict[str, str], receive: Receive, limit: int) -> bytes:
        """The whole body, to hash it, if it is at most ``limit`` bytes; refused before reading if larger."""
        too_large = IncompleteSignatureError(
            f"a signed body over {limit} bytes must declare its SHA-256 in a signed 'x-amz-content-sha256' "
            "header (the body is then checked as it streams, not held in memory)"
        )
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise too_large
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise AccessDeniedError("the client went away before its body arrived")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # http.disconnect, when the client goes

    return replay
