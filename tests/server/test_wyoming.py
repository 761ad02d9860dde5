"""The Wyoming door, driven by the ``wyoming`` package's own AsyncTcpClient (what Home Assistant uses)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)


@pytest.fixture(scope="module")
def wyoming_server(doors_server):
    return doors_server


@pytest.fixture(scope="module")
def port(wyoming_server):
    return wyoming_server.app.state.wyoming.port


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


async def _collect(client: AsyncTcpClient, until: str) -> list[Event]:
    events = []
    while True:
        event = await client.read_event()
        assert event is not None, "the server closed the connection"
        events.append(event)
        if event.type == until or Error.is_type(event.type) and until == "audio-stop":
            return events


def _audio(events: list[Event]) -> np.ndarray:
    chunks = [AudioChunk.from_event(e) for e in events if AudioChunk.is_type(e.type)]
    return np.frombuffer(b"".join(c.audio for c in chunks), dtype="<i2")


def test_describe_lists_voices_with_emotions_as_speakers(port):
    async def go():
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(Describe().event())
            return Info.from_event(await client.read_event())

    info = run(go())
    (program,) = info.tts
    assert program.supports_synthesize_streaming and program.installed
    joe = next(v for v in program.voices if v.name == "joe")
    assert joe.languages == ["en-US"] and joe.installed and joe.version
    assert joe.attribution.name
    assert {"angry", "happy", "sad", "neutral"} <= {s.name for s in joe.speakers}


def test_custom_voice_appears_without_restart(wyoming_server, port, tiny_voices):
    from voicesmith.engine.synthesizer import Synthesizer

    async def describe():
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(Describe().event())
            return Info.from_event(await client.read_event())

    before = {v.name for v in run(describe()).tts[0].voices}
    synthesizer: Synthesizer = wyoming_server.app.state.services.synthesizer
    synthesizer.catalog.add(tiny_voices[3], voice_id="wyo-new")
    voices = {v.name: v for v in run(describe()).tts[0].voices}
    assert "wyo-new" not in before and "wyo-new" in voices
    speakers = [s.name for s in voices["wyo-new"].speakers]
    assert speakers[:3] == ["speaker_0", "speaker_1", "speaker_2"] and "angry" in speakers

    async def speak():  # a speaker of the new voice, by name
        async with AsyncTcpClient("127.0.0.1", port) as client:
            voice = SynthesizeVoice(name="wyo-new", speaker="speaker_2")
            await client.write_event(Synthesize(text="Hello.", voice=voice).event())
            return await _collect(client, "audio-stop")

    events = run(speak())
    assert AudioStop.is_type(events[-1].type) and len(_audio(events)) > 0


def test_one_shot_synthesize_streams_chunks_with_marks(port):
    async def go():
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(Synthesize(text="Hello from the kitchen. The oven is hot.").event())
            return await _collect(client, "audio-stop")

    events = run(go())
    assert AudioStart.is_type(events[0].type) and AudioStop.is_type(events[-1].type)
    start = AudioStart.from_event(events[0])
    assert (start.rate, start.width, start.channels) == (22050, 2, 1)
    audio = _audio(events)
    assert 1.0 < len(audio) / 22050 < 6.0 and np.abs(audio).max() > 1000
    chunks = [e for e in events if AudioChunk.is_type(e.type)]
    assert len(chunks) > 10  # sent in pieces, not as one blob
    marks = [m for e in chunks for m in e.data.get("speech_marks", [])]
    words = [m["value"] for m in marks if m["type"] == "word"]
    assert words[:3] == ["Hello", "from", "the"] and "hot" in words
    times = [m["time"] for m in marks if m["type"] == "word"]
    assert times == sorted(times) and times[-1] > 500


def test_ssml_voice_by_language_and_emotion_speaker(port):
    async def go(event):
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(event)
            return await _collect(client, "audio-stop")

    ssml = Synthesize(
        text='<speak>Wait <break time="800ms"/> now.</speak>',
        text_format="ssml",
        voice=SynthesizeVoice(language="en_US"),
    )
    plain = Synthesize(text="Wait now.", voice=SynthesizeVoice(language="en-GB"))  # the primary language
    assert len(_audio(run(go(ssml.event())))) > len(_audio(run(go(plain.event())))) + 0.6 * 22050
    angry = Synthesize(text="Wait now.", voice=SynthesizeVoice(name="joe", speaker="angry"))
    audio = _audio(run(go(angry.event())))
    assert len(audio) > 0


def test_streaming_speaks_each_sentence_as_it_completes(port):
    async def go():
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="joe")).event())
            for piece in ["The lights ", "are on. The do", "or is ", "locked. And"]:
                await client.write_event(SynthesizeChunk(text=piece).event())
            # the first sentence is spoken before the stream ends
            first = await _collect(client, "audio-stop")
            await client.write_event(SynthesizeChunk(text=" that is all").event())
            text = "The lights are on. The door is locked. And that is all"
            await client.write_event(Synthesize(text=text).event())  # compatibility copy: ignored
            await client.write_event(SynthesizeStop().event())
            rest = await _collect(client, "synthesize-stopped")
            return first, rest

    first, rest = run(go())
    assert AudioStart.is_type(first[0].type)
    assert sum(1 for e in rest if AudioStart.is_type(e.type)) == 2  # sentences 2 and 3, nothing doubled
    assert SynthesizeStopped.is_type(rest[-1].type)
    assert not any(Error.is_type(e.type) for e in first + rest)
    words = [m["value"] for e in first + rest for m in e.data.get("speech_marks", []) if m["type"] == "word"]
    assert words == ["The", "lights", "are", "on", "The", "door", "is", "locked", "And", "that", "is", "all"]
    stamps = [AudioChunk.from_event(e).timestamp for e in first + rest if AudioChunk.is_type(e.type)]
    assert stamps == sorted(stamps)  # one timeline across the sentences


def test_several_clients_at_once(port):
    async def one(text):
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(Synthesize(text=text).event())
            return _audio(await _collect(client, "audio-stop"))

    async def go():
        return await asyncio.gather(*(one(f"Client number {n} is speaking.") for n in range(4)))

    results = run(go())
    assert all(len(a) > 22050 * 0.8 for a in results)


def test_unknown_event_is_ignored_and_bad_voice_is_an_error_event(port):
    async def go():
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(Event(type="some-future-event", data={"x": 1}))
            await client.write_event(Event(type="ping", data={"text": "hi"}))
            pong = await client.read_event()
            assert pong.type == "pong" and pong.data.get("text") == "hi"

            async def refused(event: Event) -> Event:
                await client.write_event(event)
                error = await client.read_event()
                stop = await client.read_event()  # what Home Assistant's one-shot reader waits for
                assert AudioStop.is_type(stop.type)
                return error

            error = await refused(Synthesize(text="Hi.", voice=SynthesizeVoice(name="nobody")).event())
            bad_speaker = SynthesizeVoice(name="joe", speaker="zz")
            error2 = await refused(Synthesize(text="Hi.", voice=bad_speaker).event())
            error3 = await refused(Event(type="synthesize", data={"voice": {"name": "joe"}}))  # no text
            german = SynthesizeVoice(language="de_DE")
            error4 = await refused(Synthesize(text="Hallo.", voice=german).event())
            assert Error.is_type(error4.type) and "de_DE" in Error.from_event(error4).text
            await client.write_event(Synthesize(text="Still here.").event())  # connection still open
            return error, error2, error3, await _collect(client, "audio-stop")

    error, error2, error3, events = run(go())
    assert Error.is_type(error.type) and "nobody" in Error.from_event(error).text
    assert Error.is_type(error2.type) and "zz" in Error.from_event(error2).text
    assert Error.is_type(error3.type)
    assert AudioStop.is_type(events[-1].type) and len(_audio(events)) > 0


def test_stream_error_still_ends_with_synthesize_stopped(port):
    async def go():
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="nobody")).event())
            await client.write_event(SynthesizeChunk(text="Hello there. And ").event())
            await client.write_event(SynthesizeStop().event())
            return await _collect(client, "synthesize-stopped")

    events = run(go())
    assert [e.type for e in events] == ["error", "synthesize-stopped"]


def test_zeroconf_advertiser_constructs_on_loopback():
    from voicesmith.server.wyoming import Advertiser

    advertiser = Advertiser("voicesmith-test", "127.0.0.1", 10200, interfaces=["127.0.0.1"])
    assert advertiser.info.type == "_wyoming._tcp.local." and advertiser.info.port == 10200
    asyncio.run(advertiser._zeroconf.async_close())


def test_ssml_stream_is_spoken_whole_at_stop(port):
    async def go():
        async with AsyncTcpClient("127.0.0.1", port) as client:
            start = SynthesizeStart(voice=SynthesizeVoice(name="joe"), text_format="ssml")
            await client.write_event(start.event())
            for piece in ["<speak>One. <break ti", 'me="500ms"/> Two', ". Three.</speak>"]:
                await client.write_event(SynthesizeChunk(text=piece).event())
            await client.write_event(SynthesizeStop().event())
            return await _collect(client, "synthesize-stopped")

    events = run(go())
    assert not any(Error.is_type(e.type) for e in events)
    assert sum(1 for e in events if AudioStart.is_type(e.type)) == 1 and len(_audio(events)) > 22050


def test_stream_skips_a_sentence_with_nothing_to_say(port):
    async def go():
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="joe")).event())
            for piece in ["Sure. ", "\U0001f44d. ", "Bye."]:
                await client.write_event(SynthesizeChunk(text=piece).event())
            await client.write_event(SynthesizeStop().event())
            return await _collect(client, "synthesize-stopped")

    events = run(go())
    assert not any(Error.is_type(e.type) for e in events)
    assert [e.type for e in events if e.type in ("audio-start", "audio-stop")] == [
        "audio-start",
        "audio-stop",
    ] * 2


def test_stopping_with_a_client_connected_is_quiet(wyoming_server):
    """Home Assistant keeps its connection open: a server that stops cancels it without an error."""
    from voicesmith.server.wyoming import WyomingServer

    problems: list[dict] = []

    async def go():
        asyncio.get_running_loop().set_exception_handler(lambda _loop, context: problems.append(context))
        server = WyomingServer(wyoming_server.app.state.services, "127.0.0.1", 0)
        await server.start()
        async with AsyncTcpClient("127.0.0.1", server.port) as client:
            await client.write_event(Describe().event())
            assert Info.is_type((await client.read_event()).type)
            await server.stop()
            assert await client.read_event() is None  # the server closed it
        await asyncio.sleep(0.1)  # the connection task's done callbacks run

    run(go())
    assert problems == []
