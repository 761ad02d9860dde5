"""Amazon Polly's ``StartSpeechSynthesisStream``: text in, audio out, on one bidirectional HTTP/2 stream.

``POST /v1/synthesisStream`` with the synthesis parameters in headers (``x-amzn-VoiceId``,
``x-amzn-Engine``, ``x-amzn-OutputFormat``, ``x-amzn-SampleRate``, ``x-amzn-LanguageCode``,
``x-amzn-LexiconNames``) and a body of event-stream messages (:mod:`voicesmith.server.eventstream`):
``TextEvent`` (``Text``, ``TextType``, ``FlushStreamConfiguration.Force``) and ``CloseStreamEvent``. The
answer starts at once (200, ``application/vnd.amazon.eventstream``) and carries ``AudioEvent`` messages
(the audio of the whole stream as one file of ``OutputFormat``, in pieces) as each sentence is spoken,
then ``StreamClosedEvent`` with ``RequestCharacters``. The JavaScript SDK v3 (``@aws-sdk/client-polly``'s
``StartSpeechSynthesisCommand``) speaks it over HTTP/2, which ``voicesmith serve --polly-stream-port``
serves (:mod:`voicesmith.server.h2_listener`).

Text is spoken a sentence at a time, as soon as the sentence is complete
(:class:`~voicesmith.server.text_stream.TextSegmenter`), so the audio equals one-shot synthesis of the
same text; ``Force`` speaks what is pending at once, and an SSML ``TextEvent`` (a whole ``<speak>``
document) is one utterance of its own. Bad parameters are refused before the stream starts, in
Polly's HTTP error shape; what goes wrong on the stream (a malformed or badly signed event, bad SSML, too
much text, a client that stops sending) ends it with a modeled exception event (``ValidationException``,
``ServiceQuotaExceededException``, ...), which the SDKs raise from the stream. A client that goes away
stops the synthesis after the chunk being made.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

from voicesmith.audio.encode import StreamEncoder
from voicesmith.audio.formats import get_format, resolve_rate
from voicesmith.engine.synthesizer import SynthesisRequest
from voicesmith.errors import (
    ServiceFailureError,
    ServiceQuotaExceededError,
    ThrottlingError,
    ValidationError,
    VoicesmithError,
)
from voicesmith.server import eventstream
from voicesmith.server.auth import EVENT_STREAM_PATHS
from voicesmith.server.deps import polly_auth
from voicesmith.server.polly import check_voice
from voicesmith.server.services import Services
from voicesmith.server.speech import (
    OUTPUT_FORMATS,
    PollySpeechFields,
    billed_characters,
    check_engine,
    enum_error,
)
from voicesmith.server.stream_speech import SegmentSpeaker
from voicesmith.server.text_stream import TextSegmenter
from voicesmith.text.unicode import check_text

_LOGGER = logging.getLogger(__name__)

PATH = "/v1/synthesisStream"
EVENT_STREAM_PATHS.add(PATH)
MAX_EVENT_CHARACTERS = 6000
"""Characters in one TextEvent (SynthesizeSpeech's limit for one request)."""
MAX_STREAM_CHARACTERS = 100_000
"""Billed characters in one stream (StartSpeechSynthesisTask's limit): bounds the text a stream holds."""
INBOUND_EVENT_TIMEOUT = 60.0
"""Seconds a stream may wait for the client's next event while it has nothing left to speak."""
MAX_STREAM_SECONDS = 30 * 60.0
"""A stream's whole life; then ``ServiceQuotaExceededException`` (``input-stream-timeout``)."""
MAX_STREAMS = 64
"""Streams open at once per process; one more is throttled."""
MODELED = {
    "ValidationException",
    "ServiceQuotaExceededException",
    "ServiceFailureException",
    "ThrottlingException",
}
"""The exceptions the operation's output stream models (the SDKs raise these as typed errors)."""
_HEADERS = {
    "Engine": "x-amzn-engine",
    "LanguageCode": "x-amzn-languagecode",
    "LexiconNames": "x-amzn-lexiconnames",
    "OutputFormat": "x-amzn-outputformat",
    "SampleRate": "x-amzn-samplerate",
    "VoiceId": "x-amzn-voiceid",
}
_END = object()


class StreamQuotaError(ServiceQuotaExceededError):
    def __init__(self, message: str, quota_code: str) -> None:
        super().__init__(message)
        self.quota_code = quota_code


@dataclass(frozen=True)
class StreamSpec:
    """A checked StartSpeechSynthesisStream request: what every segment is spoken with."""

    request: SynthesisRequest
    output_format: str
    sample_rate: int
    language: str


def _missing(names: list[str]) -> ValidationError:
    return ValidationError(
        f"{len(names)} validation error{'s' if len(names) > 1 else ''} detected: "
        + "; ".join(
            f"Value null at '{name[0].lower() + name[1:]}' failed to satisfy constraint: "
            "Member must not be null"
            for name in names
        )
    )


def stream_spec(services: Services, headers: dict[str, str]) -> StreamSpec:
    """The request's headers, checked as Polly checks them, before the stream starts."""
    values = {name: headers[key].strip() for name, key in _HEADERS.items() if key in headers}
    missing = [name for name in ("Engine", "OutputFormat", "VoiceId") if not values.get(name)]
    if missing:
        raise _missing(missing)
    check_engine(values["Engine"])
    output_format = values["OutputFormat"]
    if output_format not in OUTPUT_FORMATS:
        raise enum_error(output_format, "outputFormat", OUTPUT_FORMATS)
    if output_format == "json":
        raise ValidationError(
            "StartSpeechSynthesisStream gives audio, not speech marks: pick an audio OutputFormat "
            "(mp3, ogg_opus, ogg_vorbis, pcm, mulaw, alaw), or use SynthesizeSpeech for marks"
        )
    fmt = get_format(output_format)
    rate = resolve_rate(fmt, values.get("SampleRate") or fmt.default_rate)
    names = [name.strip() for name in values.get("LexiconNames", "").split(",") if name.strip()]
    fields = PollySpeechFields(
        Text="",
        VoiceId=values["VoiceId"],
        OutputFormat=output_format,
        LanguageCode=values.get("LanguageCode"),
    )
    lexicons = services.lexicons(names) if names else []
    info = check_voice(services, fields)
    request = SynthesisRequest(text="", voice=info.id, lexicons=tuple(lexicons))
    return StreamSpec(request, output_format, rate, info.language)


def _error_fields(error: VoicesmithError) -> tuple[str, dict[str, Any]]:
    """An error as the output stream's exception event: its type and members."""
    kind = error.polly_type if error.polly_type in MODELED else None
    if kind is None:
        kind = "ServiceFailureException" if error.status >= 500 else "ValidationException"
    fields: dict[str, Any] = {"message": error.message}
    if kind == "ValidationException":
        fields["reason"] = (
            "invalidInboundEvent"
            if isinstance(error, eventstream.InvalidEventError)
            else "fieldValidationFailed"
        )
    elif kind == "ServiceQuotaExceededException":
        fields["quotaCode"] = getattr(error, "quota_code", "input-stream-timeout")
        fields["serviceCode"] = "polly"
    return kind, fields


class SpeechStream:
    """One stream: a reader of the client's events and a speaker of the queued segments, which share
    the response. Started by :class:`SpeechStreamResponse`."""

    def __init__(self, services: Services, spec: StreamSpec, verifier: eventstream.EventVerifier) -> None:
        self.services = services
        self.spec = spec
        self.verifier = verifier
        self.segmenter = TextSegmenter(spec.language)
        self.speaker = SegmentSpeaker(services, spec.request, skip_unspeakable=True)
        self.queue: asyncio.Queue = asyncio.Queue()
        self.characters = 0
        """Billed characters received (StreamClosedEvent's RequestCharacters)."""
        self.closed = False
        """CloseStreamEvent (or the end of the body) has arrived."""
        self.speaking = False
        self.last_activity = time.monotonic()
        """When the client last sent something or the stream last sent audio."""

    @property
    def idle(self) -> bool:
        """Waiting for the client: the input is open and nothing is left to speak."""
        return not self.closed and not self.speaking and self.queue.empty()

    # -- in ----------------------------------------------------------------------------------------------

    async def read(self, receive: Receive) -> None:
        """Reads events until the client goes away (returns) or sends what the stream cannot take
        (raises). Keeps reading after CloseStreamEvent, to notice a client that leaves early."""
        reader = eventstream.MessageReader()
        deadline = time.monotonic() + MAX_STREAM_SECONDS
        body_done = False
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise StreamQuotaError(
                    f"the stream has been open {MAX_STREAM_SECONDS:.0f} s, the most one stream may: "
                    "open a new stream for more text",
                    "input-stream-timeout",
                )
            if self.idle and now - self.last_activity >= INBOUND_EVENT_TIMEOUT:
                raise StreamQuotaError(
                    f"no event arrived for {INBOUND_EVENT_TIMEOUT:.0f} s: send TextEvents as the text is "
                    "made, and CloseStreamEvent at the end",
                    "input-stream-inbound-event-timeout",
                )
            idle_left = self.last_activity + INBOUND_EVENT_TIMEOUT - now
            wait = min(deadline - now, max(0.05, idle_left) if self.idle else INBOUND_EVENT_TIMEOUT)
            try:
                message = await asyncio.wait_for(receive(), wait)
            except TimeoutError:
                continue
            self.last_activity = time.monotonic()
            if message["type"] == "http.disconnect":
                return
            if message["type"] != "http.request" or body_done:
                continue
            for raw in reader.feed(message.get("body", b"")):
                inner = self.verifier.open(raw)
                if inner is None:  # the empty envelope after the client's last event
                    self._close()
                else:
                    self._take(inner)
            if not message.get("more_body", False):
                body_done = True
                if reader.pending:
                    raise eventstream.InvalidEventError(
                        "the request body ended inside an event-stream message"
                    )
                self._close()

    def _take(self, message: eventstream.Message) -> None:
        if message.message_type != "event":
            raise eventstream.InvalidEventError(
                f"an inbound message of type {message.message_type!r}; only events are taken"
            )
        if self.closed:
            raise eventstream.InvalidEventError(
                f"a {message.event_type} after CloseStreamEvent: the input stream is closed"
            )
        if message.event_type == "CloseStreamEvent":
            self._close()
        elif message.event_type == "TextEvent":
            self._text(message.payload)
        else:
            raise eventstream.InvalidEventError(
                f"unknown inbound event {message.event_type!r}: send TextEvent or CloseStreamEvent"
            )

    def _text(self, payload: bytes) -> None:
        try:
            body = json.loads(payload or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise eventstream.InvalidEventError("a TextEvent's payload is not JSON") from None
        text = body.get("Text") if isinstance(body, dict) else None
        if not isinstance(text, str):
            raise ValidationError(
                "1 validation error detected: Value null at 'text' failed to satisfy constraint: "
                "Member must not be null"
            )
        check_text(text, "Text")
        text_type = body.get("TextType") or "text"
        if text_type not in ("ssml", "text"):
            raise enum_error(text_type, "textType", ("ssml", "text"))
        if len(text) > MAX_EVENT_CHARACTERS:
            raise ValidationError(
                f"a TextEvent of {len(text)} characters; the limit is {MAX_EVENT_CHARACTERS}: send the text "
                "in more events"
            )
        billed = billed_characters(text, text_type)  # checks the SSML
        if self.characters + billed > MAX_STREAM_CHARACTERS:
            raise ValidationError(
                f"over {MAX_STREAM_CHARACTERS} billed characters in one stream: open a new stream for more"
            )
        self.characters += billed
        flush = bool((body.get("FlushStreamConfiguration") or {}).get("Force"))
        if text_type == "ssml":  # a whole <speak> document: one utterance, after the text before it
            self._queue(self.segmenter.flush(), "text")
            self._queue([text], "ssml")
            return
        self._queue(self.segmenter.feed(text), "text")
        if flush:
            self._queue(self.segmenter.flush(), "text")

    def _queue(self, segments: list[str], text_type: str) -> None:
        for segment in segments:
            self.queue.put_nowait((segment, text_type))

    def _close(self) -> None:
        if not self.closed:
            self.closed = True
            self._queue(self.segmenter.flush(), "text")
            self.queue.put_nowait(_END)

    # -- out ---------------------------------------------------------------------------------------------

    async def speak(self, send: Send) -> None:
        """Speaks the queued segments as one audio stream; StreamClosedEvent once the input is closed."""
        encoder: StreamEncoder | None = None

        async def audio(data: bytes) -> None:
            self.last_activity = time.monotonic()
            if data:
                payload = eventstream.event("AudioEvent", data, "application/octet-stream")
                await send({"type": "http.response.body", "body": payload, "more_body": True})

        while True:
            item = await self.queue.get()
            if item is _END:
                break
            text, text_type = item
            self.speaking = True
            try:
                async with aclosing(self.speaker.speak(text, text_type)) as chunks:
                    async for chunk in chunks:
                        if encoder is None:
                            encoder = StreamEncoder(
                                self.spec.output_format, chunk.sample_rate, self.spec.sample_rate
                            )
                        await audio(encoder.feed(chunk.audio))
            finally:
                self.speaking = False
        if encoder is not None:
            await audio(encoder.close())
        closed = json.dumps({"RequestCharacters": self.characters}).encode()
        await send({"type": "http.response.body", "body": eventstream.event("StreamClosedEvent", closed)})


class SpeechStreamResponse(Response):
    """Runs a :class:`SpeechStream` on the raw ASGI channel: the answer begins before the request body
    has arrived, and the body is read while the answer is written (Starlette's responses read the
    request only to wait for a disconnect, which would eat the events)."""

    def __init__(self, stream: SpeechStream) -> None:
        super().__init__(status_code=200, media_type=eventstream.CONTENT_TYPE)
        self.stream = stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        _STREAMS.open += 1
        try:
            await self._run(receive, send)
        finally:
            _STREAMS.open -= 1

    async def _run(self, receive: Receive, send: Send) -> None:
        # Not self.raw_headers: Starlette adds content-length 0 for the empty body given to __init__.
        headers = [(b"content-type", eventstream.CONTENT_TYPE.encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        stream = self.stream
        speaker = asyncio.create_task(stream.speak(send), name="polly stream speaker")
        reader = asyncio.create_task(stream.read(receive), name="polly stream reader")
        try:
            await asyncio.wait({speaker, reader}, return_when=asyncio.FIRST_COMPLETED)
            if reader.done() and reader.exception() is None:  # the client went away
                _LOGGER.info("polly stream: the client went away; synthesis stopped")
                return
            failed = reader if reader.done() else speaker
            error = failed.exception()
            if error is None:  # spoken to the end, StreamClosedEvent sent
                return
            if not isinstance(error, VoicesmithError):
                _LOGGER.error("polly stream failed", exc_info=error)
                error = ServiceFailureError("the stream failed on the server; try again")
            _LOGGER.info("polly stream ended with %s: %s", error.polly_type, error.message)
            for task in (speaker, reader):
                await _cancel(task)
            kind, fields = _error_fields(error)
            await send({"type": "http.response.body", "body": eventstream.exception(kind, fields)})
        finally:
            for task in (speaker, reader):
                await _cancel(task)


async def _cancel(task: asyncio.Task) -> None:
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


class _Streams:
    """Counts the streams open in this process (bounded: each holds a connection and a speaker)."""

    open = 0


_STREAMS = _Streams()


router = APIRouter(tags=["polly"], dependencies=[Depends(polly_auth)])


@router.post(PATH, summary="StartSpeechSynthesisStream", response_class=Response)
async def start_speech_synthesis_stream(request: Request) -> Response:
    services: Services = request.app.state.services
    headers = {name.lower(): value for name, value in request.headers.items()}
    spec = await services.pool.run(stream_spec, services, headers)
    if _STREAMS.open >= MAX_STREAMS:
        raise ThrottlingError(f"{MAX_STREAMS} synthesis streams are open on this server: try again shortly")
    credentials = request.scope.get("state", {}).get("event_stream_credentials")
    stream = SpeechStream(services, spec, eventstream.EventVerifier(credentials))
    return SpeechStreamResponse(stream)
