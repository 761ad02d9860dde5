#!/usr/bin/env python3
"""Seconds per training step (one generator + one discriminator update) for a base voice on a dataset.

    python benchmarks/training_step.py PREPARED_DATASET [--base joe] [--batch-size 4] [--steps 5]
        [--precision 32|bf16-mixed]

Prints each step's time and the median of the steps after the first (which pays for warm-up).
"""

from __future__ import annotations

import argparse
import statistics
import time

import lightning as L
import torch

from voicesmith.training import warmstart
from voicesmith.training.config import TrainConfig
from voicesmith.training.data import DatasetInfo, VoiceDataModule
from voicesmith.training.model import VitsTrainingModule


class _Timer(L.Callback):
    def __init__(self) -> None:
        self.times: list[float] = []

    def on_train_batch_start(self, *args: object) -> None:
        self.started = time.perf_counter()

    def on_train_batch_end(self, *args: object) -> None:
        self.times.append(time.perf_counter() - self.started)
        print(f"step {len(self.times)}: {self.times[-1]:.2f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("--base", default="joe")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--precision", default="32")
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    start = warmstart.adapt_speakers(
        warmstart.load_base(args.base),
        DatasetInfo.read(__import__("pathlib").Path(args.dataset)).num_speakers,
    )
    config = TrainConfig(
        max_steps=args.steps, batch_size=args.batch_size, frozen_steps=0, precision=args.precision
    )
    module = VitsTrainingModule(start.model.to_dict(), config.to_dict())
    module.model_g.load_state_dict(start.generator, strict=False)
    timer = _Timer()
    trainer = L.Trainer(max_steps=2 * args.steps, precision=args.precision, logger=False, callbacks=[timer],
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        limit_val_batches=0)  # fmt: skip
    trainer.fit(module, datamodule=VoiceDataModule(args.dataset, start.model, batch_size=args.batch_size))
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"cpu x{torch.get_num_threads()}"
    rest = timer.times[1:] or timer.times
    print(f"{device} base={args.base} batch={args.batch_size} precision={args.precision}: "
          f"median {statistics.median(rest):.2f} s/step over steps 2..{len(timer.times)}")  # fmt: skip


if __name__ == "__main__":
    main()
