"""``voicesmith serve`` refuses to start on a damaged database: one line naming the file, exit code 2."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from voicesmith.tasks.store import Store

CLI = [sys.executable, "-m", "voicesmith.cli"]


def _free_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


def _serve(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "VOICESMITH_PORT": _free_port()}
    return subprocess.run([*CLI, "serve", *args], capture_output=True, text=True, timeout=120, env=env)


def _zero_pages(path) -> None:
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page:] = bytes(len(data) - page)
    path.write_bytes(bytes(data))


@pytest.mark.slow
@pytest.mark.parametrize(("damage", "workers"), [("garbage", "1"), ("zeroed pages", "2")])
def test_serve_on_a_damaged_database_says_which_file_and_exits_2(data_dir, damage, workers):
    path = data_dir / "voicesmith.db"
    if damage == "garbage":
        path.write_bytes(b"not a database at all " * 300)
    else:
        store = Store(f"sqlite:///{path}")
        with store.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA journal_mode=DELETE")
        store.close()
        _zero_pages(path)
    done = _serve("--workers", workers)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr and len(lines) <= 2
    assert lines[-1].startswith("voicesmith: error: the SQLite database") and str(path) in lines[-1]
    assert "restore it from a backup" in lines[-1]
