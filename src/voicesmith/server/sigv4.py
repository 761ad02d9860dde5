"""AWS Signature Version 4, checked the way AWS checks it, with botocore's own signer.

Two forms: the ``Authorization: AWS4-HMAC-SHA256 ...`` header (boto3, the AWS CLI, the JS SDK) and the
query string of a presigned URL (``X-Amz-Algorithm``, ``X-Amz-Credential``, ``X-Amz-Date``,
``X-Amz-Expires``, ``X-Amz-SignedHeaders``, ``X-Amz-Signature``; the JS SDK's polly-request-presigner
and botocore's ``SigV4QueryAuth``).

Checking is split in two, so that nothing about a request's body is read before its headers pass:
:func:`parse` looks at the method, path, query and headers only (the signature's shape, the key id,
the clock, the credential scope's date, region and service); :func:`expected_signature` recomputes
the signature once the payload hash is known (declared in ``X-Amz-Content-SHA256``, or hashed from
a small body). The recomputation is botocore's ``SigV4Auth`` (canonical request, string to sign,
signing key) over exactly the headers the client says it signed.

The error types and messages are AWS's: ``MissingAuthenticationTokenException``,
``IncompleteSignatureException``, ``UnrecognizedClientException`` and ``InvalidSignatureException``.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from voicesmith.errors import (
    IncompleteSignatureError,
    InvalidSignatureError,
    MissingAuthenticationTokenError,
    UnrecognizedClientError,
)

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_CLOCK_SKEW = timedelta(minutes=15)
MAX_PRESIGNED_EXPIRES = 604_800
"""Seven days: the longest ``X-Amz-Expires`` SigV4 allows."""
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_EVENTS_PAYLOAD = "STREAMING-AWS4-HMAC-SHA256-EVENTS"
"""The payload hash of a body of signed events (event streams); the events carry their own signatures."""
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_CREDENTIAL = re.compile(
    r"(?P<akid>[^/\s]+)/(?P<date>\d{8})/(?P<region>[^/\s]+)/(?P<service>[^/\s]+)/aws4_request"
)
_HEADER_NAME = r":?[a-z0-9!#$%&'*+.^_`|~-]+"
_SIGNED_HEADERS = re.compile(rf"{_HEADER_NAME}(;{_HEADER_NAME})*")
AUTHORITY = ":authority"
"""HTTP/2's name for Host; the JS SDK's presigner signs it instead of ``host``."""
_QUERY_AUTH = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature")


@dataclass(frozen=True)
class SignedRequest:
    """What a request's signature claims, checked as far as it can be without the body."""

    access_key: str
    timestamp: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    presigned: bool
    declared_payload: str | None
    """``X-Amz-Content-SHA256`` when the client sent it (a hex digest or ``UNSIGNED-PAYLOAD``)."""


def _rfc3986(text: str) -> str:
    return quote(text, safe="-_.~")


def canonical_query(query: str, *, drop_signature: bool) -> str:
    """The canonical query string: each name and value decoded and encoded again as SigV4 wants
    (RFC 3986), pairs sorted; a presigned URL's own ``X-Amz-Signature`` is left out."""
    pairs = []
    for part in query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        name, value = unquote(name), unquote(value)
        if drop_signature and name == "X-Amz-Signature":
            continue
        pairs.append((_rfc3986(name), _rfc3986(value)))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def query_params(query: str) -> dict[str, str]:
    """Decoded query parameters (the last of repeated names)."""
    params = {}
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            params[unquote(name)] = unquote(value)
    return params


def is_presigned(query: str) -> bool:
    return "X-Amz-Algorithm=" in query or "X-Amz-Signature=" in query


def has_signature(headers: dict[str, str], query: str) -> bool:
    return headers.get("authorization", "").startswith(ALGORITHM) or is_presigned(query)


def _parse_header(header: str) -> tuple[str, str, str]:
    """Credential, SignedHeaders and Signature from an Authorization header (any order, as AWS reads it)."""
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignatureError(
            f"Unsupported Authorization Type: the server accepts {ALGORITHM} (AWS Signature Version 4)"
        )
    fields = {}
    for item in rest.split(","):
        name, _, value = item.strip().partition("=")
        fields[name] = value.strip()
    for name in ("Credential", "SignedHeaders", "Signature"):
        if not fields.get(name):
            raise IncompleteSignatureError(
                f"Authorization header requires '{name}' parameter. Authorization={header[:200]}"
            )
    return fields["Credential"], fields["SignedHeaders"], fields["Signature"]


def parse(
    headers: dict[str, str],
    query: str,
    credentials: dict[str, str],
    *,
    services: tuple[str, ...],
    regions: tuple[str, ...],
    now: datetime | None = None,
) -> SignedRequest:
    """Check everything about a signature that does not need the body.

    ``headers`` are lower-cased names (repeated ones joined with ``,``). Raises the AWS error for the
    first problem found, in the order AWS reports them.
    """
    now = now or datetime.now(UTC)
    presigned = is_presigned(query)
    if presigned:
        params = query_params(query)
        missing = [name for name in _QUERY_AUTH if not params.get(name)]
        if missing:
            raise IncompleteSignatureError(
                f"AWS query-string parameters must include {', '.join(repr(n) for n in missing)}. "
                "Re-examine the query-string parameters."
            )
        if params["X-Amz-Algorithm"] != ALGORITHM:
            raise IncompleteSignatureError(f"X-Amz-Algorithm must be {ALGORITHM}")
        credential, signed, signature = (
            params["X-Amz-Credential"],
            params["X-Amz-SignedHeaders"],
            params["X-Amz-Signature"],
        )
        timestamp = params["X-Amz-Date"]
        expires_text = params.get("X-Amz-Expires", "")
    else:
        header = headers.get("authorization")
        if not header:
            raise MissingAuthenticationTokenError("Missing Authentication Token")
        credential, signed, signature = _parse_header(header)
        timestamp = headers.get("x-amz-date", "")
        expires_text = ""
    scope = _CREDENTIAL.fullmatch(credential)
    if scope is None:
        raise IncompleteSignatureError(
            f"Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
            f"got '{credential[:200]}'"
        )
    if not _SIGNED_HEADERS.fullmatch(signed):
        raise IncompleteSignatureError(f"SignedHeaders {signed[:200]!r} is not a ';'-separated list")
    if not _HEX64.fullmatch(signature):
        raise IncompleteSignatureError("Signature must be 64 lower-case hexadecimal characters")
    if scope["akid"] not in credentials:
        raise UnrecognizedClientError("The security token included in the request is invalid.")
    try:
        signed_at = datetime.strptime(timestamp, SIGV4_TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:
        what = "X-Amz-Date query parameter" if presigned else "X-Amz-Date header"
        raise IncompleteSignatureError(
            f"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header "
            f"(the {what} must be an ISO 8601 basic timestamp like 20261201T120000Z)"
        ) from None
    stamp = now.strftime(SIGV4_TIMESTAMP)
    if presigned:
        if not expires_text.isdigit() or not 1 <= int(expires_text) <= MAX_PRESIGNED_EXPIRES:
            raise IncompleteSignatureError(
                f"X-Amz-Expires must be a whole number of seconds from 1 to {MAX_PRESIGNED_EXPIRES} (7 days)"
            )
        if signed_at - now > MAX_CLOCK_SKEW:
            raise InvalidSignatureError(f"Signature not yet current: {timestamp} is still later than {stamp}")
        expires_at = signed_at + timedelta(seconds=int(expires_text))
        if now > expires_at:
            raise InvalidSignatureError(
                f"Signature expired: {expires_at.strftime(SIGV4_TIMESTAMP)} is now earlier than {stamp} "
                f"(signed at {timestamp}, valid for {expires_text} s)"
            )
    elif signed_at - now > MAX_CLOCK_SKEW:
        raise InvalidSignatureError(
            f"Signature not yet current: {timestamp} is still later than "
            f"{(now + MAX_CLOCK_SKEW).strftime(SIGV4_TIMESTAMP)} ({stamp} + 15 min.)"
        )
    elif now - signed_at > MAX_CLOCK_SKEW:
        raise InvalidSignatureError(
            f"Signature expired: {timestamp} is now earlier than "
            f"{(now - MAX_CLOCK_SKEW).strftime(SIGV4_TIMESTAMP)} ({stamp} - 15 min.)"
        )
    if scope["date"] != timestamp[:8]:
        raise InvalidSignatureError(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{scope['date']}' != '{timestamp[:8]}', from '{timestamp}'."
        )
    if scope["service"] not in services:
        raise InvalidSignatureError(f"Credential should be scoped to correct service: '{services[0]}'. ")
    if scope["region"] not in regions:
        raise InvalidSignatureError(
            f"Credential should be scoped to a valid region. (this server accepts {', '.join(regions)}; "
            "set the client's region, or add yours to VOICESMITH_AWS_REGIONS)"
        )
    names = tuple(signed.split(";"))
    if "host" not in names and AUTHORITY not in names:
        raise InvalidSignatureError(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        )
    for name in names:
        if ("host" if name == AUTHORITY else name) not in headers:
            raise InvalidSignatureError(f"The signed header {name!r} is not in the request")
    declared = headers.get("x-amz-content-sha256")
    if (
        declared is not None
        and declared not in (UNSIGNED_PAYLOAD, STREAMING_EVENTS_PAYLOAD)
        and not _HEX64.fullmatch(declared)
    ):
        raise InvalidSignatureError(
            "x-amz-content-sha256 must be the hex SHA-256 of the body (or UNSIGNED-PAYLOAD without a body)"
        )
    return SignedRequest(
        access_key=scope["akid"],
        timestamp=timestamp,
        region=scope["region"],
        service=scope["service"],
        signed_headers=names,
        signature=signature,
        presigned=presigned,
        declared_payload=declared,
    )


class _Signer(SigV4Auth):
    """botocore's SigV4 over the client's own list of signed headers and a known payload hash."""

    def __init__(
        self, credentials: Credentials, signed: SignedRequest, headers: dict[str, str], payload: str
    ):
        super().__init__(credentials, signed.service, signed.region)
        self._signed = signed
        self._headers = headers
        self._payload = payload

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        mapping = HTTPHeaders()
        for name in self._signed.signed_headers:
            mapping[name] = self._headers["host" if name == AUTHORITY else name]
        return mapping

    def payload(self, request: AWSRequest) -> str:
        return self._payload


def expected_signature(
    signed: SignedRequest,
    secret: str,
    *,
    method: str,
    raw_path: str,
    query: str,
    headers: dict[str, str],
    payload_hash: str,
) -> str:
    """The signature botocore makes for this request with ``secret`` and ``payload_hash``."""
    url = f"http://{headers['host']}{raw_path}"
    canonical = canonical_query(query, drop_signature=signed.presigned)
    if canonical:
        url += f"?{canonical}"
    request = AWSRequest(method=method, url=url, headers={})
    request.context["timestamp"] = signed.timestamp
    signer = _Signer(Credentials(signed.access_key, secret), signed, headers, payload_hash)
    canonical_request = signer.canonical_request(request)
    return signer.signature(signer.string_to_sign(request, canonical_request), request)


def check_signature(
    signed: SignedRequest, secret: str, candidates: tuple[str, ...], **request: object
) -> None:
    """InvalidSignatureException unless one of the payload hashes ``candidates`` gives the signature."""
    for payload_hash in candidates:
        expected = expected_signature(signed, secret, payload_hash=payload_hash, **request)  # type: ignore[arg-type]
        if hmac.compare_digest(expected, signed.signature):
            return
    raise InvalidSignatureError(
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )
