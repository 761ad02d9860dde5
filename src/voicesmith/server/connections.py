"""Connection-level guards uvicorn lacks: a header timeout, a body stall timeout, a connection limit.

uvicorn (h11) closes an idle keep-alive connection after ``timeout_keep_alive``, but a connection that
has sent part of a request head is kept as long as the client likes: 50 slow-loris clients that send
a header line every few seconds hold 50 connections (and file descriptors) for minutes.
:class:`GuardedH11Protocol` is uvicorn's own h11 protocol with three additions:

- a *header timer* from the moment a connection opens (and again after each answer): a connection
  that has not sent a whole request head within ``header_timeout_seconds`` is closed (with a 408
  when it has sent part of one);
- a *body timer*, reset by every chunk of body: a body that stalls ``body_timeout_seconds`` is cut off
  (the route sees a disconnect);
- a *connection limit*: past ``max_connections``, the longest-idle keep-alive connection is closed to
  make room; when every connection is busy the new one gets a 503 ``ServiceUnavailableException``
  (Polly's shape, with Retry-After; boto3 retries it) and is closed. The default limit comes from the
  process's file-descriptor limit, so idle connections can never use up the descriptors real clients
  need.

``voicesmith serve`` and the test harness run uvicorn with ``http=GuardedH11Protocol`` (see
:func:`uvicorn_options`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

_LOGGER = logging.getLogger(__name__)

FD_RESERVE = 64
"""Descriptors kept free for the database, voices, logs and outgoing webhooks."""


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections: int = 1024

    @classmethod
    def from_settings(cls, settings: Any) -> ConnectionLimits:
        return cls(settings.header_timeout_seconds, settings.body_timeout_seconds, max_connections(settings))


def max_connections(settings: Any) -> int:
    """``settings.max_connections``, or 3/4 of the descriptors this process may open (at most 1024)."""
    if settings.max_connections:
        return settings.max_connections
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1024
    return max(8, min(1024, (soft - FD_RESERVE) * 3 // 4))


def accept_backlog(settings: Any) -> int:
    """The listen backlog, which is also how many connections asyncio accepts in one go, before any of
    them reaches :meth:`GuardedH11Protocol.connection_made`: small enough that a burst of connections
    cannot take the descriptors past the limit (accept() would then fail with EMFILE, and asyncio stop
    accepting for a second at a time, which is how idle connections used to lock clients out)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 2048
    spare = soft - max_connections(settings) - FD_RESERVE // 2
    return max(8, min(2048, spare // 2))


def _busy_answer() -> bytes:
    body = json.dumps(
        {
            "__type": "ServiceUnavailableException",
            "message": "the server has as many connections open as it takes; retry shortly",
        }
    ).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
        "x-amzn-ErrorType: ServiceUnavailableException\r\nretry-after: 1\r\nconnection: close\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class CoalescingTransport:
    """A transport whose writes in one turn of the event loop leave in one ``send``.

    uvicorn's h11 protocol writes a response's head and its body separately, so a small answer (a
    throttle, an error, a cached clip) costs two system calls and wakes the client twice. Under a burst
    of 128 requests those sends were a third of the server's time per refusal (benchmarks/load.py).
    Writes are buffered until the loop's next turn (``call_soon``): nothing waits longer than the
    callbacks already queued, and a stream's chunks, made in the pool between awaits, leave as before.
    Everything else is the wrapped transport's; ``close`` sends what is buffered first."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not data:
            return
        if self._pending:  # the body after a held head: both leave now
            self._pending.append(bytes(data))
            self._flush()
            return
        self._pending.append(bytes(data))
        self._loop.call_soon(self._flush)

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header timeout, a body stall timeout and a connection limit."""

    limits = ConnectionLimits()
    """Set per server by :func:`protocol_class`; the default reads nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._guard_timer: asyncio.TimerHandle | None = None
        self._idle_since = time.monotonic()
        self._in_body = False

    # -- timers ----------------------------------------------------------------------------------------------

    def _arm(self, seconds: float, handler: Any) -> None:
        self._disarm()
        self._guard_timer = self.loop.call_later(seconds, handler)

    def _disarm(self) -> None:
        if self._guard_timer is not None:
            self._guard_timer.cancel()
            self._guard_timer = None

    def _header_timeout(self) -> None:
        self._guard_timer = None
        if self.transport.is_closing():
            return
        partial = self.conn.their_state is h11.IDLE and bool(self.conn.trailing_data[0])
        _LOGGER.info(
            "closing %s: no complete request head within %.0f s", self.client, self.limits.header_timeout
        )
        if partial:
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
        self.transport.close()

    def _body_timeout(self) -> None:
        self._guard_timer = None
        if self.transport.is_closing():
            return
        _LOGGER.info("closing %s: the request body stalled for %.0f s", self.client, self.limits.body_timeout)
        self.transport.close()  # the route's receive() sees http.disconnect

    # -- protocol events -------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections and not self._make_room():
            transport.write(_busy_answer())
            transport.close()
            _LOGGER.warning("refused a connection: %d open, the limit", len(self.connections))
            return
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
        self._arm(self.limits.header_timeout, self._header_timeout)

    def _make_room(self) -> bool:
        """Close the longest-idle connection that is between requests; False when all are busy."""
        idle = [
            other
            for other in self.connections
            if isinstance(other, GuardedH11Protocol) and other._between_requests()
        ]
        if not idle:
            return False
        oldest = min(idle, key=lambda other: other._idle_since)
        oldest._close_idle()
        return True

    def _between_requests(self) -> bool:
        return (self.cycle is None or self.cycle.response_complete) and self.conn.their_state is h11.IDLE

    def _close_idle(self) -> None:
        self.connections.discard(self)
        self._disarm()
        if not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self.transport is None:  # refused in connection_made
            return
        super().data_received(data)
        if self.transport.is_closing():
            return
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            self._in_body = True
            self._arm(self.limits.body_timeout, self._body_timeout)
        elif state is h11.IDLE:
            if self._guard_timer is None:  # pipelined: the next request head starts now
                self._arm(self.limits.header_timeout, self._header_timeout)
        else:  # the head (and any body) is in: the answer is the route's business now
            if self._guard_timer is not None:
                self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._idle_since = time.monotonic()
        if not self.transport.is_closing():
            # Next request head: within the header timeout (uvicorn's keep-alive timer may close sooner).
            self._arm(self.limits.header_timeout, self._header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self.transport is None:  # refused in connection_made
            return
        super().connection_lost(exc)


def protocol_class(settings: Any) -> type[GuardedH11Protocol]:
    """A :class:`GuardedH11Protocol` with ``settings``' limits (a class per server: uvicorn makes one
    protocol object per connection)."""
    limits = ConnectionLimits.from_settings(settings)
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"limits": limits})


class EnvGuardedH11Protocol(GuardedH11Protocol):
    """For ``uvicorn ... --http voicesmith.server.connections:EnvGuardedH11Protocol`` and ``--workers``:
    limits from the environment's settings, read once per process."""

    _loaded = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = type(self)
        if not cls._loaded:
            from voicesmith.settings import Settings

            cls.limits = ConnectionLimits.from_settings(Settings())
            cls._loaded = True
        super().__init__(*args, **kwargs)


def uvicorn_options(settings: Any) -> dict[str, Any]:
    """uvicorn's options for a voicesmith server: the guarded protocol and a keep-alive timeout no
    longer than the header timeout."""
    return {
        "http": protocol_class(settings),
        "timeout_keep_alive": min(5.0, settings.header_timeout_seconds),
        "backlog": accept_backlog(settings),
    }
