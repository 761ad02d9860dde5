"""What the server benchmarks share: a free loopback port, ``voicesmith serve`` in a subprocess, the
resident memory of a process tree, percentiles.

Benchmarks import it as ``from harness import ...`` (they run as scripts from ``benchmarks/``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(
    settings: dict[str, str] | None = None,
    *,
    workers: int = 1,
    data_dir: str | None = None,
    log_level: str = "error",
    start_timeout: float = 180.0,
) -> Iterator[tuple[str, subprocess.Popen]]:
    """``voicesmith serve`` of this checkout on a free loopback port, with no task workers and
    ``settings`` (``{"response_cache_mb": "64"}`` -> ``VOICESMITH_RESPONSE_CACHE_MB``); a fresh temp data
    dir unless ``data_dir`` names one. Yields (its URL, the process) once ``/healthz`` answers."""
    with tempfile.TemporaryDirectory(prefix="voicesmith-bench-") as scratch:
        port = free_port()
        env = {
            **os.environ,
            "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            "VOICESMITH_DATA_DIR": data_dir or scratch,
            "VOICESMITH_TASK_WORKERS": "0",
            **{f"VOICESMITH_{name.upper()}": value for name, value in (settings or {}).items()},
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # --workers N makes its own
        command = [sys.executable, "-m", "voicesmith.cli", "serve", "--port", str(port)]
        command += ["--log-level", log_level, "--workers", str(workers)]
        log = Path(scratch) / "serve.log"  # a file, not a pipe: a pipe nobody reads fills and stalls it
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + start_timeout
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    raise RuntimeError(f"the server did not start: {log.read_text()[-2000:]}")
                time.sleep(0.2)
            yield url, process
        finally:
            process.terminate()
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (uvicorn's workers), from /proc."""
    total, pids = 0, [pid]
    try:
        pids += [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    for each in pids:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by nearest rank on the sorted values; NaN when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]
