"""``voicesmith train``: fine-tune a voice on a prepared dataset (launch recipes: training.topology)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

from voicesmith.engine.bundled import BUNDLED_VOICE_ID
from voicesmith.settings import FINE_TUNE_STEPS, Settings

DEFAULT_STEPS = FINE_TUNE_STEPS
TIMED_MAX_STEPS = 100_000
"""The step cap of a run given only --max-minutes: never reached in practice (11 h at 0.4 s a step)."""


@click.command()
@click.argument("dataset", type=click.Path(exists=True, file_okay=False, path_type=Path), required=False)
@click.option(
    "--job",
    "job_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Run a voice job (its job.json: fetch + check + prepare + train + export); what the "
    "training backends launch. No DATASET then.",
)
@click.option("--prepare-only", is_flag=True, help="With --job: stop after check + prepare.")
@click.option("--voice-id", default=None, help="Id of the voice being trained (names the run folder).")
@click.option(
    "--base",
    default=BUNDLED_VOICE_ID,
    show_default=True,
    help=f"{BUNDLED_VOICE_ID}, a Piper VOICE.onnx, or a CHECKPOINT.ckpt.",
)
@click.option(
    "--max-steps",
    type=click.IntRange(min=1),
    default=None,
    help=f"Batches to train for [default: {DEFAULT_STEPS}; with --max-minutes, as many as fit].",
)
@click.option(
    "--max-minutes",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Train for this many minutes: the stages and learning rates are planned on the measured step "
    "time so the schedule ends with the time (a checkpoint is kept).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=None,
    help="Utterances per batch per process [default: 4 on a CPU, 8 on a GPU].",
)
@click.option("--devices", type=int, default=1, show_default=True, help="Processes on this machine (DDP).")
@click.option(
    "--precision",
    type=click.Choice(["32", "bf16-mixed", "16-mixed"]),
    default=None,
    help="[default: 32 on CPU, bf16-mixed on GPU]",
)
@click.option("--learning-rate", type=float, default=None, help="Stage-2 voice LR [default: 8e-5].")
@click.option(
    "--frozen-steps",
    type=click.IntRange(min=0),
    default=None,
    help="Stage 1 length (inference path frozen) [default: 10% of the planned run from an .onnx base, "
    "after stage 0 has fitted the posterior encoder to the base's own speech; else 0].",
)
@click.option(
    "--consent",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A recording of the speaker consenting: training starts only if it is the dataset's speaker.",
)
@click.option("--checkpoint-every", type=int, default=None, help="Steps between checkpoints [default: 500].")
@click.option("--validate-every", type=int, default=None, help="Steps between validations [default: 500].")
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Run folder [default: DATA_DIR/runs/<voice-id>-<timestamp>].",
)
@click.option("--resume", is_flag=True, help="Continue the run in --output from its last checkpoint.")
@click.option("--tensorboard", is_flag=True, help="Also write TensorBoard logs.")
@click.option(
    "--style-by",
    type=click.Choice(["speaker", "emotion"]),
    default=None,
    help="One embedding per speaker, or per speaker and emotion (emotional datasets) [default: speaker].",
)
@click.option("--small-discriminator", is_flag=True, hidden=True, help="Tests and smoke runs only.")
def train(
    dataset: Path | None,
    job_file: Path | None,
    prepare_only: bool,
    voice_id: str | None,
    base: str,
    max_steps: int | None,
    max_minutes: float | None,
    batch_size: int | None,
    devices: int,
    precision: str | None,
    learning_rate: float | None,
    frozen_steps: int | None,
    checkpoint_every: int | None,
    validate_every: int | None,
    output: Path | None,
    resume: bool,
    tensorboard: bool,
    style_by: str | None,
    small_discriminator: bool,
    consent: Path | None,
) -> None:
    """Fine-tune a voice on DATASET (a folder written by `voicesmith dataset prepare`), or run a voice
    job with --job JOB.json."""
    logging.getLogger("voicesmith").setLevel(logging.INFO)
    if logging.getLogger().level > logging.INFO:
        for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
            logging.getLogger(name).setLevel(logging.WARNING)
    if job_file is not None:
        _run_job(job_file, prepare_only)
        return
    from voicesmith.errors import TrainingError
    from voicesmith.training.config import TrainConfig
    from voicesmith.training.topology import default_precision
    from voicesmith.training.train import default_run_dir, read_run, run_training

    if dataset is None or voice_id is None:
        raise click.UsageError("give DATASET and --voice-id (or --job JOB.json)")
    if resume and output is None:
        raise TrainingError("--resume needs --output RUN_DIR (the run to continue)")
    run_dir = output or default_run_dir(Settings().data_dir / "runs", voice_id)
    # Processes Lightning spawns for --devices N re-run this command: make them pick the same folder.
    os.environ.setdefault("VOICESMITH_RUN_STAMP", run_dir.name.removeprefix(f"{voice_id}-"))
    values = TrainConfig.from_dict(read_run(run_dir)["train"]).to_dict() if resume else {}
    overrides = {
        "max_steps": max_steps,
        "max_minutes": max_minutes,
        "batch_size": batch_size,
        "devices": devices,
        "precision": precision,
        "learning_rate": learning_rate,
        "frozen_steps": frozen_steps,
        "checkpoint_every": checkpoint_every,
        "validate_every": validate_every,
        "style_by": style_by,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    if not resume:
        # With a time budget and no step count the time decides (the plan follows the measured pace).
        values.setdefault("max_steps", TIMED_MAX_STEPS if max_minutes else DEFAULT_STEPS)
        values.setdefault("precision", default_precision())
        if small_discriminator:
            values["discriminator"] = "small"
    config = TrainConfig.from_dict(values)
    if consent is not None:
        _check_consent(consent, dataset)
    if int(os.environ.get("LOCAL_RANK", "0")) == 0 and int(os.environ.get("RANK", "0")) == 0:
        click.echo(f"run folder: {run_dir}", err=True)
    result = run_training(
        dataset, voice_id=voice_id, run_dir=run_dir, config=config, base=base, resume=resume,
        tensorboard=tensorboard,
    )  # fmt: skip
    if int(os.environ.get("LOCAL_RANK", "0")) == 0 and int(os.environ.get("RANK", "0")) == 0:
        click.echo(f"trained {result.step} steps in {result.seconds:.0f} s; checkpoints in {result.run_dir}")


def _check_consent(consent: Path, dataset: Path) -> None:
    """Refuse to train unless the consent recording's speaker is the prepared dataset's speaker."""
    from voicesmith.training.data import read_manifest
    from voicesmith.training.speaker import check_consent

    clips = [dataset / record["audio"] for record in read_manifest(dataset)]
    similarity = check_consent(consent, clips, Settings().consent_similarity_threshold)
    click.echo(f"consent recording: speaker similarity {similarity:.2f} to the dataset", err=True)


def _run_job(job_file: Path, prepare_only: bool) -> None:
    """A voice job on a training host; its outcome goes to the job's status.json (exit 1 on failure)."""
    from voicesmith.errors import VoicesmithError
    from voicesmith.tasks.voice_jobs import ALREADY_RUNNING
    from voicesmith.training.pipeline import JobAlreadyRunningError, run_job

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    threads = int(os.environ.get("VOICESMITH_TORCH_THREADS", "0") or 0)
    if threads:
        import torch

        torch.set_num_threads(threads)
    try:
        result = run_job(job_file, prepare_only=prepare_only)
    except JobAlreadyRunningError as error:  # leaves the job's status to the process that trains it
        click.echo(f"voice job not started: {error.message}", err=True)
        raise SystemExit(ALREADY_RUNNING) from None
    except VoicesmithError as error:
        click.echo(f"voice job failed: {error.message}", err=True)
        raise SystemExit(1) from None
    click.echo(f"voice job done: {result}", err=True)
