"""Throughput under load: 8 concurrent clients mixing Polly SynthesizeSpeech (mp3, pcm, speech marks) and
OpenAI speech against ``voicesmith serve``, measured against the single-process compute bound of the same
machine, measured in the same run.

Run: ``nice .venv/bin/python benchmarks/load_mix.py [--duration 60] [--clients 8] [--cores 2]``
(traffic stays on 127.0.0.1; every server and the bound run in fresh processes).

Scenarios (each ``--duration`` seconds of closed-loop load), on the server's default split of the cores
(``Settings.synthesis_shares``: as many calls at once as cores, one onnxruntime thread each; with a
``--cores`` other than the machine's, that split of ``--cores``):
- ``1 process``: one server process, cache off, every text new;
- ``2 processes``: ``serve --workers 2`` on the same cores, cache off, every text new;
- ``1 process + cache``: cache on, half the requests repeat one made before (IVR prompts, UI strings).

Measured per scenario: audio seconds served per wall second (speech-mark requests serve none but cost
compute), that over the compute bound (``Synthesizer`` alone, one process, ``--cores`` threads, the same
texts, no HTTP), p50/p95 time to first byte, errors, the servers' resident memory (first and last sample,
the peak, and the growth over the second half, which tells a leak from buffers that grow to the mix's
sizes in the first minute and stay; sampled every 2 s), and the cache hit rate. Targets (issue 13):
throughput >= 0.9 x bound, p95 TTFB <= 1 s, 0 errors, flat memory; with the cache and 50 % repeats
>= 1.8 x; 2 processes >= 1.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

import httpx
from harness import SRC, percentile, serving, tree_rss_mb

SUBJECTS = ["The museum", "Your parcel", "The train to the airport", "Our support team", "The library"]
ACTIONS = [
    "opens at nine in the morning and closes late on Fridays",
    "will arrive within three working days",
    "leaves from platform four every twenty minutes",
    "is available around the clock",
    "has thousands of books, maps and old newspapers",
]
KINDS = ("polly-mp3", "polly-pcm", "polly-marks", "openai-mp3")


def text_for(n: int) -> str:
    """A distinct sentence pair for every n (so unique requests never hit the cache)."""
    return (
        f"Reference {n}. {SUBJECTS[n % len(SUBJECTS)]} {ACTIONS[(n // 5) % len(ACTIONS)]}, "
        "thank you for your patience."
    )


# -- the compute bound -------------------------------------------------------------------------------------

BOUND_SCRIPT = """
import json, sys, time
from voicesmith import Settings, SynthesisRequest, Synthesizer
texts, threads, data_dir = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
synth = Synthesizer(Settings(data_dir=data_dir, intra_op_threads=threads))
list(synth.stream(SynthesisRequest(text="Warm up.")))
audio = 0.0
start = time.perf_counter()
for text in texts:
    for chunk in synth.stream(SynthesisRequest(text=text)):
        audio += len(chunk.audio) / chunk.sample_rate
print(json.dumps({"audio": audio, "seconds": time.perf_counter() - start}))
"""


def compute_bound(threads: int, data_dir: str, count: int) -> float:
    texts = [text_for(10_000 + n) for n in range(count)]
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run(
        [sys.executable, "-c", BOUND_SCRIPT, json.dumps(texts), str(threads), data_dir],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return result["audio"] / result["seconds"]


# -- the load ------------------------------------------------------------------------------------------------


@dataclass
class Stats:
    audio: float = 0.0
    ttfb: list[float] = field(default_factory=list)
    errors: int = 0
    throttled: int = 0
    """ThrottlingException / 429 answers (the client waited their Retry-After, as the SDKs do)."""
    requests: int = 0
    hits: int = 0
    hit_ttfb: list[float] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def request_for(kind: str, text: str) -> tuple[str, dict]:
    if kind == "openai-mp3":
        return "/v1/audio/speech", {
            "model": "tts-1",
            "voice": "alloy",
            "input": text,
            "response_format": "mp3",
        }
    body = {"Text": text, "VoiceId": "joe", "OutputFormat": kind.removeprefix("polly-")}
    if kind == "polly-marks":
        body |= {"OutputFormat": "json", "SpeechMarkTypes": ["sentence", "word"]}
    return "/v1/speech", body


class AudioLength:
    """Seconds of audio in an answer (mp3 decoded once per distinct body)."""

    def __init__(self) -> None:
        self._known: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(self, kind: str, body: bytes) -> float:
        if kind == "polly-marks":
            return 0.0
        if kind == "polly-pcm":
            return len(body) / 2 / 16000
        digest = hashlib.sha1(body).hexdigest()
        with self._lock:
            if digest in self._known:
                return self._known[digest]
        import io

        import soundfile

        info = soundfile.info(io.BytesIO(body))
        with self._lock:
            self._known[digest] = info.frames / info.samplerate
        return self._known[digest]


def client(url: str, seed: int, repeat: float, deadline: float, stats: Stats, counter, length: AudioLength):
    rng = random.Random(seed)
    made: list[tuple[str, str]] = []
    with httpx.Client(base_url=url, timeout=120) as http:
        while time.monotonic() < deadline:
            if made and rng.random() < repeat:
                kind, text = rng.choice(made)
            else:
                kind, text = rng.choice(KINDS), text_for(next(counter))
                made.append((kind, text))
            path, body = request_for(kind, text)
            started = time.perf_counter()
            retry_after = 0.0
            try:
                with http.stream("POST", path, json=body) as answer:
                    chunks = answer.iter_bytes()
                    first = next(chunks, b"")
                    ttfb = time.perf_counter() - started
                    data = first + b"".join(chunks)
                    ok = answer.status_code == 200
                    hit = answer.headers.get("x-voicesmith-cache") == "hit"
                    if "retry-after-ms" in answer.headers:
                        retry_after = float(answer.headers["retry-after-ms"]) / 1000
            except httpx.HTTPError:
                ok, hit, data, ttfb = False, False, b"", time.perf_counter() - started
            seconds = length(kind, data) if ok else 0.0
            if retry_after:  # throttled: wait as the SDKs do, then ask again
                with stats.lock:
                    stats.throttled += 1
                time.sleep(min(retry_after, max(0.0, deadline - time.monotonic())))
                continue
            with stats.lock:
                stats.requests += 1
                stats.kinds[kind] = stats.kinds.get(kind, 0) + 1
                if ok:
                    stats.audio += seconds
                    stats.ttfb.append(ttfb)
                    stats.hits += hit
                    if hit:
                        stats.hit_ttfb.append(ttfb)
                else:
                    stats.errors += 1


def _hit_latency(url: str, count: int = 100) -> float:
    """Median milliseconds of a whole cached answer, one request at a time (the load has ended)."""
    body = {"Text": "Press one for sales, two for support.", "VoiceId": "joe", "OutputFormat": "mp3"}
    times = []
    with httpx.Client(base_url=url, timeout=300) as http:
        http.post("/v1/speech", json=body)
        for _ in range(count):
            started = time.perf_counter()
            answer = http.post("/v1/speech", json=body)
            times.append(time.perf_counter() - started)
            assert answer.headers.get("x-voicesmith-cache") == "hit"
    return 1000 * statistics.median(times)


def scenario(
    name: str, workers: int, threads: int, cache_mb: int, repeat: float, args, data_dir: str
) -> dict:
    settings = {"response_cache_mb": str(cache_mb)}
    if args.cores != os.cpu_count():  # else the server as shipped: it splits the cores itself
        settings["max_concurrent_synthesis"] = str(max(1, args.cores // workers // threads))
        settings["intra_op_threads"] = str(threads)
    with serving(settings, workers=workers, data_dir=data_dir, log_level="warning") as (url, server):
        for _ in range(workers * 2):  # every worker loads the voice before the clock starts
            httpx.post(
                f"{url}/v1/speech",
                json={"Text": "Warm up.", "VoiceId": "joe", "OutputFormat": "pcm"},
                timeout=300,
            )
        stats, memory = Stats(), []
        numbers = itertools.count()  # next() on it is atomic: every new text is distinct across clients
        length = AudioLength()
        start = time.monotonic()
        end = start + args.duration
        threads_ = [
            threading.Thread(target=client, args=(url, n, repeat, end, stats, numbers, length))
            for n in range(args.clients)
        ]
        for thread in threads_:
            thread.start()
        while any(t.is_alive() for t in threads_):
            memory.append(tree_rss_mb(server.pid))
            time.sleep(2)
        wall = time.monotonic() - start
        hit_latency = _hit_latency(url) if cache_mb else float("nan")
    ttfb = sorted(stats.ttfb)
    return {
        "scenario": name,
        "throughput": stats.audio / wall,
        "p50_ttfb": statistics.median(ttfb) if ttfb else float("nan"),
        "p95_ttfb": percentile(ttfb, 95),
        "errors": stats.errors,
        "throttled": stats.throttled,
        "requests": stats.requests,
        "hit_rate": stats.hits / max(1, stats.requests - stats.errors),
        "hit_latency_ms": hit_latency,
        "hit_p50_ms": 1000 * statistics.median(stats.hit_ttfb) if stats.hit_ttfb else float("nan"),
        "rss_first": memory[0] if memory else 0.0,
        "rss_last": memory[-1] if memory else 0.0,
        "rss_peak": max(memory) if memory else 0.0,
        "rss_mid": memory[len(memory) // 2] if memory else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load per scenario")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2, help="cores the servers may use")
    parser.add_argument("--bound-texts", type=int, default=12, help="texts the compute bound synthesizes")
    parser.add_argument(
        "--only", choices=["1", "2", "cache"], action="append", help="run only these scenarios"
    )
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="voicesmith-load-")
    bound = compute_bound(args.cores, root, args.bound_texts)
    plans = {  # (name, processes, onnxruntime threads per call when --cores is not the machine's, ...)
        "1": ("1 process", 1, 1, 0, 0.0),
        "2": ("2 processes", 2, 1, 0, 0.0),
        "cache": ("1 process + cache, 50% repeats", 1, 1, 64, 0.5),
    }
    rows = [scenario(*plans[key], args, root) for key in (args.only or ["1", "2", "cache"])]
    print(f"\ncompute bound (Synthesizer alone, 1 process, {args.cores} threads): {bound:.2f} audio s / s")
    print(f"{args.clients} clients, {args.duration:.0f} s per scenario, mix: {', '.join(KINDS)}\n")
    header = (
        f"{'scenario':34} {'audio s/s':>9} {'x bound':>8} {'p50 ttfb':>9} {'p95 ttfb':>9} {'errors':>7} "
        f"{'throttled':>9} {'requests':>8} {'hits':>5} {'RSS MB first/last/peak':>24} {'2nd half':>8}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['scenario']:34} {row['throughput']:9.2f} {row['throughput'] / bound:8.2f} "
            f"{row['p50_ttfb']:9.3f} {row['p95_ttfb']:9.3f} {row['errors']:7d} "
            f"{row['throttled']:9d} {row['requests']:8d} "
            f"{row['hit_rate']:5.0%} {row['rss_first']:8.0f}/{row['rss_last']:.0f}/{row['rss_peak']:.0f}"
            f"{row['rss_last'] - row['rss_mid']:+8.0f}"
        )
    for row in rows:
        if row["hit_rate"]:
            print(f"{row['scenario']}: median time to first byte of a cache hit {row['hit_p50_ms']:.1f} ms")
        if row["hit_latency_ms"] == row["hit_latency_ms"]:  # measured (not NaN)
            print(
                f"{row['scenario']}: a cached answer, one request at a time: "
                f"{row['hit_latency_ms']:.1f} ms median"
            )
    print(
        "\ntargets: >= 0.9 x bound, p95 TTFB <= 1 s, 0 errors, flat RSS in the 2nd half (growth from the "
        "run's midpoint to its end); cache + 50% repeats >= 1.8 x; "
        "2 processes >= 1 process"
    )


if __name__ == "__main__":
    main()
