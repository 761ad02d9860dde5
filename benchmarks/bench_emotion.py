"""Time the emotion analyser: milliseconds per sentence, one sentence per call, one thread.

    PYTHONPATH=src taskset -c 0 python benchmarks/bench_emotion.py    # pin to one core

Uses the in-domain test sentences (tests/emotion/in_domain.tsv); prints load time and the median and
90th percentile per sentence over several passes, and the mean token count.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

from voicesmith.emotion.analyze import EmotionAnalyzer

SENTENCES = Path(__file__).resolve().parents[1] / "tests" / "emotion" / "in_domain.tsv"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    with SENTENCES.open(encoding="utf-8", newline="") as handle:
        texts = [row["text"] for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)]
    started = time.perf_counter()
    analyzer = EmotionAnalyzer(threads=args.threads)
    load_s = time.perf_counter() - started
    analyzer.analyze(texts[0])  # warm-up
    timings = []
    for _ in range(args.passes):
        for text in texts:
            started = time.perf_counter()
            analyzer.analyze(text)
            timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    print(f"sentences: {len(texts)} x {args.passes} passes, threads: {args.threads}, load: {load_s:.2f} s")
    print(
        f"ms/sentence: median {statistics.median(timings):.2f}, p90 {timings[int(0.9 * len(timings))]:.2f}, "
        f"mean {statistics.fmean(timings):.2f}"
    )


if __name__ == "__main__":
    main()
