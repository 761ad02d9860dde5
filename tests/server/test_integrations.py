"""The recipes of docs/integrations.md, each checked by replaying what that client sends: Home Assistant
(Wyoming, Amazon Polly), Open WebUI, pipecat and LiveKit (speech-dispatcher: tests/server/test_marytts.py).

Each test does what the client's own code does (cited in the test), against a real server on loopback.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import wave

import boto3
import httpx
import numpy as np
import pytest
import soundfile as sf
from websockets.sync.client import connect
from wyoming.audio import AudioChunk, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe, Info
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

from .harness import ACCESS_KEY, OPENAI_KEY, SECRET_KEY


@pytest.fixture(scope="module")
def server(keyed_doors_server):
    return keyed_doors_server


def wyoming_port(server) -> int:
    return server.app.state.wyoming.port


# -- Home Assistant: Wyoming ---------------------------------------------------------------------------------


def test_home_assistant_wyoming(server):
    """homeassistant/components/wyoming: info at setup, then tts.py's streaming and one-shot paths."""
    port = wyoming_port(server)

    async def setup() -> Info:  # data.py: load_wyoming_info
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(Describe().event())
            while True:
                event = await client.read_event()
                if Info.is_type(event.type):
                    return Info.from_event(event)

    async def stream(voice: SynthesizeVoice, pieces: list[str]) -> bytes:  # async_stream_tts_audio
        client = AsyncTcpClient("127.0.0.1", port)
        await client.connect()
        await client.write_event(SynthesizeStart(voice=voice).event())

        async def write_input():
            message = ""
            for piece in pieces:
                message += piece
                await client.write_event(SynthesizeChunk(text=piece).event())
            await client.write_event(Synthesize(text=message, voice=voice).event())  # for old servers
            await client.write_event(SynthesizeStop().event())

        writer = asyncio.create_task(write_input())
        audio = b""
        try:
            while True:
                event = await client.read_event()
                assert event is not None
                if SynthesizeStopped.is_type(event.type):
                    break
                if AudioChunk.is_type(event.type):
                    audio += AudioChunk.from_event(event).audio
        finally:
            await writer
            await client.disconnect()
        return audio

    async def one_shot(message: str, voice: SynthesizeVoice) -> bytes:  # async_get_tts_audio
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(Synthesize(text=message, voice=voice).event())
            with io.BytesIO() as wav_io:
                wav_writer = None
                while True:
                    event = await client.read_event()
                    if AudioStop.is_type(event.type):
                        break
                    if AudioChunk.is_type(event.type):
                        chunk = AudioChunk.from_event(event)
                        if wav_writer is None:
                            wav_writer = wave.open(wav_io, "wb")
                            wav_writer.setframerate(chunk.rate)
                            wav_writer.setsampwidth(chunk.width)
                            wav_writer.setnchannels(chunk.channels)
                        wav_writer.writeframes(chunk.audio)
                wav_writer.close()
                return wav_io.getvalue()

    async def go():
        info = await setup()
        tts = next(t for t in info.tts if t.installed)
        assert tts.supports_synthesize_streaming
        voice = next(v for v in tts.voices if v.installed and "en-US" in v.languages)
        speaker = next(s.name for s in voice.speakers if s.name == "happy")
        chosen = SynthesizeVoice(name=voice.name, speaker=speaker)
        streamed = await stream(chosen, ["Good ", "evening! The ", "garage is ", "closed."])
        wav = await one_shot("Good evening!", chosen)
        return streamed, wav

    streamed, wav = asyncio.run(asyncio.wait_for(go(), 120))
    assert len(streamed) / 2 / 22050 > 1.2
    audio, rate = sf.read(io.BytesIO(wav))
    assert rate == 22050 and len(audio) / rate > 0.5


# -- Home Assistant: Amazon Polly ----------------------------------------------------------------------------


def test_home_assistant_amazon_polly(server, monkeypatch, joe_files):
    """homeassistant/components/amazon_polly/tts.py: boto3 with no endpoint option (the recipe points it
    here with AWS_ENDPOINT_URL_POLLY), a voice from its list of Polly names, engine neural."""
    model, config = joe_files
    server.app.state.services.synthesizer.catalog.add(
        model, voice_id="Matthew", config_path=config, gender="Male"
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL_POLLY", server.url)
    aws_config = {
        "region_name": "us-east-1",
        "aws_access_key_id": ACCESS_KEY,
        "aws_secret_access_key": SECRET_KEY,
    }
    polly_client = boto3.client("polly", **aws_config)
    all_voices = {voice.get("Id"): voice for voice in polly_client.describe_voices().get("Voices")}
    language = all_voices["Matthew"]["LanguageCode"]  # default_language
    assert language == "en-US"
    resp = polly_client.synthesize_speech(
        Engine="neural",
        OutputFormat="mp3",
        SampleRate="22050",
        Text="The washing machine has finished.",
        TextType="text",
        VoiceId="Matthew",
    )
    assert resp.get("ContentType") == "audio/mpeg"  # CONTENT_TYPE_EXTENSIONS
    audio, rate = sf.read(io.BytesIO(resp.get("AudioStream").read()))
    assert rate == 22050 and len(audio) / rate > 1.0


# -- Open WebUI ----------------------------------------------------------------------------------------------


def test_open_webui_openai_engine(server):
    """backend/open_webui/routers/audio.py: TTS engine "openai", TTS_OPENAI_API_BASE_URL = <server>/v1."""
    base = f"{server.url}/v1"
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {OPENAI_KEY}",
        "X-OpenWebUI-User-Name": "Ada",
        "X-OpenWebUI-User-Id": "1",
        "X-OpenWebUI-User-Email": "a@example.org",
        "X-OpenWebUI-User-Role": "user",
    }
    payload = {"input": "Here is the summary you asked for.", "voice": "alloy", "model": "tts-1"}
    answer = httpx.post(f"{base}/audio/speech", json=payload, headers=headers, timeout=120)
    answer.raise_for_status()
    audio, rate = sf.read(io.BytesIO(answer.content))  # saved as .mp3 and played by the browser
    assert len(audio) / rate > 1.0
    voices = httpx.get(f"{base}/audio/voices", headers=headers).json()["voices"]
    assert {"id", "name"} <= set(voices[0])
    wrong = httpx.post(f"{base}/audio/speech", json=payload, headers={**headers, "Authorization": "Bearer x"})
    assert wrong.status_code == 401 and "error" in wrong.json()  # shown as "External: ..."


# -- pipecat -------------------------------------------------------------------------------------------------


def pipecat_word_times(alignments: list[dict]) -> list[tuple[str, float]]:
    """pipecat.services.elevenlabs.tts.calculate_word_times, applied message after message as pipecat
    does (cumulative time advanced by each alignment's last start + duration)."""
    cumulative, partial, partial_start, out = 0.0, "", 0.0, []
    for alignment in alignments:
        word, start = partial, (partial_start if partial else None)
        for char, ms in zip(alignment["chars"], alignment["charStartTimesMs"], strict=True):
            if char == " ":
                if word:
                    out.append((word, start))
                word, start = "", None
            else:
                if start is None:
                    start = cumulative + ms / 1000
                word += char
        partial, partial_start = word, start or 0.0
        cumulative += (alignment["charStartTimesMs"][-1] + alignment["charDurationsMs"][-1]) / 1000
    if partial:
        out.append((partial, partial_start))
    return out


def test_pipecat_elevenlabs_websocket(server):
    """pipecat ElevenLabsTTSService(url=ws://<server>/elevenlabs): multi-stream-input, auto_mode for
    sentence aggregation, a context per turn, flush at the end of the LLM reply, close_context, keepalive."""
    url = (
        server.url.replace("http://", "ws://") + "/elevenlabs/v1/text-to-speech/joe/multi-stream-input"
        "?model_id=eleven_turbo_v2_5&output_format=pcm_16000&auto_mode=true"
    )
    with connect(url, max_size=16 * 1024 * 1024, additional_headers={"xi-api-key": OPENAI_KEY}) as ws:
        ctx = "c0ffee"
        ws.send(
            json.dumps({"text": " ", "context_id": ctx, "voice_settings": {"speed": 1.0, "stability": 0.5}})
        )
        for sentence in ["Hello! ", "I can help with that. "]:
            ws.send(json.dumps({"text": sentence, "context_id": ctx}))
        ws.send(json.dumps({"text": "", "context_id": ctx}))  # keepalive
        ws.send(json.dumps({"context_id": ctx, "flush": True}))
        audio, alignments = b"", []
        while len(pipecat_word_times(alignments)) < 6:
            msg = json.loads(ws.recv(timeout=60))
            assert msg.get("contextId") == ctx
            if msg.get("audio"):
                audio += base64.b64decode(msg["audio"])
            if msg.get("alignment"):
                alignments.append(msg["alignment"])
        ws.send(json.dumps({"context_id": ctx, "close_context": True}))
        while not json.loads(ws.recv(timeout=60)).get("isFinal"):
            pass
        ws.send(json.dumps({"close_socket": True}))
    words = pipecat_word_times(alignments)
    assert [w for w, _ in words] == ["Hello!", "I", "can", "help", "with", "that."]
    times = [t for _, t in words]
    assert times == sorted(times) and times[-1] < len(audio) / 2 / 16000


def test_pipecat_elevenlabs_http(server):
    """pipecat ElevenLabsHttpTTSService(base_url=<server>/elevenlabs): stream/with-timestamps, one JSON
    object per line with audio_base64 and alignment in seconds."""
    url = f"{server.url}/elevenlabs/v1/text-to-speech/joe/stream/with-timestamps"
    payload = {"text": "The meeting starts at noon.", "model_id": "eleven_turbo_v2_5", "previous_text": "Hi."}
    headers = {"xi-api-key": OPENAI_KEY, "Content-Type": "application/json"}
    audio, chars, ends = b"", [], []
    with httpx.stream(
        "POST", url, json=payload, headers=headers, params={"output_format": "pcm_24000"}, timeout=120
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if not line.strip():
                continue
            data = json.loads(line)
            audio += base64.b64decode(data["audio_base64"])
            alignment = data.get("alignment")
            if alignment:
                chars += alignment["characters"]
                ends += alignment["character_end_times_seconds"]
    assert "".join(chars) == payload["text"]
    assert abs(max(ends) - len(audio) / 2 / 24000) < 0.1  # utterance_duration


# -- LiveKit -------------------------------------------------------------------------------------------------


def test_livekit_elevenlabs_plugin(server):
    """livekit-plugins-elevenlabs (TTS(base_url=<server>/elevenlabs/v1)): the chunked /stream route and
    the stream-input WebSocket, words sent one by one, each ending with a space; mp3_22050_32."""
    base = f"{server.url}/elevenlabs/v1"
    headers = {"xi-api-key": OPENAI_KEY}
    query = "model_id=eleven_turbo_v2_5&output_format=mp3_22050_32&optimize_streaming_latency=3"
    data = {
        "text": "Turning on the lights.",
        "model_id": "eleven_turbo_v2_5",
        "voice_settings": {
            "stability": 0.71,
            "similarity_boost": 0.5,
            "style": 0.0,
            "use_speaker_boost": True,
        },
    }
    answer = httpx.post(f"{base}/text-to-speech/joe/stream?{query}", json=data, headers=headers, timeout=120)
    assert answer.headers["content-type"].startswith("audio/")
    audio, rate = sf.read(io.BytesIO(answer.content))
    assert rate == 22050 and len(audio) / rate > 0.8
    assert [v["voice_id"] for v in httpx.get(f"{base}/voices", headers=headers).json()["voices"]]

    # the plugin's DEFAULT_VOICE (ElevenLabs' premade "Bella"), when the user names none
    ws_url = base.replace("http://", "ws://") + f"/text-to-speech/EXAVITQu4vr4xnSDxMaL/stream-input?{query}"
    with connect(ws_url, additional_headers=headers) as ws:
        ws.send(
            json.dumps(
                {
                    "text": " ",
                    "try_trigger_generation": True,
                    "voice_settings": data["voice_settings"],
                    "generation_config": {"chunk_length_schedule": [80, 120, 200, 260]},
                }
            )
        )
        for token in ["Turning", "on", "the", "lights", "."]:
            ws.send(json.dumps({"text": f"{token} ", "try_trigger_generation": False}))
        ws.send(json.dumps({"text": ""}))
        mp3 = b""
        while True:
            msg = json.loads(ws.recv(timeout=60))
            if msg.get("audio"):
                mp3 += base64.b64decode(msg["audio"])
            elif msg.get("isFinal"):
                break
    audio, rate = sf.read(io.BytesIO(mp3))
    assert rate == 22050 and len(audio) / rate > 0.8 and np.abs(audio).max() > 0.05
