"""Time the emotion analyser: milliseconds per sentence, one sentence per call, one thread.

    PYTHONPATH=src taskset -c 0 python benchmarks/bench_emotion.py    # pin to one core

Uses the in-domain test sentences (tests/emotion/in_domain.tsv), as written and joined in pairs; prints
the load time and, per set, the mean token count and the median / p90 / mean time per sentence.
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
    print(f"threads: {args.threads}, load: {load_s:.2f} s")
    # one sentence as written, and two joined (long narration sentences, ~30 tokens)
    joined = [f"{a} {b}" for a, b in zip(texts[::2], texts[1::2], strict=False)]
    for name, batch in (("in-domain sentences", texts), ("two joined", joined)):
        tokens = statistics.fmean(len(analyzer._tokenizer.encode(text).ids) for text in batch)
        timings = []
        for _ in range(args.passes):
            for text in batch:
                started = time.perf_counter()
                analyzer.analyze(text)
                timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        print(
            f"{name}: {len(batch)} x {args.passes}, mean {tokens:.1f} tokens; ms/sentence: median "
            f"{statistics.median(timings):.2f}, p90 {timings[int(0.9 * len(timings))]:.2f}, "
            f"mean {statistics.fmean(timings):.2f}"
        )


if __name__ == "__main__":
    main()
