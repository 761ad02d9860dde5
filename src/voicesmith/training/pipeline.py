"""The voice studio as one job: recordings -> checked dataset -> prepared -> fine-tuned -> installed voice.

This is what runs behind ``POST /v1/voices``, on the training host the configured backend chose
(``voicesmith train --job JOB.json`` -> :func:`run_job`; never in the API process). Every step is
resumable, so a job that was running when its host died continues where it stopped when the job is run
again: prepare skips prepared clips, training resumes from its last checkpoint.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import soundfile

from voicesmith.engine.bundled import BUNDLED_VOICE_ID
from voicesmith.engine.catalog import VoiceCatalog
from voicesmith.errors import DatasetError, TrainingError, VoicesmithError
from voicesmith.settings import FINE_TUNE_BATCH_SIZE, FINE_TUNE_STEPS, Settings
from voicesmith.tasks.voice_jobs import CHECK_FILE, STATUS_FILE, training_lock, write_json

_LOGGER = logging.getLogger(__name__)

MIN_CHECKPOINT_STEPS = 50
"""A voice job checkpoints and validates at most this often: writing joe's checkpoint (~800 MB) takes
longer than tens of CPU steps, so a short job keeps only the final one."""

_TRANSCRIPT_LINE = re.compile(r"^\s*([^|\t,]+?)\s*[|\t,]\s*(.+?)\s*$")


@dataclass(frozen=True)
class StudioSettings:
    """How a voice job trains (by default as the settings' ``voice_training_*`` and ``voicesmith train``)."""

    max_steps: int = FINE_TUNE_STEPS
    batch_size: int = FINE_TUNE_BATCH_SIZE
    base: str = BUNDLED_VOICE_ID
    discriminator: Literal["mpd", "small"] = "mpd"
    """``small`` for tests and smoke runs only."""


def _key(name: str) -> str:
    """Uploaded file names are made safe on arrival ("evil name.wav" -> "evil_name.wav"): match the
    transcript's names the same loose way."""
    return re.sub(r"\W+", "_", Path(name.strip()).stem).lower()


AUTO_TRANSCRIPT = "transcript.auto.txt"


def transcribe_recordings(folder: Path, recordings: list[str], language: str | None) -> str:
    """Recordings that came without a transcript (Polly's CreateVoice has none): Whisper tiny.en writes
    one (``transcript.auto.txt`` in the job folder, where the customer can read and correct it).
    English only; needs the ``[eval]`` extra on the training host."""
    if language is not None and not language.lower().startswith("en"):
        raise DatasetError(
            f"the recordings came without a transcript, and only English ones are transcribed here "
            f"({language}): upload 'transcript' with one 'file|text' line each"
        )
    target = folder / AUTO_TRANSCRIPT
    if target.is_file():
        return target.name
    from voicesmith.training.asr import Transcriber

    transcriber = Transcriber()
    lines = []
    for name in recordings:
        try:
            audio, rate = soundfile.read(folder / "recordings" / name, dtype="float32", always_2d=True)
        except (RuntimeError, soundfile.LibsndfileError) as error:
            raise DatasetError(f"cannot read the audio ({error})", path=name) from error
        text = transcriber.transcribe(audio.mean(axis=1), rate).replace("|", " ").strip()
        if text:
            lines.append(f"{name}|{text}\n")
        _LOGGER.info("transcribed %s: %s", name, text)
    if not lines:
        raise DatasetError("the recordings came without a transcript and no speech was heard in them")
    write_text = target.with_name(f".{target.name}.partial")
    write_text.write_text("".join(lines), encoding="utf-8")
    os.replace(write_text, target)
    return target.name


def _dataset_from_uploads(folder: Path, recordings: list[str], transcript: str | None, work: Path) -> Path:
    """Uploaded recordings + a transcript (``name|text``, ``name<TAB>text`` or ``name,text`` lines, the
    name with or without its extension) -> an LJSpeech-layout folder the dataset readers know.
    A machine transcript (:func:`transcribe_recordings`) leaves out recordings where it heard nothing."""
    if not transcript:
        raise DatasetError(
            "the recordings came without a transcript: upload 'transcript' with one 'file|text' line each"
        )
    texts: dict[str, str] = {}
    lines = (folder / transcript).read_text(encoding="utf-8-sig").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        match = _TRANSCRIPT_LINE.match(line)
        if match is None:
            raise DatasetError(f"{transcript}:{number}: expected 'file|text', got {line[:80]!r}")
        texts[_key(match[1])] = match[2]
    root = work / "dataset"
    (root / "wavs").mkdir(parents=True, exist_ok=True)
    rows = []
    for name in recordings:
        stem = Path(name).stem
        if _key(name) not in texts:
            if transcript == AUTO_TRANSCRIPT:
                continue
            raise DatasetError(f"{name}: no line for it in {transcript}")
        target = root / "wavs" / f"{stem}.wav"
        if not target.exists():
            try:
                audio, rate = soundfile.read(folder / "recordings" / name, dtype="float32")
            except (RuntimeError, soundfile.LibsndfileError) as error:
                raise DatasetError(f"{name}: cannot read the audio ({error})") from error
            soundfile.write(target, audio, rate, subtype="PCM_16")
        rows.append((stem, texts[_key(name)]))
    with (root / "metadata.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, delimiter="|", quoting=csv.QUOTE_NONE, escapechar="\\").writerows(rows)
    return root


def _s3_options(settings: Settings | None) -> dict[str, Any]:
    """fsspec/s3fs options from the settings: credentials (else boto's chain), region, endpoint."""
    options: dict[str, Any] = {}
    if settings is not None:
        if settings.aws_access_key_id:
            options.update(key=settings.aws_access_key_id, secret=settings.aws_secret_access_key)
        client: dict[str, Any] = {"region_name": settings.aws_region}
        if settings.s3_endpoint_url:
            client["endpoint_url"] = settings.s3_endpoint_url
        options["client_kwargs"] = client
    return options


def _fetch_recordings(
    urls: list[str], folder: Path, taken: list[str], settings: Settings | None
) -> list[str]:
    """CreateVoice's ``Recordings[].Data.S3Url`` objects copied into the job's recordings folder, under
    their own file names (the transcript names them so) unless an upload already has that name."""
    import fsspec

    names: list[str] = []
    (folder / "recordings").mkdir(parents=True, exist_ok=True)
    for index, url in enumerate(urls):
        name = (
            re.sub(r"[^A-Za-z0-9._-]+", "_", url.rsplit("/", 1)[-1]).lstrip("._")[:100] or f"s3-{index:03d}"
        )
        if name in taken or name in names:
            name = f"s3-{index:03d}-{name}"
        target = folder / "recordings" / name
        if not target.exists():
            fs, path = fsspec.core.url_to_fs(url, **_s3_options(settings))
            try:
                fs.get(path, f"{target}.partial")
            except (OSError, ValueError) as error:
                raise DatasetError(f"cannot read the recording ({error})", path=url) from error
            os.replace(f"{target}.partial", target)
        names.append(name)
    return names


def _fetch_location(location: str, work: Path, settings: Settings | None = None) -> Path:
    """A dataset folder on this machine, or an ``s3://`` prefix copied here (fsspec, ``[s3]`` extra) with
    the credentials and endpoint of ``settings``."""
    if not location.startswith("s3://"):
        return Path(location)
    import fsspec

    target = work / "download"
    if not target.exists():
        fs, path = fsspec.core.url_to_fs(location, **_s3_options(settings))
        partial = work / "download.partial"
        shutil.rmtree(partial, ignore_errors=True)
        fs.get(path.rstrip("/") + "/", str(partial), recursive=True)
        partial.rename(target)
    return target


def is_prepared(folder: Path) -> bool:
    """A folder ``voicesmith dataset prepare`` wrote (it trains as is, without check and prepare)."""
    return (folder / "dataset.json").is_file() and (folder / "manifest.jsonl").is_file()


def materialise(
    dataset: dict[str, Any], work: Path, settings: Settings | None = None, language: str | None = None
) -> Path:
    """The job's dataset dict -> a dataset folder on this machine (downloaded or built from uploads)."""
    if "location" in dataset:
        return _fetch_location(str(dataset["location"]), work, settings)
    if dataset.get("recordings") or dataset.get("urls"):
        recordings = [name for name in dataset.get("recordings", []) if name != dataset.get("consent")]
        if dataset.get("urls"):
            folder = Path(dataset["folder"])
            recordings += _fetch_recordings(list(dataset["urls"]), folder, recordings, settings)
        folder = Path(dataset["folder"])
        transcript = dataset.get("transcript") or transcribe_recordings(folder, recordings, language)
        return _dataset_from_uploads(folder, recordings, transcript, work)
    raise DatasetError("the job has no recordings")


def prepare_voice_dataset(
    source: Path,
    *,
    work: Path,
    studio: StudioSettings = StudioSettings(),
    report_to: Path | None = None,
) -> Path:
    """check -> prepare (skipped for an already prepared folder); the check's report goes to
    ``report_to`` (JSON) so GetVoice and the console can show its findings."""
    from voicesmith.training.check import check_dataset
    from voicesmith.training.prepare import prepare_dataset

    if is_prepared(source):
        return source
    report = check_dataset(source, voice=studio.base)
    if report_to is not None:
        write_json(report_to, report.to_dict())
    if not report.ok:
        problems = "; ".join(f.message for f in report.all_findings() if f.severity == "error")[:900]
        raise DatasetError(f"the recordings cannot train a voice: {problems}")
    prepared = work / "prepared"
    prepare_dataset(source, prepared, voice=studio.base)
    return prepared


def make_voice(
    source: Path,
    *,
    voice_id: str,
    work: Path,
    settings: Settings,
    name: str | None = None,
    gender: str | None = None,
    studio: StudioSettings = StudioSettings(),
    dataset: dict[str, Any] | None = None,
    install: bool = True,
    on_stage: Callable[[str], None] | None = None,
    report_to: Path | None = None,
) -> Path:
    """check -> prepare -> train -> export (-> install), resuming whatever an earlier attempt left.

    ``dataset`` is the job's dataset dict (``"consent"`` names the consent recording in its
    ``"folder"``/recordings when one was given: it must be the speaker of the recordings, else
    ConsentMismatchError before anything else runs). Without ``install`` the voice is only exported (a
    training host: the voice-job worker installs it through the serving catalog). Returns the export.
    """
    if dataset and dataset.get("consent"):  # no one's voice is cloned from recordings of someone else
        from voicesmith.training.speaker import check_dataset_consent

        folder = Path(dataset.get("folder") or ".")
        consent = folder / "recordings" / dataset["consent"]
        consent = consent if consent.is_file() else folder / dataset["consent"]
        check_dataset_consent(consent, source, settings.consent_similarity_threshold)
    from voicesmith.training.config import TrainConfig
    from voicesmith.training.export import export_run
    from voicesmith.training.topology import default_precision
    from voicesmith.training.train import run_training

    stage = on_stage or (lambda _name: None)
    stage("checking")
    prepared = prepare_voice_dataset(source, work=work, studio=studio, report_to=report_to)
    stage("training")
    run_dir = work / "run"
    resume = (run_dir / "checkpoints" / "last.ckpt").is_file()
    config = TrainConfig(
        max_steps=studio.max_steps,
        batch_size=studio.batch_size,
        precision=default_precision(),
        discriminator=studio.discriminator,
        checkpoint_every=min(500, max(studio.max_steps // 4, MIN_CHECKPOINT_STEPS)),
        validate_every=min(500, max(studio.max_steps // 2, MIN_CHECKPOINT_STEPS)),
    )
    run_training(prepared, voice_id=voice_id, run_dir=run_dir, config=config, base=studio.base, resume=resume)
    stage("exporting")
    register = None
    if install:
        catalog = VoiceCatalog(settings)
        register = lambda folder: catalog.register_exported(folder, replace=True)  # noqa: E731
    output = work / "export"
    shutil.rmtree(output, ignore_errors=True)
    export_run(run_dir, voice_id=voice_id, output=output, name=name, gender=gender, register=register)
    return output


def run_job(job_file: Path, *, prepare_only: bool = False, settings: Settings | None = None) -> Path:
    """What ``voicesmith train --job JOB.json`` runs on a training host (local subprocess, SLURM job).

    Writes the job folder's ``status.json`` as it goes (stage; at the end ``succeeded`` with the
    export folder, or ``failed`` with the reason), which the backend's watcher reads. Returns the
    export (or, with ``prepare_only``, the prepared dataset: SageMaker uploads that).
    """
    spec = json.loads(Path(job_file).read_text(encoding="utf-8"))
    folder = Path(spec["folder"])
    with training_lock(folder) as free:
        if not free:
            raise JobAlreadyRunningError(
                f"voice job {spec['voice_id']} is already training in another process"
            )
        return _run_job(spec, folder, prepare_only=prepare_only, settings=settings)


class JobAlreadyRunningError(TrainingError):
    """Another training process holds this job's lock (the job was submitted twice): this one leaves."""


def _run_job(spec: dict[str, Any], folder: Path, *, prepare_only: bool, settings: Settings | None) -> Path:
    settings = settings or Settings()
    work = folder / "studio"
    work.mkdir(parents=True, exist_ok=True)
    status_file = folder / STATUS_FILE

    def stage(name: str) -> None:
        write_json(status_file, {"stage": name})
        _LOGGER.info("voice job %s: %s", spec["voice_id"], name)

    studio_values = dict(spec.get("studio") or {})
    if os.environ.get("VOICESMITH_SMALL_DISCRIMINATOR"):  # tests and smoke runs only
        studio_values["discriminator"] = "small"
    known = StudioSettings.__dataclass_fields__
    studio = StudioSettings(**{k: v for k, v in studio_values.items() if k in known})
    try:
        stage("fetching")
        source = materialise(spec["dataset"], work, settings, spec.get("language"))
        if prepare_only:
            stage("checking")
            prepared = prepare_voice_dataset(source, work=work, studio=studio, report_to=folder / CHECK_FILE)
            write_json(status_file, {"stage": "prepared", "prepared": str(prepared)})
            return prepared
        gender = (spec.get("gender") or "").lower() or None
        export = make_voice(
            source,
            voice_id=spec["voice_id"],
            work=work,
            settings=settings,
            name=spec.get("name"),
            gender=gender,
            studio=studio,
            dataset=spec["dataset"],
            install=False,
            on_stage=stage,
            report_to=folder / CHECK_FILE,
        )
    except VoicesmithError as error:
        write_json(status_file, {"state": "failed", "stage": "failed", "reason": error.message})
        raise
    except Exception as error:
        reason = f"internal error in training: {type(error).__name__}: {error}"
        write_json(status_file, {"state": "failed", "stage": "failed", "reason": reason[:2000]})
        raise
    finally:
        shutil.rmtree(work / "download", ignore_errors=True)
    write_json(status_file, {"state": "succeeded", "stage": "done", "export": str(export)})
    return export


def voice_job_runner(studio: StudioSettings = StudioSettings()):
    """In-process runner (``create_app(voice_job_runner=...)`` in tests and embedders): ``runner(job)``
    makes and installs ``job.voice_id``. The server itself trains through a backend instead."""

    def run_voice_job(job) -> None:
        settings = job.settings or Settings()
        work = Path(job.folder) / "studio"
        work.mkdir(parents=True, exist_ok=True)
        try:
            source = materialise(job.dataset, work, settings, job.language)
            make_voice(
                source,
                voice_id=job.voice_id,
                work=work,
                settings=settings,
                name=job.name,
                gender=(job.gender or "").lower() or None,
                studio=studio,
                dataset=job.dataset,
            )
        finally:
            shutil.rmtree(work / "download", ignore_errors=True)

    return run_voice_job
