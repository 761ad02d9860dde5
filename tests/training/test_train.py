from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from piper import PiperVoice

from voicesmith.errors import TrainingError
from voicesmith.training import warmstart
from voicesmith.training.config import TrainConfig
from voicesmith.training.export import export_run
from voicesmith.training.train import read_run, run_training

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _config(**values):
    base = {"batch_size": 2, "warmup_steps": 1, "checkpoint_every": 1, "validate_every": 2,
            "discriminator": "small"}  # fmt: skip
    return TrainConfig(**{**base, **values})


def _generator(path):
    return warmstart.from_checkpoint(path).generator


@pytest.mark.slow
def test_stage_one_trains_only_what_the_onnx_lacked_then_resume_and_export(
    tmp_path, data_dir, prepared_dataset, tiny_base
):
    run_dir = tmp_path / "run"
    result = run_training(prepared_dataset, voice_id="v1", run_dir=run_dir, base=str(tiny_base),
                          config=_config(max_steps=2, frozen_steps=2))  # fmt: skip
    assert result.step == 2
    base = warmstart.from_onnx(tiny_base).generator
    after_stage1 = _generator(result.last_checkpoint)
    torch.testing.assert_close(after_stage1["dec.conv_post.weight"], base["dec.conv_post.weight"])
    torch.testing.assert_close(after_stage1["enc_p.emb.weight"], base["enc_p.emb.weight"])
    assert not torch.equal(
        after_stage1["enc_q.pre.weight"], warmstart.from_onnx(tiny_base).generator["enc_q.pre.weight"]
    )

    resumed = run_training(prepared_dataset, voice_id="v1", run_dir=run_dir, resume=True, tensorboard=True,
                           config=_config(max_steps=4, frozen_steps=2))  # fmt: skip
    assert list((run_dir / "logs").glob("events.out.tfevents.*"))
    assert "train_mel" in resumed.metrics
    assert resumed.step == 4
    after_stage2 = _generator(resumed.last_checkpoint)
    assert not torch.equal(after_stage2["dec.conv_post.weight"], base["dec.conv_post.weight"])
    run = read_run(run_dir)
    assert run["status"] == "finished" and run["step"] == 4
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]

    registered = []
    voice = export_run(run_dir, voice_id="v1", checkpoint="last", gender="male", register=registered.append)
    assert registered == [voice.folder]
    assert sorted(p.name for p in voice.folder.iterdir()) == ["v1.onnx", "v1.onnx.json", "voice.json"]
    meta = json.loads((voice.folder / "voice.json").read_text())
    assert meta["id"] == "v1" and meta["language"] == "en-US" and meta["sample_rate"] == 22050
    assert meta["origin"]["steps"] == 4
    chunks = list(PiperVoice.load(voice.model_path).synthesize("Testing one two.", include_alignments=True))
    assert chunks[0].phoneme_alignments  # alignment output patched in

    from click.testing import CliRunner

    from voicesmith.cli import main

    cli = CliRunner().invoke(
        main, ["export", str(run_dir), "--voice-id", "v1b", "--output", str(tmp_path / "cli")]
    )
    assert cli.exit_code == 0, cli.output
    assert (tmp_path / "cli" / "v1b.onnx").is_file() and (tmp_path / "cli" / "voice.json").is_file()
    assert (data_dir / "voices" / "v1b" / "voice.json").is_file()  # installed in the catalog


def test_an_existing_run_is_not_overwritten_and_resume_needs_a_checkpoint(
    tmp_path, prepared_dataset, tiny_base
):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(json.dumps({"model": {}, "train": {}}))
    with pytest.raises(TrainingError, match="--resume"):
        run_training(prepared_dataset, voice_id="v", run_dir=run_dir, base=str(tiny_base), config=_config())
    with pytest.raises(TrainingError, match="nothing to resume"):
        run_training(prepared_dataset, voice_id="v", run_dir=run_dir, resume=True, config=_config())


def test_a_time_budget_stops_the_run_early_with_a_checkpoint(tmp_path, data_dir, prepared_dataset, tiny_base):
    from click.testing import CliRunner

    from voicesmith.cli import main

    run_dir = tmp_path / "run"
    args = ["train", str(prepared_dataset), "--voice-id", "v", "--base", str(tiny_base), "--max-steps", "50",
            "--max-minutes", "0.0001", "--batch-size", "2", "--small-discriminator",
            "--output", str(run_dir)]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    run = read_run(run_dir)
    assert 1 <= run["step"] < 50 and run["status"] == "finished"
    assert run["train"]["max_minutes"] == 1e-4
    assert _generator(run_dir / "checkpoints" / "last.ckpt")  # a whole checkpoint, not a partial write
    assert run["train_seconds"] <= run["seconds"] and run["last_checkpoint_seconds"] > 0

    refused = CliRunner().invoke(main, [*args[:8], "--max-minutes", "0", "--output", str(tmp_path / "other")])
    assert refused.exit_code == 2 and "'--max-minutes': 0.0 is not in the range" in refused.output


def test_a_run_ending_on_a_checkpoint_step_writes_it_once(tmp_path, prepared_dataset, tiny_base, monkeypatch):
    import lightning

    written = []
    save = lightning.Trainer.save_checkpoint

    def recorded(trainer, path, *args, **kwargs):
        written.append(Path(path).name)
        return save(trainer, path, *args, **kwargs)

    monkeypatch.setattr(lightning.Trainer, "save_checkpoint", recorded)
    result = run_training(prepared_dataset, voice_id="v", run_dir=tmp_path / "run", base=str(tiny_base),
                          config=_config(max_steps=2, checkpoint_every=2, validate_every=100))  # fmt: skip
    assert result.step == 2 and result.last_checkpoint.is_file()
    assert written == [".last.ckpt.tmp"]  # step 2's checkpoint is the final one: not written again at the end


@pytest.mark.slow
def test_two_speakers_from_a_single_speaker_base(tmp_path, prepared_dataset_two_speakers, tiny_base):
    run_dir = tmp_path / "run"
    run_training(prepared_dataset_two_speakers, voice_id="duo", run_dir=run_dir, base=str(tiny_base),
                 config=_config(max_steps=1))  # fmt: skip
    voice = export_run(run_dir, voice_id="duo", checkpoint="last")
    config = json.loads(voice.config_path.read_text())
    assert config["num_speakers"] == 2 and config["speaker_id_map"] == {"low": 0, "high": 1}
    assert voice.voice_json["speakers"] == ["low", "high"]


@pytest.mark.slow
def test_one_embedding_per_emotion_and_a_style_vector_export(tmp_path, prepared_dataset_emotions, tiny_base):
    import numpy as np
    import onnxruntime

    run_dir = tmp_path / "run"
    run_training(prepared_dataset_emotions, voice_id="emo", run_dir=run_dir, base=str(tiny_base),
                 config=_config(max_steps=1, style_by="emotion"))  # fmt: skip
    voice = export_run(run_dir, voice_id="emo", checkpoint="last", style_vectors=True)
    config = json.loads(voice.config_path.read_text())
    assert config["speaker_id_map"] == {"joe/happy": 0, "joe/neutral": 1}
    assert voice.voice_json["styles"] == ["happy", "neutral"]
    table = np.load(voice.folder / "emo.style.onnx.styles.npy")
    assert table.shape[0] == 2
    session = onnxruntime.InferenceSession(
        str(voice.folder / "emo.style.onnx"), providers=["CPUExecutionProvider"]
    )
    half = (0.5 * table[0] + 0.5 * table[1])[None].astype(np.float32)
    ids = np.array([[1, 0, 20, 0, 30, 0, 2]], dtype=np.int64)
    feeds = {
        "input": ids,
        "input_lengths": np.array([7]),
        "scales": np.array([0.667, 1.0, 0.8], np.float32),
        "g": half,
    }
    outputs = session.run(None, feeds)
    assert len(outputs) == 2 and outputs[0].size > 0  # audio + phoneme durations


def test_a_time_budget_plans_the_stages_on_the_measured_pace(monkeypatch):
    """The planning callback on a simulated clock: a 100 s first step, then 10 s steps, 30 minutes."""
    from types import SimpleNamespace

    from lightning.pytorch.callbacks import Timer

    from voicesmith.training import train as train_module
    from voicesmith.training.plan import initial_plan

    clock = SimpleNamespace(now=0.0)
    monkeypatch.setattr(train_module.time, "monotonic", lambda: clock.now)

    class Clock(Timer):
        def time_remaining(self, stage="train"):
            return 30 * 60 - clock.now

    trainer = SimpleNamespace(callbacks=[Clock(duration="00:00:30:00")], is_global_zero=True,
                              strategy=SimpleNamespace(broadcast=lambda obj, src=0: obj))  # fmt: skip
    config = TrainConfig(max_steps=100_000, max_minutes=30)
    module = SimpleNamespace(step=0, _released=False, plan=initial_plan(100_000, None, 0.25, True))
    progress = train_module._Progress(100_000, 10)
    planner = train_module._TimePlan(config, progress)
    planner.on_train_start(trainer, module)
    totals = []
    while clock.now < 30 * 60:
        clock.now += 100.0 if module.step == 0 else 10.0
        module.step += 1
        if module.step >= module.plan.frozen_steps:
            module._released = True
        planner.on_train_batch_end(trainer, module)
        totals.append(module.plan.total_steps)
    steps = module.step  # 1 + 170 steps of 10 s
    assert module.plan.timed and progress.total == module.plan.total_steps
    assert abs(module.plan.total_steps - steps) <= 1  # the schedule ends with the time
    assert module.plan.frozen_steps == round(0.25 * module.plan.total_steps)  # stage 1: a quarter of it
    assert totals[0] == 100_000 and len(set(totals)) >= 2  # planned after the first steps were measured


def test_a_time_budget_keeps_time_for_the_last_checkpoint(monkeypatch, tmp_path):
    """The budget includes writing last.ckpt (joe's ~800 MB took minutes on a busy machine): the run
    stops early by the measured write time and its schedule ends there."""
    from types import SimpleNamespace

    import torch
    from lightning.pytorch.callbacks import Timer

    from voicesmith.training import train as train_module
    from voicesmith.training.plan import CHECKPOINT_SAFETY, initial_plan

    clock = SimpleNamespace(now=0.0)
    monkeypatch.setattr(train_module.time, "monotonic", lambda: clock.now)
    monkeypatch.setattr(train_module, "_write_rate", lambda directory: 100_000.0)  # a slow disk: 0.1 MB/s

    class Clock(Timer):
        def time_remaining(self, stage="train"):
            return 30 * 60 - clock.now

    trainer = SimpleNamespace(callbacks=[Clock(duration="00:00:30:00")], is_global_zero=True,
                              should_stop=False,
                              strategy=SimpleNamespace(broadcast=lambda obj, src=0: obj))  # fmt: skip
    weights = [torch.zeros(1_000_000)]  # 4 MB: a 12 MB checkpoint with Adam's moments, 180 s at 0.1 MB/s
    module = SimpleNamespace(step=0, _released=False, plan=initial_plan(100_000, None, 0.25, True),
                             parameters=lambda: iter(weights))  # fmt: skip
    planner = train_module._TimePlan(TrainConfig(max_steps=100_000, max_minutes=30),
                                     train_module._Progress(100_000, 10), tmp_path)  # fmt: skip
    planner.on_train_start(trainer, module)
    assert planner.reserve_s == pytest.approx(CHECKPOINT_SAFETY * 12e6 / 100_000)
    while not trainer.should_stop and clock.now < 30 * 60:
        clock.now += 10.0
        module.step += 1
        module._released = module.step >= module.plan.frozen_steps
        planner.on_train_batch_end(trainer, module)
    assert trainer.should_stop and clock.now == pytest.approx(30 * 60 - planner.reserve_s, abs=10)
    assert abs(module.plan.total_steps - module.step) <= 1  # the schedule ended with the shorter budget
    assert not (tmp_path / ".write-probe.tmp").exists()


def _cli(*args, env=None):
    return [sys.executable, "-m", "voicesmith.cli", "train", *map(str, args)]


def _env(tmp_path):
    return {**os.environ, "PYTHONPATH": SRC, "VOICESMITH_DATA_DIR": str(tmp_path / "data")}


@pytest.mark.slow
def test_a_killed_run_resumes_exactly_where_it_stopped(tmp_path, prepared_dataset, tiny_base):
    run_dir = tmp_path / "run"
    args = [
        prepared_dataset,
        "--voice-id",
        "k",
        "--base",
        tiny_base,
        "--max-steps",
        12,
        "--batch-size",
        1,  # 4 batches an epoch: the first checkpoint (step 3) is mid-epoch
        "--checkpoint-every",
        3,
        "--validate-every",
        100,
        "--small-discriminator",
        "--output",
        run_dir,
    ]
    process = subprocess.Popen(
        _cli(*args), env=_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    killed_at = torch.load(checkpoint, map_location="cpu", weights_only=False)["voicesmith"]["step"]
    assert 0 < killed_at < 12 and killed_at % 4 != 0, killed_at  # stopped inside an epoch
    assert read_run(run_dir)["status"] == "training"

    resumed = subprocess.run(_cli(prepared_dataset, "--voice-id", "k", "--output", run_dir, "--resume"),
                             env=_env(tmp_path), capture_output=True, text=True, timeout=600)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"step {killed_at + 1}/12" in resumed.stderr or f"step {killed_at + 2}/12" in resumed.stderr
    assert "not resumable" not in resumed.stderr  # Lightning's warning for a loader without state
    run = read_run(run_dir)
    assert run["status"] == "finished" and run["step"] == 12

    # The same run without the kill ends with the same weights (to float rounding: ~1e-8 measured, a
    # mid-epoch resume without the loader's state gives ~1e-4): data order, segment slices, noise,
    # optimiser and schedule all continued where they stopped.
    twin_dir = tmp_path / "twin"
    twin = subprocess.run(_cli(*args[:-1], twin_dir), env=_env(tmp_path), capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert twin.returncode == 0, twin.stderr[-2000:]
    resumed_weights = _generator(run_dir / "checkpoints" / "last.ckpt")
    twin_weights = _generator(twin_dir / "checkpoints" / "last.ckpt")
    assert resumed_weights.keys() == twin_weights.keys()
    for name, value in twin_weights.items():
        torch.testing.assert_close(resumed_weights[name], value, rtol=0, atol=1e-6, msg=name)


@pytest.mark.slow
def test_two_process_ddp_on_cpu(tmp_path, prepared_dataset, tiny_base):
    run_dir = tmp_path / "ddp"
    args = [
        prepared_dataset,
        "--voice-id",
        "d",
        "--base",
        tiny_base,
        "--max-steps",
        2,
        "--batch-size",
        1,
        "--devices",
        2,
        "--checkpoint-every",
        1,
        "--validate-every",
        100,
        "--small-discriminator",
        "--output",
        run_dir,
    ]
    done = subprocess.run(_cli(*args), env=_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 process(es)" in done.stderr and "effective batch 2" in done.stderr
    run = read_run(run_dir)
    assert run["status"] == "finished" and run["step"] == 2
    assert (run_dir / "checkpoints" / "last.ckpt").exists()
