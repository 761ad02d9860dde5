#!/usr/bin/env python3
r"""Seconds per training step: voicesmith's trainer against piper's own, same data, batch and precision.

    python benchmarks/training_step.py PREPARED_DATASET [--base joe] [--batch-size 4] [--steps 4]
        [--precision 32,bf16-mixed] [--threads N] [--repeats R] [--only voicesmith|piper]

One step is one generator and one discriminator update on one batch. For each precision the script runs
two subprocesses one after the other (so memory and thread state do not leak between them), both with
``--threads`` torch/OpenMP/numba threads, on the same prepared dataset (the same training utterances),
batch size and precision, both warm-started from the same base voice's generator weights:

- voicesmith: ``voicesmith.training.model.VitsTrainingModule`` with ``VoiceDataModule`` (the code
  ``voicesmith train`` runs; gradient clipping at 100 included, as in a real run);
- piper: piper's own ``piper.train.vits.lightning.VitsModel`` and ``VitsDataModule``, built in Python
  because piper's CLI cannot run offline (its ``val_mos`` checkpoint callback downloads a model). The
  manifest is converted to piper's ``phoneme_ids`` CSV (``audio|text|ids``); piper's ``prepare_data``
  then caches audio and spectrograms in a temporary folder, as ``piper.train`` does. Silence trimming
  is off (a prepared dataset is already trimmed), ``mos_metric=None``, no validation, no checkpoints.
  The missing Cython alignment core is replaced by voicesmith's numba MAS (``align.install()``).

Both models get the base voice's hyper-parameters (joe: piper "medium"). A Lightning callback times
each step from batch start to batch end (data loading is excluded and shown apart); the reported
s/step is the median over full batches after the first step (which pays for warm-up); a partial
last batch of an epoch is run but not counted, and each run goes on until it has ``--steps`` full
batches. CPU s/step is the worker's process time over the same span (all its threads): on a shared
machine it is far less disturbed by other jobs than wall time, so compare its ratio too. With
``--repeats R`` each trainer runs R times per precision in alternating order and its run with the
lowest median is kept. Peak RSS is the worker process's ``ru_maxrss``.

Make a small prepared dataset (12 flite/espeak-ng clips, needs flite and espeak-ng) with:

    PYTHONPATH=src:tests python -c "from pathlib import Path; from training.speech_data import make_clips; \
        d = Path('/tmp/clips'); d.mkdir(exist_ok=True); \
        [c.path.with_suffix('.txt').write_text(c.text) for c in make_clips(d)]" \
        && PYTHONPATH=src python -m voicesmith.cli dataset prepare /tmp/clips /tmp/bench_ds

Measured 2026-11-26 13:06-13:14 UTC on the shared 2-core dev box (Intel Xeon with AMX/avx512_bf16,
23 GiB, torch 2.13.0 CPU, lightning 2.6.6, piper-tts 1.8.0), dataset above (11 train utterances,
1.5-4.0 s), base joe, batch 4, median s/step of 3 full steps after the first:

    python benchmarks/training_step.py /tmp/bench_ds --batch-size 4 --steps 4 --precision 32,bf16-mixed \
        --threads 2   # and again with --threads 1

    | thr | precision  | voicesmith s | piper s | ratio | CPU s (vs/piper) | RSS MiB (vs/piper) | load 1m |
    |-----|------------|--------------|---------|-------|------------------|--------------------|---------|
    | 2   | 32         |         4.05 |    4.00 |  1.01 |      7.97 / 7.92 |        3785 / 3730 | 1.1/1.8 |
    | 2   | bf16-mixed |         2.80 |    2.80 |  1.00 |      5.53 / 5.56 |        3614 / 3400 | 1.8/1.7 |
    | 1   | 32         |         6.16 |    6.15 |  1.00 |      6.15 / 6.15 |        3872 / 3803 | 1.5/1.3 |
    | 1   | bf16-mixed |         4.61 |    4.77 |  0.97 |      4.56 / 4.76 |        3566 / 3402 | 1.6/1.9 |

The two trainers run the same piper networks and losses, so equal speed is the expected result; the
remaining differences are gradient clipping and LR schedules (ours) and cached spectrograms (piper's,
~10 ms/step less data loading, not in s/step). A run at 2 threads while another job used a core
(load 3-4) gave 4-80 s steps and meaningless ratios (4.9 and 0.47): with 2 threads on 2 busy cores
every parallel region waits for a descheduled thread. On a shared machine use ``--threads 1`` or
compare the CPU columns, and check the load column.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch

TRAINERS = ("voicesmith", "piper")


class _Timer(L.Callback):
    """Per-step compute and data-loading times; stops the run once ``full_steps`` full batches ran."""

    def __init__(self, batch_size: int, full_steps: int) -> None:
        self.batch_size = batch_size
        self.full_steps = full_steps
        self.steps: list[dict[str, float]] = []
        self._ended: float | None = None
        self._started = 0.0

    def on_train_batch_start(
        self, trainer: L.Trainer, module: L.LightningModule, batch: Any, *_: Any
    ) -> None:
        self._started = time.perf_counter()
        self._cpu = time.process_time()
        self._loading = self._started - self._ended if self._ended is not None else float("nan")

    def on_train_batch_end(
        self, trainer: L.Trainer, module: L.LightningModule, _o: Any, batch: Any, *_: Any
    ) -> None:
        self._ended = time.perf_counter()
        size = int(batch.phoneme_ids.size(0))
        cpu = time.process_time() - self._cpu
        self.steps.append(
            {"seconds": self._ended - self._started, "cpu": cpu, "loading": self._loading, "size": size}
        )
        print(
            f"  step {len(self.steps)} (batch of {size}): {self.steps[-1]['seconds']:.2f} s, cpu {cpu:.2f} s",
            flush=True,
        )
        if sum(step["size"] == self.batch_size for step in self.steps) >= self.full_steps:
            trainer.should_stop = True

    def summary(self) -> dict[str, Any]:
        full = [step for step in self.steps[1:] if step["size"] == self.batch_size] or self.steps
        loading = [step["loading"] for step in full if step["loading"] == step["loading"]]
        return {
            "median_s": statistics.median(step["seconds"] for step in full),
            "cpu_s": statistics.median(step["cpu"] for step in full),
            "counted": len(full),
            "first_s": self.steps[0]["seconds"],
            "loading_s": statistics.median(loading) if loading else 0.0,
            "steps": self.steps,
        }


def _trainer(args: argparse.Namespace, timer: _Timer) -> L.Trainer:
    # manual optimisation: global_step counts both optimisers' steps; the timer stops the run earlier
    return L.Trainer(max_steps=2 * (3 * args.steps + 2), precision=args.precision, logger=False,
                     callbacks=[timer], enable_checkpointing=False, enable_progress_bar=False,
                     enable_model_summary=False, limit_val_batches=0, num_sanity_val_steps=0,
                     accelerator="auto", devices=1)  # fmt: skip


def _train_voicesmith(args: argparse.Namespace, start: Any, data: Any, timer: _Timer) -> None:
    from voicesmith.training.config import TrainConfig
    from voicesmith.training.model import VitsTrainingModule

    config = TrainConfig(
        max_steps=args.steps, batch_size=args.batch_size, frozen_steps=0, precision=args.precision
    )
    module = VitsTrainingModule(start.model.to_dict(), config.to_dict())
    module.model_g.load_state_dict(start.generator, strict=False)
    _trainer(args, timer).fit(module, datamodule=data)


def _write_piper_csv(data: Any, path: Path) -> None:
    """Our training records as piper's ``phoneme_ids`` CSV: ``audio|text|ids`` (``audio|speaker|...``)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="|")
        for record in data.train_records:
            ids = " ".join(str(i) for i in record["phoneme_ids"])
            speaker = [str(record.get("speaker") or "default")] if data.model.num_speakers > 1 else []
            writer.writerow([record["audio"], *speaker, record.get("text") or "", ids])


def _train_piper(args: argparse.Namespace, start: Any, data: Any, timer: _Timer) -> None:
    from piper.train.vits.dataset import VitsDataModule
    from piper.train.vits.lightning import VitsModel

    from voicesmith.training import align
    from voicesmith.training.data import DatasetInfo

    align.install()  # the wheel lacks piper's Cython monotonic_align core
    info = DatasetInfo.read(Path(args.dataset))
    model = start.model
    with tempfile.TemporaryDirectory(prefix="piper-bench-") as temp:
        csv_path = Path(temp) / "metadata.csv"
        _write_piper_csv(data, csv_path)
        piper_data = VitsDataModule(
            csv_path=csv_path, cache_dir=Path(temp) / "cache", espeak_voice=info.espeak_voice,
            config_path=Path(temp) / "config.json", voice_name="bench", sample_rate=model.sample_rate,
            audio_dir=args.dataset, num_symbols=model.num_symbols, num_speakers=model.num_speakers,
            batch_size=args.batch_size, validation_split=0.0, num_test_examples=0,
            filter_length=model.filter_length, hop_length=model.hop_length, win_length=model.win_length,
            segment_size=model.segment_size, num_workers=0, trim_silence=False, dataset_type="phoneme_ids",
        )  # fmt: skip
        vits = VitsModel(batch_size=args.batch_size, mos_metric=None, **model.to_dict())
        vits.model_g.load_state_dict(start.generator, strict=False)
        _trainer(args, timer).fit(vits, datamodule=piper_data)


def _worker(args: argparse.Namespace) -> None:
    """One trainer in this process; writes its summary as JSON to ``args.result``."""
    from voicesmith.training import warmstart
    from voicesmith.training.data import DatasetInfo, VoiceDataModule

    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    L.seed_everything(1234, verbose=False)
    load = os.getloadavg()[0]
    start = warmstart.adapt_speakers(
        warmstart.load_base(args.base), DatasetInfo.read(Path(args.dataset)).num_speakers
    )
    data = VoiceDataModule(args.dataset, start.model, batch_size=args.batch_size)
    timer = _Timer(args.batch_size, args.steps)
    if args.worker == "voicesmith":
        _train_voicesmith(args, start, data, timer)
    else:
        data.setup("fit")  # the same training utterances voicesmith uses (val split and too-short dropped)
        _train_piper(args, start, data, timer)
    summary = timer.summary()
    summary.update(
        load_before=load,
        load_after=os.getloadavg()[0],
        peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        threads=torch.get_num_threads(),
        device=torch.cuda.get_device_name(0)
        if torch.cuda.is_available()
        else f"cpu x{torch.get_num_threads()}",
    )
    Path(args.result).write_text(json.dumps(summary), encoding="utf-8")


def _spawn(trainer: str, precision: str, args: argparse.Namespace) -> dict[str, Any]:
    threads = str(args.threads)
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "NUMBA_NUM_THREADS": threads}
    with tempfile.TemporaryDirectory(prefix="trainbench-") as temp:
        result = Path(temp) / "result.json"
        command = [sys.executable, __file__, args.dataset, "--worker", trainer, "--result", str(result),
                   "--precision", precision, "--base", args.base, "--batch-size", str(args.batch_size),
                   "--steps", str(args.steps), "--threads", threads]  # fmt: skip
        print(f"== {trainer}, precision {precision}", flush=True)
        subprocess.run(command, env=env, check=True)
        return json.loads(result.read_text(encoding="utf-8"))


_HEADER = (
    "precision",
    "voicesmith s/step",
    "piper s/step",
    "ratio",
    "voicesmith CPU s/step",
    "piper CPU s/step",
    "CPU ratio",
    "voicesmith RSS MiB",
    "piper RSS MiB",
    "load 1m",
)


def _cells(precision: str, results: dict[str, dict[str, Any]]) -> list[str]:
    ours, theirs = results.get("voicesmith"), results.get("piper")

    def cell(result: dict[str, Any] | None, key: str, fmt: str) -> str:
        return format(result[key], fmt) if result else "-"

    ratio = f"{ours['median_s'] / theirs['median_s']:.2f}" if ours and theirs else "-"
    cpu_ratio = f"{ours['cpu_s'] / theirs['cpu_s']:.2f}" if ours and theirs else "-"
    loads = "/".join(f"{r['load_before']:.1f}" for r in results.values())
    return [precision, cell(ours, "median_s", ".2f"), cell(theirs, "median_s", ".2f"), ratio,
            cell(ours, "cpu_s", ".2f"), cell(theirs, "cpu_s", ".2f"), cpu_ratio,
            cell(ours, "peak_rss_mib", ".0f"), cell(theirs, "peak_rss_mib", ".0f"), loads]  # fmt: skip


def _print_table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in [list(_HEADER), *rows]) for i in range(len(_HEADER))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(_HEADER, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(
            "| "
            + " | ".join(
                [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
            )
            + " |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", help="a folder written by `voicesmith dataset prepare`")
    parser.add_argument("--base", default="joe", help="base voice both trainers start from")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument(
        "--steps", type=int, default=4, help="full-batch steps per run (the first is not counted)"
    )
    parser.add_argument("--precision", default="32", help="comma-separated: 32, bf16-mixed, 16-mixed")
    parser.add_argument(
        "--threads", type=int, default=len(os.sched_getaffinity(0)), help="torch threads per run"
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="runs per trainer and precision (order alternates; best kept)"
    )
    parser.add_argument("--only", choices=TRAINERS, help="run one trainer only")
    parser.add_argument("--worker", choices=TRAINERS, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args)
        return
    table: dict[str, dict[str, dict[str, Any]]] = {}
    trainers = [t for t in TRAINERS if args.only in (None, t)]
    for precision in [p.strip() for p in args.precision.split(",") if p.strip()]:
        best = table.setdefault(precision, {})
        for repeat in range(args.repeats):  # alternate the order; keep each trainer's least disturbed run
            for trainer in trainers if repeat % 2 == 0 else trainers[::-1]:
                result = _spawn(trainer, precision, args)
                if trainer not in best or result["median_s"] < best[trainer]["median_s"]:
                    best[trainer] = result
    first = next(iter(next(iter(table.values())).values()))
    print(f"\n{first['device']}, {args.threads} threads, batch {args.batch_size}, base {args.base}, "
          f"median of {first['counted']} full steps after the first:")  # fmt: skip
    _print_table([_cells(precision, results) for precision, results in table.items()])
    for precision, results in table.items():
        for trainer, result in results.items():
            print(f"{precision} {trainer}: first step {result['first_s']:.2f} s, data loading "
                  f"{result['loading_s'] * 1000:.0f} ms/step, load {result['load_before']:.1f}->"
                  f"{result['load_after']:.1f}, steps (wall/cpu s) "
                  + ", ".join(f"{s['seconds']:.2f}/{s['cpu']:.2f}" for s in result["steps"]))  # fmt: skip


if __name__ == "__main__":
    main()
