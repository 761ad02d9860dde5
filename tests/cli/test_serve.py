"""``voicesmith serve``: its guard options reach every worker process (header timeout, auth switch)."""

from __future__ import annotations

import os
import resource
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


def _serve(tmp_path: Path, *options: str, fd_limit: int | None = None) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "VOICESMITH_DATA_DIR": str(tmp_path),
        "VOICESMITH_TASK_WORKERS": "0",
        "VOICESMITH_OPENAI_API_KEYS": '["sk-serve-test"]',
    }
    command = [sys.executable, "-m", "voicesmith.cli", "serve", "--port", str(port), *options]

    def limit_fds() -> None:
        if fd_limit is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (fd_limit, fd_limit))

    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=limit_fds
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the server did not start: {process.stderr.read().decode()[-2000:]}")
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_serve_applies_header_timeout_and_auth(tmp_path, workers):
    process, url = _serve(
        tmp_path, "--workers", str(workers), "--header-timeout", "1", "--log-level", "warning"
    )
    port = int(url.rsplit(":", 1)[1])
    try:
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


@pytest.mark.slow
def test_idle_connections_cannot_lock_clients_out_under_a_low_fd_limit(tmp_path):
    """ulimit -n 128: 200 idle keep-alive connections, then a real client still gets its answer."""
    process, url = _serve(tmp_path, "--log-level", "warning", fd_limit=128)
    port = int(url.rsplit(":", 1)[1])
    idle = []
    try:
        for _ in range(200):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            idle.append(sock)
        time.sleep(2)  # all answered: the ones still open are idle keep-alive connections
        answer = httpx.get(f"{url}/healthz", timeout=10)
        assert answer.status_code == 200
        assert process.poll() is None
    finally:
        for sock in idle:
            sock.close()
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
    assert b"Too many open files" not in process.stderr.read()
