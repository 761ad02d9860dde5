"""Peak memory of a voicesmith server under the worst single requests we can build, against the bound.

Run: ``.venv/bin/python benchmarks/memory_bound.py [--before-src /path/to/other/src] [--kinds ...]``

Each request kind gets a fresh server process (``create_app`` under uvicorn on a loopback port, the
bundled voice, SQLite, local storage in a temp folder). The process is warmed up with one short request
(voice loaded), its peak RSS counter is reset (``/proc/<pid>/clear_refs``, Linux), the request is sent
(a task is waited for), and ``VmHWM`` is read back: the peak RSS the request drove the server to.
``--before-src`` runs the same kinds against another source tree (e.g. an older checkout) in the same
run, so the table shows both. The bound is the issue's target: no request may push the server above
``--bound-mb`` (default 1024 MB for the bundled voice).

Kinds:
- ``breaks-314``: 314 ``<break time="10s"/>`` (6 KB of SSML, 52 minutes of silence), pcm.
- ``breaks-314-x3``: the same, three at once.
- ``breaks-59``: 59 breaks (590 s, just under the per-request limit), pcm: produced, streamed.
- ``breaks-59-x3``: the same, three at once.
- ``max-text``: 3000 billed characters of plain text (the SynthesizeSpeech limit), mp3.
- ``nested-prosody``: rate 20 %, pitch-shifted (WORLD effects path), nested ``volume="+60dB"``, 600 chars.
- ``effects-slowest``: the longest utterances effects analyse whole: rate 20 %, strong emphasis (slower
  still), pitch, soft phonation and vocal-tract length (one WORLD pass each), 400 characters.
- ``task-1000-breaks``: a StartSpeechSynthesisTask with 1,000 breaks (10,000 s), pcm.
- ``task-long-text``: a task of 20,000 characters of text (~25 minutes), mp3.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from harness import free_port

ROOT = Path(__file__).resolve().parent.parent
WORDS = (
    "The museum opens at nine in the morning and closes late on Fridays, so plan your visit with care. "
    "Please remember to bring your ticket and a valid form of identification to the front desk. "
)
_SERVER = """
import sys, uvicorn
from voicesmith.server.app import create_app
from voicesmith.settings import Settings
settings = Settings(data_dir=sys.argv[1], max_concurrent_synthesis=2, task_poll_seconds=0.2)
uvicorn.run(create_app(settings), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def _breaks(count: int) -> str:
    return "<speak>Hello." + '<break time="10s"/>' * count + "Goodbye.</speak>"


def _text(characters: int) -> str:
    return (WORDS * (characters // len(WORDS) + 1))[:characters].rsplit(" ", 1)[0] + "."


def _nested_prosody(characters: int) -> str:
    inner = _text(characters)
    opening = '<prosody volume="+60dB">' * 6
    closing = "</prosody>" * 6
    return f'<speak><prosody rate="20%" pitch="+30%">{opening}{inner}{closing}</prosody></speak>'


def _slowest_effects(characters: int) -> str:
    inner = _text(characters)
    return (
        '<speak><prosody rate="20%" pitch="+30%"><emphasis level="strong">'
        f'<amazon:effect phonation="soft"><amazon:effect vocal-tract-length="+20%">{inner}'
        "</amazon:effect></amazon:effect></emphasis></prosody></speak>"
    )


def _speech(text: str, fmt: str = "pcm", text_type: str = "ssml") -> dict:
    return {"Text": text, "TextType": text_type, "VoiceId": "joe", "OutputFormat": fmt, "Engine": "neural"}


KINDS = {
    "breaks-314": ("speech", _speech(_breaks(314)), 1),
    "breaks-314-x3": ("speech", _speech(_breaks(314)), 3),
    "breaks-59": ("speech", _speech(_breaks(59)), 1),
    "breaks-59-x3": ("speech", _speech(_breaks(59)), 3),
    "max-text": ("speech", _speech(_text(2990), "mp3", "text"), 1),
    "nested-prosody": ("speech", _speech(_nested_prosody(600), "mp3"), 1),
    "effects-slowest": ("speech", _speech(_slowest_effects(400), "mp3"), 1),
    "task-1000-breaks": ("task", {**_speech(_breaks(1000)), "OutputS3BucketName": "bench"}, 1),
    "task-long-text": ("task", {**_speech(_text(20_000), "mp3", "text"), "OutputS3BucketName": "bench"}, 1),
}
_BYTES_PER_SECOND = {"pcm": 32000, "mp3": 8000}  # pcm 16 kHz s16; mp3 ~64 kbit/s (an estimate)


def _rss_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _start(src: Path, data_dir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "2"}
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(data_dir), str(port)], env=env, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
        if process.poll() is not None:
            raise RuntimeError(f"the server did not start: {process.stderr.read().decode()[-2000:]}")
    raise RuntimeError("the server did not start within 120 s")


def _one_speech(url: str, body: dict, results: list) -> None:
    received = 0
    try:
        with httpx.stream("POST", f"{url}/v1/speech", json=body, timeout=1800) as answer:
            for block in answer.iter_bytes():
                received += len(block)
            status = answer.status_code
            error = answer.headers.get("x-amzn-ErrorType", "")
    except httpx.HTTPError as failure:  # the server cut the stream (or died)
        status, error = 0, type(failure).__name__
    results.append((status, error, received))


def _task(url: str, body: dict) -> tuple[int, str, int]:
    answer = httpx.post(f"{url}/v1/synthesisTasks", json=body, timeout=60)
    if answer.status_code != 200:
        return answer.status_code, answer.headers.get("x-amzn-ErrorType", ""), 0
    task_id = answer.json()["SynthesisTask"]["TaskId"]
    while True:
        time.sleep(1)
        task = httpx.get(f"{url}/v1/synthesisTasks/{task_id}", timeout=60).json()["SynthesisTask"]
        if task["TaskStatus"] in ("completed", "failed"):
            break
    if task["TaskStatus"] == "failed":
        return 200, "task failed: " + task.get("TaskStatusReason", "")[:60], 0
    path = Path(task["OutputUri"].removeprefix("file://"))
    size = path.stat().st_size
    path.unlink()
    return 200, "", size


def measure(src: Path, kind: str, cache: Path) -> dict:
    route, body, parallel = KINDS[kind]
    with tempfile.TemporaryDirectory(prefix="memory-bound-") as tmp:
        data_dir = Path(tmp)
        (data_dir / "cache").symlink_to(cache, target_is_directory=True)
        process, url = _start(src, data_dir)
        try:
            warm = httpx.post(f"{url}/v1/speech", json=_speech("Warming up.", text_type="text"), timeout=120)
            warm.raise_for_status()
            warm_kb = _rss_kb(process.pid, "VmRSS")
            Path(f"/proc/{process.pid}/clear_refs").write_text("5")  # reset VmHWM to the current RSS
            started = time.monotonic()
            results: list = []
            if route == "task":
                results.append(_task(url, body))
            else:
                threads = [
                    threading.Thread(target=_one_speech, args=(url, body, results)) for _ in range(parallel)
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
            seconds = time.monotonic() - started
            alive = process.poll() is None
            peak_kb = _rss_kb(process.pid, "VmHWM") if alive else 0
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
    fmt = body["OutputFormat"]
    received = sum(r[2] for r in results) / max(len(results), 1)
    return {
        "kind": kind,
        "status": ",".join(sorted({f"{r[0]}{' ' + r[1] if r[1] else ''}" for r in results})),
        "audio_s": received / _BYTES_PER_SECOND[fmt],
        "warm_mb": warm_kb / 1024,
        "peak_mb": peak_kb / 1024,
        "wall_s": seconds,
        "alive": alive,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before-src", type=Path, help="another source tree to measure in the same run")
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=list(KINDS))
    parser.add_argument("--bound-mb", type=float, default=1024.0)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    trees = [("after", ROOT / "src")]
    if args.before_src:
        trees.insert(0, ("before", args.before_src.resolve()))
    rows = []
    with tempfile.TemporaryDirectory(prefix="memory-bound-cache-") as cache:
        for kind in args.kinds:
            for label, src in trees:
                row = {"tree": label, **measure(src, kind, Path(cache))}
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    header = (
        f"{'kind':<18} {'tree':<7} {'answer':<38} {'audio s':>8} {'warm MB':>8} {'peak MB':>8} {'bound':>6}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        verdict = "ok" if row["alive"] and row["peak_mb"] <= args.bound_mb else "OVER"
        print(
            f"{row['kind']:<18} {row['tree']:<7} {row['status'][:38]:<38} {row['audio_s']:>8.0f} "
            f"{row['warm_mb']:>8.0f} {row['peak_mb']:>8.0f} {verdict:>6}"
        )
    print(f"bound: {args.bound_mb:.0f} MB peak RSS of the server process (VmHWM after a warm-up request)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
