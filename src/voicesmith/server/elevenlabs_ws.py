"""ElevenLabs' streaming-text-in WebSockets: ``stream-input`` (one context) and ``multi-stream-input``
(several contexts on one connection, as pipecat and LiveKit use it).

Client messages (JSON text frames):

* the first: ``{"text": " ", "voice_settings"?, "generation_config": {"chunk_length_schedule"?},
  "pronunciation_dictionary_locators"?, "xi_api_key"?}`` (multi: per context, with ``context_id``);
* ``{"text": "..."}``: more text (any pieces); ``"flush": true`` speaks all that is pending;
  ``"try_trigger_generation": true`` cuts at a clause boundary now if there is one;
* one context: ``{"text": ""}`` ends the stream: what is pending is spoken, ``{"isFinal": true}`` follows,
  then the server closes the socket;
* multi: ``{"context_id": c, "close_context": true}`` stops context ``c`` at once (the chunk being made is
  its last; queued text is dropped) and answers ``{"isFinal": true, "contextId": c}``; ``{"text": ""}`` is
  a keep-alive; ``{"close_socket": true}`` stops everything and closes.

Server messages: ``{"audio": base64, "isFinal": null, "normalizedAlignment", "alignment"}`` (multi: with
``contextId``), alignment ``{"chars", "charStartTimesMs", "charDurationsMs"}`` for each utterance, its
times from the start of that utterance; ``{"isFinal": true}``. Errors: ``{"message", "error", "code":
1008}``, then the socket closes with 1008. A client that closes the socket cancels everything at once.

Segments are spoken one after the other as soon as each is complete (:mod:`.text_stream`): sentences at
once, clauses on the ``chunk_length_schedule`` (default ElevenLabs' ``[120, 160, 250, 290]``) or on
``try_trigger_generation``; ``auto_mode=true`` (query) speaks each message's text as soon as it ends a
sentence or clause, without waiting for the next word.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from pydantic import ValidationError as PydanticValidationError
from starlette.websockets import WebSocketState

from voicesmith.audio.stream import ChunkEncoder
from voicesmith.engine.requests import SynthesisRequest
from voicesmith.errors import ValidationError, VoicesmithError
from voicesmith.server.alignment import CharTimings, TextAligner
from voicesmith.server.elevenlabs_protocol import (
    OutputSpec,
    SpeechFields,
    build_request,
    check_key,
    check_model,
    error_status,
    output_spec,
    speech_text,
)
from voicesmith.server.services import Services
from voicesmith.server.stream_speech import SegmentSpeaker
from voicesmith.server.text_stream import TextSegmenter

_LOGGER = logging.getLogger(__name__)

DEFAULT_SCHEDULE = (120, 160, 250, 290)
MAX_CONTEXTS = 5
"""Contexts open at once on one multi-stream connection (ElevenLabs' limit too)."""
MAX_PENDING_CHARACTERS = 20_000
"""Text a context may hold unspoken (pending and queued); past it the stream is refused (bounded
memory: a client may send text faster than it can be spoken)."""
MAX_MESSAGE_CHARACTERS = 100_000
DEFAULT_INACTIVITY_SECONDS = 20.0
MAX_INACTIVITY_SECONDS = 180.0
_END = object()
_POLICY = 1008


class StreamError(Exception):
    """Ends the connection with an error message (ElevenLabs: code 1008)."""

    def __init__(self, message: str, error: str = "invalid_request") -> None:
        super().__init__(message)
        self.message = message
        self.error = error


class GenerationConfig(SpeechFields):
    """The first message of a context: speech fields plus the generation schedule."""

    generation_config: dict[str, Any] | None = None


@dataclass
class StreamOptions:
    voice_id: str
    spec: OutputSpec
    auto_mode: bool
    inactivity: float


Send = Callable[[dict], Awaitable[None]]


class SpeechContext:
    """One context: its text segmenter, and a task that speaks its segments in order."""

    def __init__(
        self,
        services: Services,
        request: SynthesisRequest,
        options: StreamOptions,
        send: Send,
        schedule: tuple[int, ...],
        context_id: str | None,
    ) -> None:
        language = services.synthesizer.catalog.get(request.voice).language
        self.segmenter = TextSegmenter(language, () if options.auto_mode else schedule)
        self.options = options
        self.context_id = context_id
        self._send = send
        self._queue: asyncio.Queue = asyncio.Queue()
        self._speaker = SegmentSpeaker(services, request, skip_unspeakable=True)
        self._speaking = False
        self._queued = 0
        """Characters in queued segments."""
        self.task = asyncio.create_task(self._run(), name=f"elevenlabs context {context_id}")

    def add(self, text: str, flush: bool = False, trigger: bool = False) -> None:
        segments = self.segmenter.feed(text, trigger=trigger or self.options.auto_mode)
        if flush:
            segments += self.segmenter.flush()
        elif self.options.auto_mode and self.segmenter.pending.rstrip().endswith(
            (".", "!", "?", ",", ";", ":")
        ):
            segments += self.segmenter.flush()
        self._queued += sum(len(segment) for segment in segments)
        if len(self.segmenter.pending) + self._queued > MAX_PENDING_CHARACTERS:
            raise StreamError(
                f"over {MAX_PENDING_CHARACTERS} characters wait to be spoken: send text no faster than speech"
            )
        for segment in segments:
            self._queue.put_nowait(segment)

    @property
    def busy(self) -> bool:
        """Whether audio is being made or text waits to be spoken."""
        return not self.task.done() and (self._speaking or not self._queue.empty())

    def finish(self) -> None:
        """No more text: speak what is pending, then ``isFinal``."""
        for segment in self.segmenter.flush():
            self._queue.put_nowait(segment)
        self._queue.put_nowait(_END)

    async def cancel(self) -> None:
        """Stop now: the chunk being made is the last; queued text is dropped."""
        self.segmenter.clear()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    def _message(self, **fields: Any) -> dict:
        if self.context_id is not None:
            fields["contextId"] = self.context_id
        return fields

    async def _run(self) -> None:
        spec = self.options.spec
        encoder = ChunkEncoder(spec.format, spec.rate)
        pending = CharTimings()

        async def emit(data: bytes) -> None:
            nonlocal pending
            alignment = pending.websocket_json() if pending.chars else None
            pending = CharTimings()
            message = self._message(
                audio=base64.b64encode(data).decode(),
                isFinal=None,
                normalizedAlignment=alignment,
                alignment=alignment,
            )
            await self._send(message)

        while True:
            self._speaking = False
            segment = await self._queue.get()
            if segment is _END:
                break
            self._speaking = True
            self._queued -= len(segment)
            text, text_type = speech_text(segment)
            lead = " " if self._speaker.segments else ""
            aligner = TextAligner(text, lead=lead, markup=text_type == "ssml")
            async with aclosing(self._speaker.speak(text, text_type)) as chunks:
                async for chunk in chunks:
                    if chunk.utterance_span is not None:
                        start, end = (s * 1000 / chunk.sample_rate for s in chunk.utterance_span)
                        pending.extend(aligner.utterance(chunk.marks, start, end))
                    data = encoder.feed(chunk)
                    if data:
                        await emit(data)
        if encoder.started:
            tail = encoder.close()
            if tail or pending.chars:
                await emit(tail)
        await self._send(self._message(isFinal=True))


class StreamSession:
    """One WebSocket connection: reads client messages, routes them to contexts, writes answers."""

    def __init__(self, websocket: WebSocket, services: Services, options: StreamOptions, multi: bool) -> None:
        self.websocket = websocket
        self.services = services
        self.options = options
        self.multi = multi
        self.contexts: dict[str, SpeechContext] = {}
        self._authorized = not services.settings.openai_api_keys
        self._send_lock = asyncio.Lock()
        self._closing = False
        self._failure: StreamError | None = None

    async def send(self, message: dict) -> None:
        async with self._send_lock:
            await self.websocket.send_text(json.dumps(message))

    async def run(self) -> None:
        try:
            try:
                check_key(self.services.settings, self.websocket.headers)
                self._authorized = True
            except VoicesmithError:
                pass  # the key may come in the first message
            await self._read()
        except StreamError as error:
            await self._fail(error)
        except WebSocketDisconnect:
            pass
        finally:
            for context in list(self.contexts.values()):
                await context.cancel()
            self.contexts.clear()

    async def _read(self) -> None:
        while True:
            done = [c for c in self.contexts.values() if c.task.done()]
            for context in done:
                self._check_task(context)
            # The inactivity limit is on text in, not on audio out: none while a context is speaking.
            busy = any(c.busy for c in self.contexts.values())
            try:
                raw = await asyncio.wait_for(self._receive(), None if busy else self.options.inactivity)
            except TimeoutError:
                raise StreamError(
                    f"no text received in {self.options.inactivity:g} seconds: closing",
                    "input_timeout_exceeded",
                ) from None
            if raw is None:
                return
            message = self._parse(raw)
            if not self._authorized:
                try:
                    check_key(self.services.settings, self.websocket.headers, message)
                except VoicesmithError as error:
                    raise StreamError(error.message, "invalid_api_key") from None
                self._authorized = True
            if await self._handle(message):
                return

    async def _receive(self) -> str | None:
        """The next text frame; None when a finished single context has said all (the socket closes)."""
        receive = asyncio.ensure_future(self.websocket.receive_text())
        waits = {receive} | {c.task for c in self.contexts.values()}
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not receive.done():
                receive.cancel()
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                    await receive
        if receive in done:
            return receive.result()
        for context in [c for c in self.contexts.values() if c.task in done]:
            self._check_task(context)
            if not self.multi:
                return None
            self.contexts.pop(context.context_id or "", None)
        return await self._receive()

    def _check_task(self, context: SpeechContext) -> None:
        if context.task.cancelled():
            return
        error = context.task.exception()
        if error is None:
            return
        if isinstance(error, StreamError):
            raise error
        gone = WebSocketState.DISCONNECTED in (self.websocket.client_state, self.websocket.application_state)
        if isinstance(error, (WebSocketDisconnect, ConnectionError)) or (
            isinstance(error, RuntimeError) and gone
        ):
            raise WebSocketDisconnect()  # the client went away while audio was being sent
        if isinstance(error, VoicesmithError):
            raise StreamError(error.message, error_status(error, error.status)[1])
        _LOGGER.error("stream-input synthesis failed", exc_info=error)
        raise StreamError(f"internal error ({type(error).__name__}); see the server log", "internal_error")

    @staticmethod
    def _parse(raw: str) -> dict:
        if len(raw) > MAX_MESSAGE_CHARACTERS:
            raise StreamError(f"a message is over {MAX_MESSAGE_CHARACTERS} characters", "message_too_large")
        try:
            message = json.loads(raw)
        except ValueError:
            raise StreamError(
                'messages are JSON objects, e.g. {"text": "Hello "}', "invalid_message"
            ) from None
        if not isinstance(message, dict):
            raise StreamError('messages are JSON objects, e.g. {"text": "Hello "}', "invalid_message")
        text = message.get("text")
        if text is not None and not isinstance(text, str):
            raise StreamError("'text' must be a string", "invalid_message")
        return message

    def _open_context(self, message: dict, context_id: str | None) -> SpeechContext:
        if len(self.contexts) >= MAX_CONTEXTS:
            raise StreamError(
                f"at most {MAX_CONTEXTS} contexts may be open on one connection: close one first",
                "max_active_conversations",
            )
        try:
            fields = GenerationConfig.model_validate(message)
        except PydanticValidationError as error:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
            raise StreamError(f"invalid first message: {problems}") from None
        try:
            request = build_request(self.services, self.options.voice_id, fields)
        except VoicesmithError as error:
            raise StreamError(error.message, error_status(error, error.status)[1]) from None
        schedule = tuple((fields.generation_config or {}).get("chunk_length_schedule") or DEFAULT_SCHEDULE)
        try:
            schedule = tuple(max(1, int(n)) for n in schedule)
        except (TypeError, ValueError):
            raise StreamError("generation_config.chunk_length_schedule is a list of numbers") from None
        context = SpeechContext(self.services, request, self.options, self.send, schedule, context_id)
        self.contexts[context_id or ""] = context
        return context

    async def _handle(self, message: dict) -> bool:
        """Act on one message; True when the connection is to end."""
        text = message.get("text")
        flush = bool(message.get("flush"))
        trigger = bool(message.get("try_trigger_generation"))
        if not self.multi:
            context = self.contexts.get("")
            if context is None:
                context = self._open_context(message, None)
                context.add(text or "", flush, trigger)
                return False
            if text == "":
                context.finish()  # the reader then waits for its isFinal
                return False
            if text is not None or flush:
                context.add(text or "", flush, trigger)
            return False
        if message.get("close_socket"):
            return True
        context_id = str(message.get("context_id") or message.get("contextId") or "")
        context = self.contexts.get(context_id)
        if message.get("close_context"):
            if context is not None:
                self.contexts.pop(context_id, None)
                await context.cancel()
                await self.send({"isFinal": True, "contextId": context_id})
            return False
        if context is None:
            if text == "" and not flush:
                return False  # a keep-alive for a context not opened yet
            context = self._open_context(message, context_id)
        if text or flush or trigger:
            context.add(text or "", flush, trigger)
        return False

    async def _fail(self, error: StreamError) -> None:
        with contextlib.suppress(Exception):
            await self.send({"message": error.message, "error": error.error, "code": _POLICY})
            await self.websocket.close(code=_POLICY, reason=error.error[:120])


def stream_options(websocket: WebSocket, voice_id: str) -> StreamOptions:
    params = websocket.query_params
    check_model(params.get("model_id") or None)
    try:
        inactivity = float(params.get("inactivity_timeout") or DEFAULT_INACTIVITY_SECONDS)
    except ValueError:
        raise ValidationError("inactivity_timeout is a number of seconds") from None
    if not 1 <= inactivity <= MAX_INACTIVITY_SECONDS:
        raise ValidationError(f"inactivity_timeout is 1-{MAX_INACTIVITY_SECONDS:g} seconds")
    auto_mode = (params.get("auto_mode") or "false").lower() == "true"
    return StreamOptions(voice_id, output_spec(params.get("output_format")), auto_mode, inactivity)


async def serve_stream(websocket: WebSocket, voice_id: str, multi: bool) -> None:
    """Run one ``stream-input`` / ``multi-stream-input`` connection to its end."""
    services: Services = websocket.app.state.services
    await websocket.accept()
    try:
        options = stream_options(websocket, voice_id)
    except VoicesmithError as error:
        session = StreamSession(
            websocket, services, StreamOptions(voice_id, output_spec(None), False, 1), multi
        )
        await session._fail(StreamError(error.message, error_status(error, error.status)[1]))
        return
    session = StreamSession(websocket, services, options, multi)
    await session.run()
    with contextlib.suppress(Exception):
        await websocket.close(code=1000)
