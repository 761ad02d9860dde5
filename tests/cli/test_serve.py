"""``voicesmith serve``: its guard options reach every worker process (header timeout, auth switch)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

SRC = Path(__file__).resolve().parents[2] / "src"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_serve_applies_header_timeout_and_auth(tmp_path, workers):
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "VOICESMITH_DATA_DIR": str(tmp_path),
        "VOICESMITH_TASK_WORKERS": "0",
        "VOICESMITH_OPENAI_API_KEYS": '["sk-serve-test"]',
    }
    command = [
        sys.executable,
        "-m",
        "voicesmith.cli",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    command += ["--header-timeout", "1", "--log-level", "warning"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        assert httpx.get(f"{url}/v1/voices", timeout=10).status_code == 403  # OpenAI keys close Polly too
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finished
            began = time.monotonic()
            while sock.recv(4096):
                pass
            assert time.monotonic() - began < 4
    finally:
        process.terminate()
        process.wait(30)
