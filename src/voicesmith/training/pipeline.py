"""The voice studio as one job: recordings -> checked dataset -> prepared -> fine-tuned -> installed voice.

This is what runs behind ``POST /v1/voices`` (the server injects :func:`run_voice_job` as its voice-job
runner when the ``[train]`` extra is installed). Every step is resumable, so a job that was running
when the server died continues where it stopped when the job is run again: prepare skips prepared
clips, training resumes from its last checkpoint.
"""

from __future__ import annotations

import csv
import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import soundfile

from voicesmith.engine.catalog import VoiceCatalog
from voicesmith.errors import DatasetError
from voicesmith.settings import Settings

_LOGGER = logging.getLogger(__name__)

_TRANSCRIPT_LINE = re.compile(r"^\s*([^|\t,]+?)\s*[|\t,]\s*(.+?)\s*$")


@dataclass(frozen=True)
class StudioSettings:
    """How a voice job trains (the CLI's defaults: ``voicesmith train``)."""

    max_steps: int = 2000
    batch_size: int = 8
    base: str = "joe"


def _fetch_location(location: str, work: Path) -> Path:
    """A dataset folder on this machine, or an ``s3://`` prefix copied here (fsspec, ``[s3]`` extra)."""
    if not location.startswith("s3://"):
        return Path(location)
    import fsspec

    target = work / "download"
    if not target.exists():
        fs, path = fsspec.core.url_to_fs(location)
        fs.get(path.rstrip("/") + "/", str(target), recursive=True)
    return target


def _key(name: str) -> str:
    """Uploaded file names are made safe on arrival ("evil name.wav" -> "evil_name.wav"): match the
    transcript's names the same loose way."""
    return re.sub(r"\W+", "_", Path(name.strip()).stem).lower()


def _dataset_from_uploads(folder: Path, recordings: list[str], transcript: str | None, work: Path) -> Path:
    """Uploaded recordings + a transcript (``name|text``, ``name<TAB>text`` or ``name,text`` lines, the
    name with or without its extension) -> an LJSpeech-layout folder the dataset readers know."""
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


def make_voice(
    source: Path,
    *,
    voice_id: str,
    work: Path,
    settings: Settings,
    name: str | None = None,
    gender: str | None = None,
    studio: StudioSettings = StudioSettings(),
    dataset: dict | None = None,
) -> None:
    """check -> prepare -> train -> export -> install, resuming whatever an earlier attempt left.

    ``dataset`` is the job's dataset dict: its ``"consent"`` names a consent recording (in the job's
    folder, or its ``recordings/``) that must be the speaker of the recordings (ConsentMismatchError).
    """
    if dataset and dataset.get("consent"):  # no one's voice is cloned from recordings of someone else
        from voicesmith.training.speaker import check_dataset_consent

        folder = Path(dataset.get("folder") or ".")
        consent = folder / "recordings" / dataset["consent"]
        consent = consent if consent.is_file() else folder / dataset["consent"]
        check_dataset_consent(consent, source, settings.consent_similarity_threshold)
    from voicesmith.training.check import check_dataset
    from voicesmith.training.config import TrainConfig
    from voicesmith.training.export import export_run
    from voicesmith.training.prepare import prepare_dataset
    from voicesmith.training.topology import default_precision
    from voicesmith.training.train import run_training

    report = check_dataset(source, voice=studio.base)
    if not report.ok:
        problems = "; ".join(f.message for f in report.all_findings() if f.severity == "error")[:900]
        raise DatasetError(f"the recordings cannot train a voice: {problems}")
    prepared = work / "prepared"
    prepare_dataset(source, prepared, voice=studio.base)
    run_dir = work / "run"
    resume = (run_dir / "checkpoints" / "last.ckpt").is_file()
    config = TrainConfig(
        max_steps=studio.max_steps,
        batch_size=studio.batch_size,
        precision=default_precision(),
    )
    run_training(prepared, voice_id=voice_id, run_dir=run_dir, config=config, base=studio.base, resume=resume)
    catalog = VoiceCatalog(settings)
    export_run(
        run_dir,
        voice_id=voice_id,
        output=work / "export",
        name=name,
        gender=gender,
        register=lambda folder: catalog.register_exported(folder, replace=True),
    )


def voice_job_runner(studio: StudioSettings = StudioSettings()):
    """The server's voice-job runner: ``runner(job)`` makes and installs ``job.voice_id``."""

    def run_voice_job(job) -> None:
        settings = job.settings or Settings()
        work = Path(job.folder) / "studio"
        work.mkdir(parents=True, exist_ok=True)
        dataset = job.dataset
        if "location" in dataset:
            source = _fetch_location(str(dataset["location"]), work)
        elif dataset.get("recordings"):
            source = _dataset_from_uploads(
                Path(dataset["folder"]), list(dataset["recordings"]), dataset.get("transcript"), work
            )
        else:
            raise DatasetError("the job has no recordings")
        try:
            make_voice(
                source,
                voice_id=job.voice_id,
                work=work,
                settings=settings,
                name=job.name,
                gender=(job.gender or "").lower() or None,
                studio=studio,
                dataset=dataset,
            )
        finally:
            shutil.rmtree(work / "download", ignore_errors=True)

    return run_voice_job
