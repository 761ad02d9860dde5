#!/usr/bin/env python3
"""Fine-tune a voice from joe on one GPU, then export it: steps, wall time and losses on stdout.

    python scripts/gpu_finetune.py PREPARED_DATASET --voice-id myvoice --steps 3000 [--out runs/myvoice]

Settings (measured choices, see voicesmith.training.model): bf16-mixed, batch 16, stage 1 (posterior
encoder + discriminator learn, inference path frozen) for 15% of the steps at LR 2e-4, then everything at
LR 2e-5 with warm-up and cosine decay; checkpoints every 10% of the run. Runs on CPU too (for a smoke
test: --steps 2 --batch-size 2).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

PART_BYTES = 15 * 2**20


def write_generator_parts(checkpoint_name: str, run_dir: Path, folder: Path) -> list[Path]:
    """The inference generator of ``checkpoint_name`` in fp16 as ``generator.ckpt.partNN`` files.

    What a device machine may send back is capped per file; ``cat generator.ckpt.part*`` rebuilds a
    checkpoint that ``voicesmith export RUN --checkpoint`` takes (the posterior encoder, which inference
    does not use, is left out).
    """
    import io

    from voicesmith.training import warmstart

    start = warmstart.from_checkpoint(run_dir / "checkpoints" / checkpoint_name)
    buffer = io.BytesIO()
    warmstart.save_inference_checkpoint(start, buffer)
    data = buffer.getvalue()
    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    for number, offset in enumerate(range(0, len(data), PART_BYTES)):
        parts.append(folder / f"generator.ckpt.part{number:02d}")
        parts[-1].write_bytes(data[offset : offset + PART_BYTES])
    return parts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path, help="folder written by `voicesmith dataset prepare`")
    parser.add_argument("--voice-id", required=True)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--max-minutes", type=float, default=None, help="stop training after this long")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    parser.add_argument("--frozen-fraction", type=float, default=0.15)
    parser.add_argument("--frozen-steps", type=int, default=None, help="[default: frozen fraction of steps]")
    parser.add_argument(
        "--generator-parts",
        type=Path,
        default=None,
        help="also write the trained generator in fp16, split in files of at most 15 MiB, to this folder",
    )
    parser.add_argument("--base", default="joe", help="joe, a Piper .onnx voice or a .ckpt")
    parser.add_argument("--out", type=Path, default=None, help="run folder [default: runs/<voice-id>]")
    parser.add_argument("--precision", default=None, help="[default: bf16-mixed where the hardware has bf16]")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--small-discriminator", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("voicesmith").setLevel(logging.INFO)

    import torch

    from voicesmith.training.config import TrainConfig
    from voicesmith.training.export import export_run
    from voicesmith.training.topology import default_precision
    from voicesmith.training.train import run_training

    for name in ("lightning.pytorch", "lightning.fabric"):  # after the import: Lightning sets INFO on import
        logging.getLogger(name).setLevel(logging.WARNING)

    gpu = torch.cuda.is_available()
    if gpu:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = False  # variable lengths: benchmarking every shape costs more
    run_dir = args.out or Path("runs") / args.voice_id
    config = TrainConfig(
        max_steps=args.steps,
        max_minutes=args.max_minutes,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        stage1_learning_rate=2e-4,
        frozen_steps=args.frozen_steps or max(int(args.steps * args.frozen_fraction), 1),
        warmup_steps=min(50, max(args.steps // 10, 1)),
        decay="cosine",
        precision=args.precision or default_precision(),
        checkpoint_every=max(args.steps // 10, 1),
        validate_every=max(args.steps // 10, 1),
        num_workers=args.workers if gpu else 0,
        discriminator="small" if args.small_discriminator else "mpd",
    )
    device = torch.cuda.get_device_name(0) if gpu else "cpu"
    print(f"device: {device}  run: {run_dir}  steps: {args.steps}  batch: {args.batch_size}", flush=True)
    started = time.monotonic()
    resume = (run_dir / "checkpoints" / "last.ckpt").is_file()
    log_every = max(min(args.steps // 50, 50), 1)
    result = run_training(args.dataset, voice_id=args.voice_id, run_dir=run_dir, config=config,
                          base=args.base, resume=resume, log_every=log_every)  # fmt: skip
    train_seconds = time.monotonic() - started
    best = "best.ckpt" if result.best_checkpoint else "last.ckpt"
    if args.generator_parts:  # before the export, so that the weights come back even if it fails
        write_generator_parts(best, result.run_dir, args.generator_parts)
    voice = export_run(result.run_dir, voice_id=args.voice_id)
    summary = {
        "device": device,
        "steps": result.step,
        "train_seconds": round(train_seconds, 1),
        "seconds_per_step": round(result.seconds / max(result.step, 1), 3),
        "losses": {
            k: round(v, 4) for k, v in sorted(result.metrics.items()) if k.startswith(("train_", "val_"))
        },
        "peak_gpu_memory_gb": round(torch.cuda.max_memory_allocated() / 1e9, 2) if gpu else None,
        "exported_checkpoint": best,
        "voice_folder": str(voice.folder),
        "test_sentence_seconds": round(voice.check_seconds, 2),
    }
    print(json.dumps(summary, indent=2), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
