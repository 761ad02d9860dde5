"""SageMaker training entry point for voicesmith (PyTorch estimator, ``entry_point="sagemaker_entry.py"``).

Reads the prepared dataset from the ``training`` channel (``SM_CHANNEL_TRAINING``), hyper-parameters from
``SM_HPS`` and/or ``--name value`` arguments (voice-id, base, max-steps, batch-size, precision,
learning-rate, frozen-steps, checkpoint-every, validate-every), checkpoints to ``/opt/ml/checkpoints``
(set ``checkpoint_s3_uri`` on the estimator so spot interruptions resume), and writes the exported voice
folder to ``SM_MODEL_DIR/<voice-id>`` (SageMaker uploads it as model.tar.gz).

    estimator = PyTorch(entry_point="sagemaker_entry.py", source_dir=".", instance_type="ml.g5.2xlarge",
                        framework_version=..., distribution={"torch_distributed": {"enabled": True}},
                        hyperparameters={"voice-id": "myvoice", "max-steps": 5000},
                        checkpoint_s3_uri="s3://bucket/voicesmith/checkpoints")
    estimator.fit({"training": "s3://bucket/prepared/myvoice"})
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

_HYPER_PARAMETERS = {
    "voice-id": str,
    "base": str,
    "max-steps": int,
    "batch-size": int,
    "precision": str,
    "learning-rate": float,
    "frozen-steps": int,
    "checkpoint-every": int,
    "validate-every": int,
}


def parse(argv: list[str], env: dict[str, str]) -> dict[str, object]:
    """Hyper-parameters: SM_HPS first, command-line arguments override."""
    values: dict[str, object] = {}
    for key, value in json.loads(env.get("SM_HPS", "{}") or "{}").items():
        key = key.replace("_", "-")
        if key in _HYPER_PARAMETERS:
            values[key] = _HYPER_PARAMETERS[key](value)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for key, kind in _HYPER_PARAMETERS.items():
        parser.add_argument(f"--{key}", type=kind, default=None)
        if "-" in key:
            parser.add_argument(f"--{key.replace('-', '_')}", dest=key.replace("-", "_"), type=kind,
                                default=None, help=argparse.SUPPRESS)  # fmt: skip
    known, _ = parser.parse_known_args(argv)
    for key, value in vars(known).items():
        if value is not None:
            values[key.replace("_", "-")] = value
    if "voice-id" not in values:
        raise SystemExit("sagemaker_entry: the voice-id hyper-parameter is required")
    return values


def main(argv: list[str] | None = None, env: dict[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from voicesmith.training.config import TrainConfig
    from voicesmith.training.export import export_run
    from voicesmith.training.topology import default_precision
    from voicesmith.training.train import run_training

    values = parse(sys.argv[1:] if argv is None else argv, env)
    voice_id = str(values["voice-id"])
    dataset = Path(env.get("SM_CHANNEL_TRAINING", "/opt/ml/input/data/training"))
    run_dir = Path(env.get("VOICESMITH_CHECKPOINT_DIR", "/opt/ml/checkpoints")) / voice_id
    model_dir = Path(env.get("SM_MODEL_DIR", "/opt/ml/model"))
    resume = (run_dir / "checkpoints" / "last.ckpt").is_file()
    max_steps = int(values.get("max-steps", 5000))
    config = TrainConfig(
        max_steps=max_steps,
        batch_size=int(values.get("batch-size", 16)),
        precision=str(values.get("precision", default_precision())),
        learning_rate=float(values.get("learning-rate", 2e-5)),
        frozen_steps=int(values.get("frozen-steps", max(max_steps // 10, 1))),
        checkpoint_every=int(values.get("checkpoint-every", 500)),
        validate_every=int(values.get("validate-every", 500)),
        devices=int(env.get("SM_NUM_GPUS", "1") or 1),
        discriminator="small" if env.get("VOICESMITH_SMALL_DISCRIMINATOR") else "mpd",  # tests only
    )
    result = run_training(dataset, voice_id=voice_id, run_dir=run_dir, config=config,
                          base=str(values.get("base", "joe")), resume=resume)  # fmt: skip
    if int(env.get("RANK", "0")) == 0:
        export_run(result.run_dir, voice_id=voice_id, output=model_dir / voice_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
