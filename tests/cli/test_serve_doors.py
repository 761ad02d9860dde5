"""``voicesmith serve`` with the door flags: Wyoming's TCP port and MaryTTS's second HTTP listener."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import httpx
import pytest
from server.harness import free_port
from wyoming.client import AsyncTcpClient
from wyoming.info import Describe, Info


@pytest.mark.slow
def test_serve_with_wyoming_and_marytts_ports(data_dir):
    port, wyoming, mary = free_port(), free_port(), free_port()
    command = [
        sys.executable,
        "-m",
        "voicesmith.cli",
        "serve",
        "--host",
        "127.0.0.1",  # the Wyoming server follows it
        "--port",
        str(port),
        "--wyoming-port",
        str(wyoming),
        "--marytts-port",
        str(mary),
        "--task-workers",
        "0",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(
        command, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, process.stdout.read().decode()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.3)
        version = httpx.get(f"http://127.0.0.1:{mary}/version", timeout=10)
        assert version.text.startswith("Mary TTS server")

        async def describe():
            async with AsyncTcpClient("127.0.0.1", wyoming) as client:
                await client.write_event(Describe().event())
                return Info.from_event(await client.read_event())

        info = asyncio.run(asyncio.wait_for(describe(), 30))
        assert "joe" in [v.name for v in info.tts[0].voices]
    finally:
        process.terminate()
        process.wait(30)


def test_marytts_port_needs_one_worker(data_dir):
    from click.testing import CliRunner

    from voicesmith.cli import main

    result = CliRunner().invoke(main, ["serve", "--marytts-port", "59125", "--workers", "2"])
    assert result.exit_code != 0 and "--workers 1" in result.output
