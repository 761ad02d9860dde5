"""First audio of streaming text in, against the whole-sentence baseline, on a real server on loopback.

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/streaming_latency.py [--runs 5] [--word-ms 40]``

A simulated LLM sends its reply word by word, one word every ``--word-ms`` milliseconds. The clock starts
when the text of the reply's first clause has been sent (the moment a voice agent could start speaking)
and stops at the first audio; target: 150 ms or less. Measured for

* ``elevenlabs ws``: the ``stream-input`` WebSocket, text as ElevenLabs' SDK sends it
  (``try_trigger_generation``), pcm_16000;
* ``wyoming stream``: Home Assistant's ``synthesize-start`` / ``synthesize-chunk`` events;
* ``baseline``: the client waits for the whole sentence, then asks for it in one request (ElevenLabs'
  ``/stream`` route): the rest of the sentence's words, plus the time to its first audio byte.

The server runs in this process (uvicorn in a thread) with the bundled voice, warmed up first. Wall
times: on a busy machine they include waiting for a core, so run it when the machine is quiet (the
script prints the load average with the table). ``CPU ms`` is the CPU time this process spent over the
same interval (median; all threads; the baseline's excludes the simulated wait): it does not grow with
the load, and on an idle machine the wall time is about it divided by the threads that run at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPLY = (
    "Sure, the kitchen lights are now off, and the thermostat is set to twenty degrees. "
    "Is there anything else you would like me to do?"
)
#: Where the first clause ends: after "Sure," the words up to the first comma-free clause boundary the
#: server may cut at on a trigger ("... are now off,").
FIRST_CLAUSE = "Sure, the kitchen lights are now off,"


def start_server(data_dir: Path):
    import socket

    import uvicorn

    from voicesmith.server.app import create_app
    from voicesmith.settings import Settings

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        wyoming_port = probe.getsockname()[1]
    settings = Settings(
        data_dir=data_dir, task_workers=0, wyoming_port=wyoming_port, wyoming_host="127.0.0.1"
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}", wyoming_port


def _now() -> tuple[float, float]:
    """(wall clock, CPU time of this whole process: the server's threads and the client)."""
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float], end: tuple[float, float]) -> tuple[float, float]:
    return end[0] - start[0], end[1] - start[1]


def words(text: str) -> list[str]:
    return [w + " " for w in text.split(" ")]


async def elevenlabs_ws(url: str, word_s: float) -> float:
    from websockets.asyncio.client import connect

    ws_url = (
        url.replace("http://", "ws://")
        + "/elevenlabs/v1/text-to-speech/joe/stream-input?output_format=pcm_16000"
    )
    async with connect(ws_url) as ws:
        await ws.send(json.dumps({"text": " ", "generation_config": {"chunk_length_schedule": [50]}}))
        first_audio: asyncio.Future = asyncio.get_running_loop().create_future()

        async def reader():
            async for raw in ws:
                message = json.loads(raw)
                if message.get("audio") and not first_audio.done():
                    first_audio.set_result(_now())
                if message.get("isFinal"):
                    return

        task = asyncio.create_task(reader())
        sent, clause_at = "", None
        for word in words(REPLY):
            await ws.send(json.dumps({"text": word, "try_trigger_generation": True}))
            sent += word
            if clause_at is None and sent.strip().startswith(FIRST_CLAUSE):
                clause_at = _now()
            await asyncio.sleep(word_s)
        await ws.send(json.dumps({"text": ""}))
        await task
        return _since(clause_at, await first_audio)


async def wyoming_stream(port: int, word_s: float) -> float:
    from wyoming.audio import AudioChunk
    from wyoming.client import AsyncTcpClient
    from wyoming.tts import (
        SynthesizeChunk,
        SynthesizeStart,
        SynthesizeStop,
        SynthesizeStopped,
        SynthesizeVoice,
    )

    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="joe")).event())
        first_audio: asyncio.Future = asyncio.get_running_loop().create_future()

        async def reader():
            while True:
                event = await client.read_event()
                if event is None or SynthesizeStopped.is_type(event.type):
                    return
                if AudioChunk.is_type(event.type) and not first_audio.done():
                    first_audio.set_result(_now())

        task = asyncio.create_task(reader())
        sent, sentence_at = "", None
        for word in words(REPLY):
            await client.write_event(SynthesizeChunk(text=word).event())
            sent += word
            # Wyoming speaks whole sentences: its clock starts at the first sentence's end
            if sentence_at is None and "." in sent:
                sentence_at = _now()
            await asyncio.sleep(word_s)
        await client.write_event(SynthesizeStop().event())
        await task
        return _since(sentence_at, await first_audio)


def baseline(url: str, word_s: float) -> tuple[float, float]:
    """Wait for the whole first sentence, then one request: the remaining words + first byte."""
    sentence = REPLY.split(". ")[0] + "."
    remaining = len(words(sentence)) - len(words(FIRST_CLAUSE))
    start = _now()
    with httpx.stream(
        "POST",
        f"{url}/elevenlabs/v1/text-to-speech/joe/stream",
        params={"output_format": "pcm_16000"},
        json={"text": sentence},
        timeout=60,
    ) as answer:
        next(answer.iter_bytes())
        wall, cpu = _since(start, _now())
    return remaining * word_s + wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--word-ms", type=float, default=40.0, help="simulated LLM: milliseconds per word")
    args = parser.parse_args()
    word_s = args.word_ms / 1000
    with tempfile.TemporaryDirectory() as folder:
        server, thread, url, wyoming_port = start_server(Path(folder))
        try:
            baseline(url, 0.0)  # load the voice
            results: dict[str, list[tuple[float, float]]] = {
                "elevenlabs ws (first clause)": [],
                "wyoming stream (first sentence)": [],
                "baseline: whole sentence, one request": [],
            }
            for _ in range(args.runs):
                results["elevenlabs ws (first clause)"].append(asyncio.run(elevenlabs_ws(url, word_s)))
                results["wyoming stream (first sentence)"].append(
                    asyncio.run(wyoming_stream(wyoming_port, word_s))
                )
                results["baseline: whole sentence, one request"].append(baseline(url, word_s))
        finally:
            server.should_exit = True
            thread.join(30)
    load = os.getloadavg()[0]
    print(
        f"first audio after the text that completes the first clause; {args.runs} runs, "
        f"{args.word_ms:g} ms/word, load average {load:.1f} on {os.cpu_count()} cores"
    )
    print(f"{'path':42} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'CPU ms':>8}")
    for name, values in results.items():
        ms = [wall * 1000 for wall, _ in values]
        cpu = statistics.median(c * 1000 for _, c in values)
        print(f"{name:42} {statistics.median(ms):10.0f} {min(ms):8.0f} {max(ms):8.0f} {cpu:8.0f}")
    print("target: <= 150 ms for the streaming paths")


if __name__ == "__main__":
    sys.exit(main())
