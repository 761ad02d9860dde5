"""The AWS event-stream framing (``application/vnd.amazon.eventstream``) and its per-event SigV4.

A message is a 12-byte prelude (total length, headers length, the prelude's CRC32), typed headers
(``:message-type``, ``:event-type``, ``:content-type``, ...), the payload and the whole message's CRC32.
Decoding (CRCs, header types) is botocore's :class:`botocore.eventstream.EventStreamBuffer`; this module
frames the bytes as they arrive with a tighter size limit than botocore's (24 MB), and encodes the
messages the server sends, which botocore has no encoder for.

The AWS SDKs sign each event they send on a stream (``@aws-sdk/eventstream-handler-node``): the event is
the payload of an envelope message whose headers are ``:date`` (a timestamp) and ``:chunk-signature``
(32 bytes), chained from the request's own SigV4 signature::

    AWS4-HMAC-SHA256-PAYLOAD \\n <:date as YYYYMMDDTHHMMSSZ> \\n <scope> \\n <prior signature> \\n
    hex(sha256(the encoded :date header)) \\n hex(sha256(payload))

signed with the SigV4 key of the request's credential scope. After its last event the SDK sends one
envelope with an empty payload, which ends the stream. :class:`EventVerifier` checks the chain.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.eventstream import EventStreamBuffer, ParserError

from voicesmith.errors import InvalidSignatureError, ValidationError
from voicesmith.server.sigv4 import STREAMING_EVENTS_PAYLOAD

CONTENT_TYPE = "application/vnd.amazon.eventstream"
STREAMING_PAYLOAD = STREAMING_EVENTS_PAYLOAD
"""``x-amz-content-sha256`` of a request whose body is a stream of signed events."""
EVENT_ALGORITHM = "AWS4-HMAC-SHA256-PAYLOAD"
MAX_MESSAGE_BYTES = 256 * 1024
"""Largest message accepted from a client (a TextEvent of 6000 characters is under 25 KB)."""
MAX_EVENT_CLOCK_SKEW = timedelta(minutes=15)
_PRELUDE = struct.Struct(">III")
_STRING, _BYTES, _TIMESTAMP = 7, 6, 8


class InvalidEventError(ValidationError):
    """An inbound message that is malformed or not one the stream takes (Polly's ValidationException,
    reason ``invalidInboundEvent``)."""


@dataclass
class Message:
    """One decoded message: its headers (names to Python values) and payload."""

    headers: dict[str, Any]
    payload: bytes = b""

    @property
    def event_type(self) -> str | None:
        return self.headers.get(":event-type")

    @property
    def message_type(self) -> str | None:
        return self.headers.get(":message-type")


# -- encoding ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timestamp:
    """A timestamp header's value: milliseconds since the epoch."""

    ms: int


HeaderValue = str | bytes | Timestamp


def _header(name: str, value: HeaderValue) -> bytes:
    raw = name.encode()
    if isinstance(value, str):
        data = value.encode()
        body = struct.pack(">BH", _STRING, len(data)) + data
    elif isinstance(value, bytes):
        body = struct.pack(">BH", _BYTES, len(value)) + value
    else:
        body = struct.pack(">Bq", _TIMESTAMP, value.ms)
    return struct.pack(">B", len(raw)) + raw + body


def encode_headers(headers: dict[str, HeaderValue]) -> bytes:
    """Headers in the wire's encoding (string, bytes and timestamp values)."""
    return b"".join(_header(name, value) for name, value in headers.items())


def encode_message(headers: dict[str, HeaderValue], payload: bytes = b"") -> bytes:
    """One message: prelude, headers, payload, CRC32s."""
    encoded = encode_headers(headers)
    total = _PRELUDE.size + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    prelude += struct.pack(">I", binascii.crc32(prelude))
    body = prelude + encoded + payload
    return body + struct.pack(">I", binascii.crc32(body))


def event(event_type: str, payload: bytes, content_type: str = "application/json") -> bytes:
    """A ``:message-type: event`` message."""
    return encode_message(
        {":message-type": "event", ":event-type": event_type, ":content-type": content_type}, payload
    )


def exception(exception_type: str, fields: dict[str, Any]) -> bytes:
    """A modeled error (``:message-type: exception``): the SDKs raise it as that exception's class."""
    headers = {
        ":message-type": "exception",
        ":exception-type": exception_type,
        ":content-type": "application/json",
    }
    return encode_message(headers, json.dumps(fields).encode())


# -- decoding ------------------------------------------------------------------------------------------------


class MessageReader:
    """Splits a byte stream into messages as the bytes arrive; ValidationError on a malformed one."""

    def __init__(self, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._data = bytearray()

    @property
    def pending(self) -> int:
        """Bytes of a message not yet complete."""
        return len(self._data)

    def feed(self, data: bytes) -> Iterator[Message]:
        self._data += data
        while len(self._data) >= _PRELUDE.size:
            total = int.from_bytes(self._data[:4], "big")
            if total > self.max_bytes:
                raise InvalidEventError(
                    f"an event-stream message of {total} bytes; this server accepts at most {self.max_bytes}"
                )
            if total < _PRELUDE.size + 4:
                raise InvalidEventError(f"malformed event-stream message: a total length of {total} bytes")
            if len(self._data) < total:
                return
            raw = bytes(self._data[:total])
            del self._data[:total]
            yield decode_message(raw)


def decode_message(raw: bytes) -> Message:
    """One whole message (botocore checks its CRCs and parses its headers)."""
    buffer = EventStreamBuffer()
    try:
        buffer.add_data(raw)
        parsed = buffer.next()
    except (ParserError, StopIteration, struct.error, UnicodeDecodeError) as error:
        raise InvalidEventError(f"malformed event-stream message: {error or type(error).__name__}") from None
    return Message(dict(parsed.headers), bytes(parsed.payload))


# -- per-event signatures ------------------------------------------------------------------------------------


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def event_signature(secret: str, region: str, service: str, prior: str, stamp_ms: int, payload: bytes) -> str:
    """The ``:chunk-signature`` of an envelope dated ``stamp_ms`` after ``prior``, as the SDKs make it."""
    long_date = datetime.fromtimestamp(stamp_ms // 1000, UTC).strftime("%Y%m%dT%H%M%SZ")
    short_date = long_date[:8]
    scope = f"{short_date}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        (
            EVENT_ALGORITHM,
            long_date,
            scope,
            prior,
            hashlib.sha256(encode_headers({":date": Timestamp(stamp_ms)})).hexdigest(),
            hashlib.sha256(payload).hexdigest(),
        )
    )
    key = signing_key(secret, short_date, region, service)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def sign_envelope(
    secret: str, region: str, service: str, prior: str, stamp_ms: int, payload: bytes
) -> tuple[bytes, str]:
    """An envelope as the SDKs send it (tests, clients): the encoded message and its signature."""
    signature = event_signature(secret, region, service, prior, stamp_ms, payload)
    headers: dict[str, HeaderValue] = {
        ":date": Timestamp(stamp_ms),
        ":chunk-signature": bytes.fromhex(signature),
    }
    return encode_message(headers, payload), signature


@dataclass
class StreamCredentials:
    """What the request's SigV4 check leaves for the events: the key and the chain's first link."""

    secret: str
    region: str
    service: str
    seed_signature: str


@dataclass
class EventVerifier:
    """Unwraps the envelopes of a signed stream, checking each signature against the chain.

    Without ``credentials`` (auth off) envelopes are unwrapped unchecked and bare events pass as they
    are. :meth:`open` gives the inner event, or None for the empty envelope that ends the stream."""

    credentials: StreamCredentials | None = None
    _prior: str = field(default="", init=False)

    def __post_init__(self) -> None:
        if self.credentials is not None:
            self._prior = self.credentials.seed_signature

    def open(self, message: Message) -> Message | None:
        signature = message.headers.get(":chunk-signature")
        if signature is None:
            if self.credentials is not None:
                raise InvalidSignatureError(
                    "an event without ':chunk-signature': with SigV4 every event is signed "
                    f"({STREAMING_PAYLOAD}), as the AWS SDKs do"
                )
            return message if message.headers else None
        if self.credentials is not None:
            self._check(message, signature)
        if not message.payload:
            return None
        return decode_message(message.payload)

    def _check(self, message: Message, signature: object) -> None:
        stamp = message.headers.get(":date")
        if not isinstance(signature, bytes) or not isinstance(stamp, int):
            raise InvalidSignatureError("an event's ':date' must be a timestamp and ':chunk-signature' bytes")
        if abs(datetime.now(UTC) - datetime.fromtimestamp(stamp / 1000, UTC)) > MAX_EVENT_CLOCK_SKEW:
            raise InvalidSignatureError("Signature expired: an event's ':date' is more than 15 minutes off")
        creds = self.credentials
        assert creds is not None
        expected = event_signature(
            creds.secret, creds.region, creds.service, self._prior, stamp, message.payload
        )
        if not hmac.compare_digest(expected, signature.hex()):
            raise InvalidSignatureError(
                "The event signature we calculated does not match the signature you provided "
                "(':chunk-signature', chained from the request's signature)."
            )
        self._prior = expected
