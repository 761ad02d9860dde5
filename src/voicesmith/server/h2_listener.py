"""An HTTP/2 listener in the same process: the whole app, served by hypercorn on a second port.

uvicorn speaks HTTP/1.1 only. The AWS SDK for JavaScript v3 sends every Polly call, and
StartSpeechSynthesisStream always, over HTTP/2 (its ``NodeHttp2Handler``; for an ``http://`` endpoint
that is cleartext HTTP/2 with prior knowledge, "h2c"). ``voicesmith serve --polly-stream-port 8001``
(setting ``polly_stream_port``; off by default) starts hypercorn on that port with the app's lifespan,
on the same event loop, serving the same app (routes, auth, limits, metrics, services): HTTP/2 with
prior knowledge, h2c upgrade, and HTTP/1.1 all work there. With several worker processes they share the
port (SO_REUSEPORT), as the Wyoming server does.

One fix to the HTTP/2 stack: the JS SDK runs each event stream on a session of its own and calls
``session.close()`` as soon as the response headers arrive, which sends GOAWAY (NO_ERROR). By RFC 9113
section 6.8 that only forbids new streams; the open one goes on. The ``h2`` library closes the whole
connection on any GOAWAY it receives (python-hyper/h2#1181, open), and hypercorn with it, so every
``StartSpeechSynthesisStream`` ended before its first AudioEvent. :func:`graceful_goaway` makes
hypercorn's HTTP/2 connections ignore a NO_ERROR GOAWAY (the client opens no new stream after it, and
closes the socket once its streams end); any other GOAWAY still closes the connection at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from voicesmith.server.services import Services

_LOGGER = logging.getLogger(__name__)

SHUTDOWN_SECONDS = 5.0
"""How long open HTTP/2 streams may take to finish when the server stops."""


def graceful_goaway() -> None:
    """Makes hypercorn's HTTP/2 connections (in this process) outlive a client's NO_ERROR GOAWAY."""
    import h2.connection
    import h2.events
    import h2.exceptions
    import hypercorn.protocol
    from hypercorn.protocol.h2 import H2Protocol

    if getattr(hypercorn.protocol.H2Protocol, "graceful_goaway", False):
        return

    class GracefulH2Connection(h2.connection.H2Connection):
        def _receive_goaway_frame(self, frame):  # type: ignore[no-untyped-def]
            if frame.error_code == 0:  # NO_ERROR: no new streams from the peer; open ones finish
                _LOGGER.debug("HTTP/2 client sent GOAWAY (NO_ERROR); its open streams go on")
                return [], []
            return super()._receive_goaway_frame(frame)

    class GracefulH2Protocol(H2Protocol):
        graceful_goaway = True

        async def _handle_events(self, events: list[h2.events.Event]) -> None:
            # Request DATA after the response is complete (an error answered before the whole event
            # stream arrived, or the client's end frame after StreamClosedEvent): hypercorn raises
            # KeyError on it and drops the connection. Count it as received and drop it. Not a
            # RST_STREAM: node then destroys the session, and with it the answer not yet read.
            # One event at a time: a stream exists only once its RequestReceived is handled, and its
            # first DATA often comes in the same read.
            for event in events:
                if isinstance(event, h2.events.DataReceived) and event.stream_id not in self.streams:
                    length, stream_id = event.flow_controlled_length, event.stream_id
                    with contextlib.suppress(h2.exceptions.H2Error):
                        self.connection.acknowledge_received_data(length, stream_id)
                    continue
                await super()._handle_events([event])
            await super()._handle_events([])  # sends what the events left to send (window updates)

        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*args, **kwargs)
            stock = self.connection
            connection = GracefulH2Connection(config=stock.config)
            connection.DEFAULT_MAX_INBOUND_FRAME_SIZE = stock.DEFAULT_MAX_INBOUND_FRAME_SIZE
            connection.local_settings = stock.local_settings
            self.connection = connection

    hypercorn.protocol.H2Protocol = GracefulH2Protocol  # type: ignore[misc]


def without_lifespan(app: ASGIApp) -> ASGIApp:
    """The app for the second listener: the app's lifespan already ran under the first server, so
    hypercorn's lifespan messages are answered here instead of starting the services again."""

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await app(scope, receive, send)

    return serve


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: any free one), shared with other worker processes."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if hasattr(socket, "SO_REUSEPORT"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(1024)
    sock.setblocking(False)
    return sock


class H2Listener:
    """hypercorn serving ``app`` on ``sock`` until :meth:`stop`."""

    def __init__(self, app: ASGIApp, sock: socket.socket) -> None:
        from hypercorn.config import Config, Sockets
        from hypercorn.utils import wrap_app

        graceful_goaway()

        self.sock = sock
        self.port = sock.getsockname()[1]
        config = Config()
        config.accesslog = None
        config.errorlog = logging.getLogger(f"{__name__}.hypercorn")
        config.graceful_timeout = SHUTDOWN_SECONDS
        config.keep_alive_timeout = 75.0
        self._config = config
        self._sockets = Sockets([], [sock], [])
        self._app = wrap_app(without_lifespan(app), config.wsgi_max_body_size, "asgi")
        self._stopping = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        from hypercorn.asyncio.run import worker_serve

        self._task = asyncio.create_task(
            worker_serve(
                self._app, self._config, sockets=self._sockets, shutdown_trigger=self._stopping.wait
            ),
            name="voicesmith http/2 listener",
        )
        await asyncio.sleep(0)

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, SHUTDOWN_SECONDS + 5)
            except (TimeoutError, Exception) as error:  # noqa: BLE001 - stopping: report and go on
                if not isinstance(error, TimeoutError):
                    _LOGGER.warning("HTTP/2 listener stopped with %r", error)
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._task
        self.sock.close()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Starts the HTTP/2 listener with the app when ``polly_stream_port`` is set."""
    services: Services = app.state.services
    settings = services.settings
    if settings.polly_stream_port is None:
        yield
        return
    host = settings.polly_stream_host or settings.host
    sock = bind(host, settings.polly_stream_port)
    listener = H2Listener(app, sock)
    await listener.start()
    app.state.polly_stream = listener
    _LOGGER.info("HTTP/2 (Polly StartSpeechSynthesisStream, JS SDK v3) on %s:%d", host, listener.port)
    try:
        yield
    finally:
        await listener.stop()


router = APIRouter(lifespan=lifespan)
"""No routes: registering it with the app adds the HTTP/2 listener to the app's lifespan."""
