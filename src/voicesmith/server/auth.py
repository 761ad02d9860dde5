"""Who may call: AWS SigV4 on the Polly routes, ``Authorization: Bearer`` on the OpenAI routes.

Both are off until keys are configured (``Settings.aws_credentials``, ``Settings.openai_api_keys``):
the server listens on loopback by default. A SigV4 signature is recomputed with botocore's own signer
over the request exactly as it arrived (method, raw path, query, the signed headers, the body's
SHA-256), with the client's timestamp and credential scope, and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from datetime import UTC, datetime, timedelta

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from fastapi import Request

from voicesmith.errors import AccessDeniedError

_LOGGER = logging.getLogger(__name__)

MAX_CLOCK_SKEW = timedelta(minutes=15)
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<akid>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/,\s]+)/"
    r"(?P<service>[^/,\s]+)/aws4_request,\s*SignedHeaders=(?P<headers>[a-z0-9;\-]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})"
)


def _deny(reason: str) -> AccessDeniedError:
    return AccessDeniedError(f"request not authorised: {reason}")


async def verify_sigv4(request: Request, credentials: dict[str, str]) -> str:
    """Check the request's SigV4 signature; returns the access key id that signed it.

    Raises:
        AccessDeniedError: no, malformed, stale or wrong signature, or an unknown access key.
    """
    header = request.headers.get("authorization")
    if not header:
        raise _deny("no Authorization header: sign requests with AWS SigV4 (configure your AWS credentials)")
    match = _AUTHORIZATION.fullmatch(header.strip())
    if match is None:
        raise _deny("the Authorization header is not an AWS4-HMAC-SHA256 signature")
    secret = credentials.get(match["akid"])
    if secret is None:
        raise _deny(f"unknown access key id {match['akid']!r}")
    timestamp = request.headers.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(timestamp, SIGV4_TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:
        raise _deny("missing or malformed X-Amz-Date header") from None
    if abs(datetime.now(UTC) - signed_at) > MAX_CLOCK_SKEW:
        raise _deny(f"the signature was made at {timestamp}, more than 15 minutes from the server's clock")
    if timestamp[:8] != match["date"]:
        raise _deny("the credential scope's date does not match X-Amz-Date")
    signed = match["headers"].split(";")
    if "host" not in signed:
        raise _deny("the Host header must be signed")
    body = await request.body()
    declared = request.headers.get("x-amz-content-sha256")
    if declared and declared != UNSIGNED_PAYLOAD and declared != hashlib.sha256(body).hexdigest():
        raise _deny("the body does not match X-Amz-Content-SHA256")
    expected = _signature(request, body, secret, signed, match, timestamp)
    if not hmac.compare_digest(expected, match["signature"]):
        raise _deny("the signature does not match: check the secret access key")
    return match["akid"]


def _signature(
    request: Request, body: bytes, secret: str, signed: list[str], match: re.Match, timestamp: str
) -> str:
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"").decode("latin-1")
    host = request.headers.get("host", "")
    scheme = request.url.scheme
    url = f"{scheme}://{host}{raw_path.decode('latin-1')}" + (f"?{query}" if query else "")
    headers = {name: ",".join(request.headers.getlist(name)) for name in signed if name in request.headers}
    aws_request = AWSRequest(method=request.method, url=url, headers=headers, data=body)
    aws_request.context["timestamp"] = timestamp
    if scheme == "https" and request.headers.get("x-amz-content-sha256") == UNSIGNED_PAYLOAD:
        aws_request.context["payload_signing_enabled"] = False
    signer = SigV4Auth(Credentials(match["akid"], secret), match["service"], match["region"])
    canonical = signer.canonical_request(aws_request)
    return signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)


def verify_bearer(request: Request, keys: list[str]) -> None:
    """Check ``Authorization: Bearer <key>`` against the configured keys.

    Raises:
        AccessDeniedError: missing or unknown key (the OpenAI front end answers it with 401).
    """
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AccessDeniedError(
            "missing API key: send 'Authorization: Bearer <key>' (the OpenAI SDK's api_key)"
        )
    token = token.strip()
    if not any(hmac.compare_digest(token.encode(), key.encode()) for key in keys):
        raise AccessDeniedError("incorrect API key provided")
