from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _sagemaker_entry():
    spec = importlib.util.spec_from_file_location("sagemaker_entry", ROOT / "sagemaker_entry.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sagemaker_hyper_parameters_come_from_sm_hps_and_argv():
    entry = _sagemaker_entry()
    env = {"SM_HPS": json.dumps({"voice-id": "a", "max_steps": "10", "batch-size": 4})}
    values = entry.parse(["--max-steps", "20", "--unknown", "x"], env)
    assert values == {"voice-id": "a", "max-steps": 20, "batch-size": 4}
    with pytest.raises(SystemExit):
        entry.parse([], {})


@pytest.mark.slow
def test_sagemaker_entry_trains_and_writes_the_voice_to_the_model_dir(tmp_path, prepared_dataset, tiny_base):
    env = {
        "SM_CHANNEL_TRAINING": str(prepared_dataset),
        "SM_MODEL_DIR": str(tmp_path / "model"),
        "SM_HPS": json.dumps({"voice-id": "sm", "base": str(tiny_base), "max-steps": 2, "batch-size": 2}),
        "VOICESMITH_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
        "VOICESMITH_SMALL_DISCRIMINATOR": "1",
    }
    assert _sagemaker_entry().main([], env) == 0
    assert (tmp_path / "model" / "sm" / "sm.onnx").is_file()
    assert (tmp_path / "checkpoints" / "sm" / "checkpoints" / "last.ckpt").is_file()


@pytest.mark.slow
def test_gpu_finetune_script_runs_two_steps_on_cpu(tmp_path, prepared_dataset, tiny_base):
    script = str(ROOT / "scripts" / "gpu_finetune.py")
    command = [sys.executable, script, str(prepared_dataset), "--voice-id", "g",
               "--steps", "2", "--batch-size", "2", "--base", str(tiny_base), "--out", str(tmp_path / "run"),
               "--small-discriminator"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout[done.stdout.index("{") :])
    assert summary["steps"] == 2 and summary["device"] == "cpu"
    assert "train_mel" in summary["losses"]
    assert Path(summary["voice_folder"], "g.onnx").is_file()
