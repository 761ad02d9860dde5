"""Run a training job: prepared dataset + base voice -> run folder with checkpoints.

Run folder layout (``RUN``)::

    RUN/run.json               voice id, dataset, base, model and train config, dataset facts, status, step
    RUN/checkpoints/last.ckpt  written every ``checkpoint_every`` steps and at the end (atomic rename)
    RUN/checkpoints/best.ckpt  lowest validation mel L1 so far
    RUN/logs/                  metrics.csv (always), TensorBoard events (``tensorboard=True``)

Only rank 0 writes ``run.json`` and checkpoints. ``resume=True`` continues from ``last.ckpt`` with the
optimiser, scheduler, step counter and RNG states it holds. Launch recipes: see ``topology``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.callbacks import Timer
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from voicesmith.engine.bundled import BUNDLED_VOICE_ID
from voicesmith.errors import TrainingError
from voicesmith.training import plan as plan_rules
from voicesmith.training import posterior_start, warmstart
from voicesmith.training import topology as topo
from voicesmith.training.config import ModelConfig, TrainConfig
from voicesmith.training.data import DatasetInfo, VoiceDataModule, embedding_table, read_manifest
from voicesmith.training.model import VitsTrainingModule

_LOGGER = logging.getLogger(__name__)
RUN_FILE = "run.json"


@dataclass
class RunResult:
    run_dir: Path
    step: int
    last_checkpoint: Path
    best_checkpoint: Path | None
    seconds: float
    metrics: dict[str, float]
    """Last logged values (train_mel, train_kl, ..., val_mel)."""


def default_run_dir(runs_dir: Path, voice_id: str) -> Path:
    stamp = topo.launch_stamp() or datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return runs_dir / f"{voice_id}-{stamp}"


def read_run(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / RUN_FILE
    if not path.is_file():
        raise TrainingError(f"{run_dir} is not a training run folder ({RUN_FILE} is missing)")
    return json.loads(path.read_text(encoding="utf-8"))


def _write_run(run_dir: Path, run: dict[str, Any]) -> None:
    if rank_zero_only.rank != 0:
        return
    tmp = run_dir / (RUN_FILE + ".tmp")
    tmp.write_text(json.dumps(run, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, run_dir / RUN_FILE)


class _Checkpoints(L.Callback):
    """``last.ckpt`` every N steps and at the end, ``best.ckpt`` on the lowest ``val_mel``; atomic."""

    def __init__(self, directory: Path, every: int) -> None:
        self.directory = directory
        self.every = max(every, 1)
        self.best = float("inf")
        self.save_seconds: float | None = None
        """How long the last checkpoint took to write."""
        self.last_step: int | None = None
        """The step ``last.ckpt`` holds."""

    def _save(self, trainer: L.Trainer, name: str) -> None:
        tmp = self.directory / f".{name}.tmp"
        started = time.monotonic()
        trainer.save_checkpoint(tmp)
        if trainer.is_global_zero:
            os.replace(tmp, self.directory / name)
        self.save_seconds = time.monotonic() - started

    def on_train_batch_end(self, trainer: L.Trainer, module: Any, *args: Any) -> None:
        if module.step % self.every == 0:
            self._save(trainer, "last.ckpt")
            self.last_step = module.step

    def on_validation_end(self, trainer: L.Trainer, module: Any) -> None:
        value = trainer.callback_metrics.get("val_mel")
        if trainer.sanity_checking or value is None or float(value) >= self.best:
            return
        self.best = float(value)
        self._save(trainer, "best.ckpt")
        self.last_step = None  # last.ckpt (written before this validation) holds the old best

    def on_train_end(self, trainer: L.Trainer, module: Any) -> None:
        if module.step != self.last_step:  # a run whose last step was a checkpoint step has it (800 MB)
            self._save(trainer, "last.ckpt")
            self.last_step = module.step

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best = float(state_dict.get("best", self.best))


class _Progress(L.Callback):
    """One log line every ``every`` steps: step, s/step, ETA, losses, learning rate (rank 0 only); and
    ``progress.json`` in the run folder after every step (step, total, ETA, last losses and validation
    numbers), which the voice-job watchers read to show progress (``tasks.voice_jobs.progress``)."""

    def __init__(self, total: int, every: int, run_dir: Path | None = None) -> None:
        self.total = total
        self.every = max(every, 1)
        self.started: float | None = None
        self.last_end: float | None = None
        """When the last step ended: ``last_end - started`` is the training time without the final save."""
        self.first_step = 0
        self.run_dir = run_dir
        self.validation: dict[str, float] = {}

    def _write(self, trainer: L.Trainer, step: int, eta: float | None) -> None:
        if self.run_dir is None or not trainer.is_global_zero:
            return
        metrics = trainer.callback_metrics
        losses = {
            name: round(float(metrics[f"train_{name}"]), 4)
            for name in ("mel", "kl", "dur", "gen", "disc")
            if f"train_{name}" in metrics
        }
        data = {"step": step, "total": self.total, "eta_s": eta, "losses": losses}
        data["validation"] = self.validation
        partial = self.run_dir / ".progress.json.partial"
        try:
            partial.write_text(json.dumps(data), encoding="utf-8")
            os.replace(partial, self.run_dir / "progress.json")
        except OSError:  # progress is advisory: a full disk must not stop training here
            _LOGGER.warning("could not write %s", self.run_dir / "progress.json")

    def on_validation_end(self, trainer: L.Trainer, module: Any) -> None:
        self.validation = {
            name: round(float(value), 4)
            for name, value in trainer.callback_metrics.items()
            if name.startswith("val_") and getattr(value, "numel", lambda: 1)() == 1
        }
        self._write(trainer, module.step, None)

    def on_train_start(self, trainer: L.Trainer, module: Any) -> None:
        self.started, self.first_step = time.monotonic(), module.step
        self.last_end = self.started

    def on_train_batch_end(self, trainer: L.Trainer, module: Any, *args: Any) -> None:
        step = module.step
        self.last_end = time.monotonic()
        first = step == self.first_step + 1
        if not trainer.is_global_zero:
            return
        if step % self.every and step != self.total and not first:
            elapsed = time.monotonic() - (self.started or time.monotonic())
            self._write(trainer, step, elapsed / max(step - self.first_step, 1) * max(self.total - step, 0))
            return
        elapsed = time.monotonic() - (self.started or time.monotonic())
        per_step = elapsed / max(step - self.first_step, 1)
        eta = int(per_step * max(self.total - step, 0))
        self._write(trainer, step, eta)
        metrics = trainer.callback_metrics
        losses = " ".join(
            f"{name} {float(metrics[f'train_{name}']):.3f}"
            for name in ("mel", "kl", "dur", "fm", "gen", "disc")
            if f"train_{name}" in metrics
        )
        lr = float(metrics.get("lr_g", 0.0))
        _LOGGER.info(
            "step %d/%d  %.2f s/step  ETA %d:%02d:%02d  %s  lr %.2e",
            step, self.total, per_step, eta // 3600, eta // 60 % 60, eta % 60, losses, lr,
        )  # fmt: skip


class _TimePlan(L.Callback):
    """Makes the stage/LR plan follow ``max_minutes``: measures the pace and re-plans (:mod:`.plan`).

    Every process re-plans at the same steps and takes rank 0's plan, so DDP ranks keep one schedule.
    """

    def __init__(self, config: TrainConfig, progress: _Progress, checkpoint_dir: Path | None = None) -> None:
        self.config = config
        self.progress = progress
        self.checkpoint_dir = checkpoint_dir
        self.timer: Timer | None = None
        self.mark: tuple[int, float] | None = None
        self.next_at = 0
        self.first_step = 0
        self.reserve_s = 0.0
        """Seconds kept back from the budget for writing the final ``last.ckpt`` (joe's size: ~800 MB)."""

    def on_train_start(self, trainer: L.Trainer, module: Any) -> None:
        self.timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
        self.first_step = module.step
        self.mark = None
        self.progress.total = module.plan.total_steps
        if self.timer is not None and self.config.max_minutes and self.checkpoint_dir is not None:
            seconds = plan_rules.checkpoint_seconds(
                _checkpoint_bytes(module), _write_rate(self.checkpoint_dir)
            )
            self.reserve_s = min(seconds, 0.5 * (self.timer.time_remaining("train") or 0.0))
            self.reserve_s = float(trainer.strategy.broadcast(self.reserve_s, src=0))
            if trainer.is_global_zero:
                _LOGGER.info("%.0f s of the budget are kept for writing the last checkpoint", self.reserve_s)

    def on_train_batch_end(self, trainer: L.Trainer, module: Any, *args: Any) -> None:
        if self.timer is None or not self.config.max_minutes:
            return
        step, now = module.step, time.monotonic()
        if self.reserve_s > 0:
            left = (self.timer.time_remaining("train") or 0.0) - self.reserve_s
            if trainer.strategy.broadcast(left <= 0, src=0):
                trainer.should_stop = True  # the budget's end: what is left is for last.ckpt
                return
        if self.mark is None:
            if step >= self.first_step + plan_rules.MEASURE_AFTER:
                self.mark, self.next_at = (step, now), step + plan_rules.FIRST_PLAN_AT
            return
        if step < self.next_at:
            return
        pace = (now - self.mark[1]) / max(step - self.mark[0], 1)
        remaining = max((self.timer.time_remaining("train") or 0.0) - self.reserve_s, 0.0)
        plan = plan_rules.replan(
            module.plan,
            step=step,
            max_steps=self.config.max_steps,
            remaining_s=remaining,
            seconds_per_step=pace,
            stage1_fraction=self.config.stage1_share(posterior_started=False),
            released=module._released,
        )
        plan = trainer.strategy.broadcast(plan, src=0)
        if trainer.is_global_zero and (plan.total_steps, plan.frozen_steps) != (
            module.plan.total_steps,
            module.plan.frozen_steps,
        ):
            _LOGGER.info(
                "Step %d: %.2f s/step, %.0f s left: planned %d steps, stage 1 until step %d",
                step, pace, remaining, plan.total_steps, plan.frozen_steps,
            )  # fmt: skip
        module.plan = plan
        self.progress.total = plan.total_steps
        self.mark, self.next_at = (step, now), plan_rules.next_replan(plan, step)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _checkpoint_bytes(module: Any) -> int:
    """What a checkpoint of ``module`` will weigh at most: the weights and, for every trainable weight,
    Adam's two moments (the discriminator and its moments are ~70 % of it)."""
    total = 0
    for parameter in module.parameters():
        total += parameter.numel() * parameter.element_size() * 3
    return total


def _write_rate(directory: Path, probe_bytes: int = 32 << 20) -> float:
    """Bytes per second ``torch.save`` writes into ``directory`` now (a 32 MB probe; on a busy machine
    serialising is CPU work and slows with everything else)."""
    path = directory / ".write-probe.tmp"
    try:
        torch.save(torch.zeros(1024), path)  # the first save pays for imports and file set-up
        started = time.monotonic()
        torch.save(torch.zeros(probe_bytes // 4), path)
        return probe_bytes / max(time.monotonic() - started, 1e-3)
    except OSError:
        return 0.0
    finally:
        path.unlink(missing_ok=True)


def _prepare_start(base: str | None, info: DatasetInfo, embeddings: int) -> warmstart.WarmStart:
    start = warmstart.load_base(base)
    start = warmstart.adapt_speakers(start, embeddings)
    if start.piper_config and start.piper_config.get("phoneme_id_map") not in (None, info.phoneme_id_map):
        _LOGGER.warning("The dataset's phoneme_id_map differs from the base voice's: ids are used as written")
    return start


def _wants_stage0(config: TrainConfig, fresh: list[str]) -> bool:
    """Stage 0 runs when the base lacks the posterior encoder (an ``.onnx`` voice) and is not turned off."""
    return config.posterior_start_steps > 0 and any(key.startswith(posterior_start.PREFIX) for key in fresh)


def _stage0(
    module: VitsTrainingModule,
    model: ModelConfig,
    dataset: Path,
    config: TrainConfig,
    topology: topo.Topology,
    start: warmstart.WarmStart,
) -> posterior_start.PosteriorStart:
    """Fit the posterior encoder to the base's own speech of the training transcripts (every process
    alike; DDP then starts all ranks from rank 0's weights)."""
    texts = [r["phoneme_ids"] for r in read_manifest(dataset) if r.get("split", "train") != "val"]
    device = torch.device("cpu")
    if topology.accelerator == "gpu":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())
    generator = module.model_g.to(device)
    # the run's random streams go on as they would without stage 0 (its draws stay in a fork)
    fork_devices = [device] if device.type == "cuda" else []
    budget = config.max_minutes * 60 * config.posterior_start_share if config.max_minutes else None
    try:
        with torch.random.fork_rng(devices=fork_devices):
            return posterior_start.fit_posterior(
                generator,
                model,
                texts,
                steps=min(config.posterior_start_steps, config.max_steps),  # never longer than the run
                seconds=budget,
                seed=config.seed,
                inference=(start.piper_config or {}).get("inference"),
            )
    finally:
        module.model_g.to("cpu")


def run_training(
    dataset: str | Path,
    *,
    voice_id: str,
    run_dir: str | Path,
    config: TrainConfig,
    base: str | None = BUNDLED_VOICE_ID,
    resume: bool = False,
    tensorboard: bool = False,
    log_every: int = 10,
) -> RunResult:
    """Train (or resume) a voice; returns where its checkpoints are. See the module docstring."""
    dataset, run_dir = Path(dataset).resolve(), Path(run_dir)
    checkpoints = run_dir / "checkpoints"
    last = checkpoints / "last.ckpt"
    topology = topo.detect(config.devices)
    config = config.resolved(topology.accelerator)
    if topology.accelerator == "cpu":
        torch.set_flush_denormal(True)  # the first steps otherwise take a minute each
    L.seed_everything(config.seed, workers=True, verbose=False)
    info = DatasetInfo.read(dataset)

    if resume:
        run = read_run(run_dir)
        if not last.is_file():
            raise TrainingError(f"{last} is missing: nothing to resume (start without --resume)")
        model_config = ModelConfig.from_dict(run["model"])
        fresh = run.get("fresh", [])
        start = None
    else:
        if rank_zero_only.rank == 0 and (run_dir / RUN_FILE).exists():
            raise TrainingError(
                f"{run_dir} already holds a run: pass --resume to continue it or another --output"
            )
        table = embedding_table(info, read_manifest(dataset), config.style_by)
        start = _prepare_start(base, info, len(table) if len(table) > 1 else 1)
        model_config, fresh = start.model, list(start.missing)
        language = (start.piper_config or {}).get("language", {}).get("code")
        run = {
            "voice_id": voice_id,
            "dataset": str(dataset),
            "base": str(base or BUNDLED_VOICE_ID),
            "model": model_config.to_dict(),
            "train": config.to_dict(),
            "fresh": fresh,
            "dataset_info": {**info.__dict__, "speakers": table, "language": language},
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "status": "training",
            "step": 0,
        }
    if rank_zero_only.rank == 0:
        checkpoints.mkdir(parents=True, exist_ok=True)
    stage0 = start is not None and _wants_stage0(config, fresh)
    posterior = run.get("posterior_start") if resume else None
    config = dataclasses.replace(
        config, stage1_fraction=config.stage1_share(posterior_started=stage0 or bool(posterior))
    )
    run["train"] = config.to_dict()
    _write_run(run_dir, run)

    module = VitsTrainingModule(model_config.to_dict(), config.to_dict(), fresh=fresh)
    if start is not None:
        module.model_g.load_state_dict(start.generator, strict=False)
        if start.discriminator:
            module.model_d.load_state_dict(start.discriminator, strict=False)
    if stage0:
        posterior = _stage0(module, model_config, dataset, config, topology, start).to_dict()
        run["posterior_start"] = posterior
        _write_run(run_dir, run)
    max_time = None
    if config.max_minutes:  # stage 0's time is part of the budget
        spent = float((posterior or {}).get("seconds", 0.0))
        max_time = timedelta(seconds=max(config.max_minutes * 60 - spent, 1.0))
    data = VoiceDataModule(
        dataset,
        model_config,
        batch_size=config.batch_size,
        num_workers=config.num_workers,
        seed=config.seed,
        style_by=config.style_by,
    )
    loggers: list[Any] = [CSVLogger(run_dir, name="logs", version="")]
    if tensorboard:
        loggers.append(TensorBoardLogger(run_dir, name="logs", version=""))
    checkpointer = _Checkpoints(checkpoints, config.checkpoint_every)
    progress = _Progress(config.max_steps, log_every, run_dir)
    trainer = L.Trainer(
        max_steps=2 * config.max_steps,  # Lightning counts both optimisers' steps
        max_time=max_time,
        val_check_interval=config.validate_every,
        check_val_every_n_epoch=None,
        num_sanity_val_steps=0,
        limit_val_batches=8,
        precision=config.precision,
        callbacks=[checkpointer, progress, _TimePlan(config, progress, checkpoints)],
        logger=loggers,
        log_every_n_steps=max(1, min(log_every, 50)),
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=run_dir,
        **topo.trainer_kwargs(topology),
    )
    if trainer.is_global_zero:
        _LOGGER.info(
            "Run %s: %s, %d process(es), batch %d per process = effective batch %d, %s",
            run_dir, topology.launcher, topology.world_size, config.batch_size,
            config.batch_size * topology.world_size, config.precision,
        )  # fmt: skip
    started = time.monotonic()
    trainer.fit(module, datamodule=data, ckpt_path=str(last) if resume else None)
    seconds = time.monotonic() - started
    best = checkpoints / "best.ckpt"
    metrics = {
        k: float(v) for k, v in trainer.callback_metrics.items() if getattr(v, "numel", lambda: 1)() == 1
    }
    if trainer.is_global_zero:
        run.update(status="finished", step=module.step, seconds=round(seconds, 1), metrics=metrics)
        if progress.started is not None and progress.last_end is not None:
            run["train_seconds"] = round(progress.last_end - progress.started, 1)  # this launch's steps
        run["last_checkpoint_seconds"] = _round(checkpointer.save_seconds)
        run["plan"] = module.plan.to_dict()
        _write_run(run_dir, run)
    return RunResult(run_dir, module.step, last, best if best.exists() else None, seconds, metrics)
