"""The custom-voice job contract: what a job is, where its files live, how it is watched and cancelled.

A voice job is a :class:`~voicesmith.tasks.store.VoiceJobRow` plus a folder of its own
(``DATA_DIR/voice_jobs/<voice id>``, on storage the training hosts share for SLURM). The voice-job worker
(:class:`VoiceJobWatcher`, run by a :class:`~voicesmith.tasks.runner.TaskRunner` for the voice-job kind)
never trains: it writes the job's spec (``job.json``), hands it to the configured training backend,
records the backend's job id in the row, and watches the backend until the voice is exported; then it
installs the voice through the serving catalog. A watcher that dies (server restart, node lost) leaves
the row ``training`` with a lapsing lease; the next worker to claim it finds the recorded backend id and
re-attaches instead of submitting again, so one job never trains twice at once.

Files in a job folder::

    job.json           the spec ``voicesmith train --job`` runs (voice, dataset, training settings)
    recordings/        uploads; consent.* beside them when one was given
    train.log          the training command's output (local and SLURM backends)
    status.json        written by the training command: stage, and at the end state + reason + export
    check.json         the dataset check's report
    studio/run/progress.json   the trainer's step, total, ETA and last validation numbers
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from voicesmith.engine.catalog import VoiceCatalog, validate_voice_id
from voicesmith.errors import TrainingError, VoicesmithError
from voicesmith.settings import Settings
from voicesmith.tasks.runner import JobDetachedError
from voicesmith.tasks.store import Store, VoiceJobRow

_LOGGER = logging.getLogger(__name__)

JOB_FILE = "job.json"
STATUS_FILE = "status.json"
CHECK_FILE = "check.json"
LOG_FILE = "train.log"
PROGRESS_FILE = "progress.json"
"""Written by the trainer in its run folder (``training.train``); read here."""
BACKEND_KEY = "backend"
"""Where a job's backend handle is kept in the row's ``dataset`` JSON (no column of its own)."""

BackendState = Literal["pending", "running", "succeeded", "failed", "cancelled", "lost"]
MAX_POLL_FAILURES = 20
"""Consecutive failed polls (backend unreachable) before a job counts as failed."""
MAX_SUBMISSIONS = 3
"""A backend job that vanished (node lost, process killed) is submitted again at most this often."""


@dataclass(frozen=True)
class VoiceJob:
    """What a backend is given: the voice to make and where its data is."""

    voice_id: str
    name: str
    language: str
    gender: str | None
    dataset: dict[str, Any]
    """``{"location": path or URL}`` or ``{"folder": ..., "recordings": [...], "transcript": ...}``;
    ``"consent"``: the consent recording's file name in ``folder/recordings`` when one was given."""
    folder: Path
    """The job's own folder (uploads, log, status, work files)."""
    attempts: int = 1
    settings: Settings | None = field(default=None, compare=False)

    @classmethod
    def from_row(cls, row: VoiceJobRow, settings: Settings) -> VoiceJob:
        dataset = {k: v for k, v in dict(row.dataset).items() if k != BACKEND_KEY}
        return cls(
            voice_id=row.id,
            name=row.name,
            language=row.language,
            gender=row.gender,
            dataset=dataset,
            folder=job_folder(settings, row.id),
            attempts=row.attempts,
            settings=settings,
        )

    @property
    def run_dir(self) -> Path:
        return self.folder / "studio" / "run"

    def spec(self) -> dict[str, Any]:
        """``job.json``: everything ``voicesmith train --job`` needs, no secrets."""
        settings = self.settings or Settings()
        return {
            "voice_id": self.voice_id,
            "name": self.name,
            "language": self.language,
            "gender": self.gender,
            "dataset": self.dataset,
            "folder": str(self.folder),
            "studio": {
                "max_steps": settings.voice_training_steps,
                "batch_size": settings.voice_training_batch_size,
                "base": settings.voice_training_base,
            },
        }

    def write_spec(self) -> Path:
        path = self.folder / JOB_FILE
        write_json(path, self.spec())
        return path


@dataclass(frozen=True)
class BackendStatus:
    """What a backend says about one of its jobs."""

    state: BackendState
    reason: str | None = None
    detail: str | None = None
    """The backend's own word for it (``PENDING (Resources)``, ``Training``), shown in GetVoice."""


class TrainingBackend(Protocol):
    """Where voice jobs train (implementations: ``voicesmith.training.backends``)."""

    name: str

    def submit(self, job: VoiceJob) -> dict[str, Any]:
        """Start training ``job``; returns the handle to find it again (JSON-able, with an ``id``)."""

    def poll(self, job: VoiceJob, handle: dict[str, Any]) -> BackendStatus:
        """How the job is going; also brings its progress into the job folder where it lives elsewhere."""

    def cancel(self, job: VoiceJob, handle: dict[str, Any]) -> None:
        """Stop the job (idempotent: a finished or unknown job is fine)."""

    def result(self, job: VoiceJob, handle: dict[str, Any]) -> Path:
        """The exported voice folder of a succeeded job, on this machine."""

    def log(self, job: VoiceJob, handle: dict[str, Any]) -> str:
        """The last lines of the job's log (empty if there is none yet)."""


def job_folder(settings: Settings, voice_id: str) -> Path:
    return settings.data_dir / "voice_jobs" / validate_voice_id(voice_id)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Whole-or-nothing: readers on other processes never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(partial, path)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def tail(path: Path, max_bytes: int = 4000) -> str:
    """The end of a log file, decoded leniently (empty if it does not exist)."""
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - max_bytes))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def progress(job_dir: Path, handle: dict[str, Any] | None = None) -> dict[str, Any]:
    """GetVoice's vendor field: stage, step of total, minutes left, last validation numbers, backend."""
    status = read_json(job_dir / STATUS_FILE) or {}
    trainer = read_json(job_dir / "studio" / "run" / PROGRESS_FILE) or {}
    out: dict[str, Any] = {}
    if status.get("stage"):
        out["Stage"] = status["stage"]
    if trainer:
        out["Step"] = int(trainer.get("step", 0))
        out["TotalSteps"] = int(trainer.get("total", 0))
        if trainer.get("eta_s") is not None:
            out["MinutesLeft"] = round(float(trainer["eta_s"]) / 60, 1)
        if trainer.get("validation"):
            out["Validation"] = trainer["validation"]
        if trainer.get("losses"):
            out["Losses"] = trainer["losses"]
    check = read_json(job_dir / CHECK_FILE)
    if check is not None:  # training.check's report: dataset-level findings, then each clip's
        findings = list(check.get("findings", []))
        for clip in check.get("clips", []):
            findings += [{**finding, "clip": clip.get("id")} for finding in clip.get("findings", [])]
        findings = [f for f in findings if f.get("severity") in ("error", "warning")]
        summary = check.get("summary") or {}
        out["DatasetCheck"] = {
            "Ok": bool(check.get("ok")),
            "Findings": findings[:50],
            **{k: summary[k] for k in ("clips", "usable_clips", "usable_duration_s") if k in summary},
        }
    if handle:
        out["Backend"] = handle.get("backend")
        out["BackendJobId"] = str(handle.get("id"))
        if handle.get("detail"):
            out["BackendState"] = handle["detail"]
    return out


LOCK_FILE = ".train.lock"
ALREADY_RUNNING = 75
"""Exit status of a training command that found its job already training elsewhere (EX_TEMPFAIL)."""


@contextmanager
def training_lock(folder: Path) -> Iterator[bool]:
    """Hold the job folder's training lock while the block runs: True if it was free. The lock is an
    ``flock`` on a file in the job folder (shared storage for SLURM), so two training processes of one
    job never run at once, even if a job was submitted twice."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / LOCK_FILE).open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def is_training(folder: Path) -> bool:
    """Does some process hold the job's training lock right now?"""
    if not (folder / LOCK_FILE).exists():
        return False
    with training_lock(folder) as free:
        return not free


def upload_bytes(settings: Settings) -> int:
    """Bytes of uploads held by voice-job folders (not the training's work files): what the upload
    quota counts."""
    root = settings.data_dir / "voice_jobs"
    total = 0
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = [name for name in dirs if name != "studio"]
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


class JobCancelledError(VoicesmithError):
    """The voice job was deleted while it trained; the backend job was cancelled."""


class VoiceJobWatcher:
    """The voice-job worker's handler: submit (or re-attach), watch, install. Never trains itself."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        catalog: VoiceCatalog,
        backend: TrainingBackend,
        *,
        poll_seconds: float | None = None,
        stopping: threading.Event | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.catalog = catalog
        self.backend = backend
        self.poll_seconds = poll_seconds or settings.training_poll_seconds
        self.stopping = stopping or threading.Event()
        """Set when the worker stops: the watcher detaches, leaving the backend job running."""

    def __call__(self, row: VoiceJobRow) -> None:
        job = VoiceJob.from_row(row, self.settings)
        job.folder.mkdir(parents=True, exist_ok=True)
        try:
            self._watch(row, job)
        except (JobDetachedError, JobCancelledError):
            raise
        except Exception:
            # A failed job keeps its log, status and check report for GetVoice, not its uploads.
            cleanup_job_files(job.folder, keep_logs=True)
            raise

    def _watch(self, row: VoiceJobRow, job: VoiceJob) -> None:
        handle = row.dataset.get(BACKEND_KEY)
        if handle and handle.get("backend") == self.backend.name:
            _LOGGER.info("voice job %s: re-attaching to %s job %s", row.id, handle["backend"], handle["id"])
        else:
            handle = self._submit(row, job, submissions=0)
        failures = 0
        while True:
            current = self.store.get_voice_job(row.id)
            if current is None or current.claim != row.claim:
                _LOGGER.info("voice job %s was deleted or taken over: cancelling its backend job", row.id)
                if current is None:
                    self.backend.cancel(job, handle)
                raise JobCancelledError(f"voice job {row.id} was cancelled")
            try:
                status = self.backend.poll(job, handle)
                failures = 0
            except VoicesmithError:
                raise
            except Exception:  # a network blip, squeue timing out: the job itself may be fine
                failures += 1
                if failures >= MAX_POLL_FAILURES:
                    raise
                _LOGGER.warning("voice job %s: asking %s failed (%d in a row)", row.id, self.backend.name,
                                failures, exc_info=True)  # fmt: skip
                if self.stopping.wait(self.poll_seconds):
                    raise JobDetachedError(f"voice job {row.id}: the worker is stopping") from None
                continue
            if status.detail != handle.get("detail"):
                handle = {**handle, "detail": status.detail}
                self.store.set_voice_job_backend(row.id, row.claim, handle)
            if status.state == "succeeded":
                self._install(job, handle)
                return
            if status.state in ("failed", "cancelled"):
                reason = status.reason or f"the {self.backend.name} job {status.state}"
                raise TrainingError(reason)
            if status.state == "lost":
                submissions = int(handle.get("submissions", 1))
                if submissions >= MAX_SUBMISSIONS:
                    raise TrainingError(
                        f"the {self.backend.name} job vanished {submissions} times ({status.reason}); "
                        "see the training log"
                    )
                _LOGGER.warning("voice job %s: backend job lost (%s); submitting again", row.id,
                                status.reason)  # fmt: skip
                handle = self._submit(row, job, submissions=submissions)
                continue
            if self.stopping.wait(self.poll_seconds):
                raise JobDetachedError(f"voice job {row.id}: the worker is stopping")

    def _submit(self, row: VoiceJobRow, job: VoiceJob, submissions: int) -> dict[str, Any]:
        job.write_spec()
        (job.folder / STATUS_FILE).unlink(missing_ok=True)
        handle = {**self.backend.submit(job), "backend": self.backend.name, "submissions": submissions + 1}
        if not self.store.set_voice_job_backend(row.id, row.claim, handle):
            self.backend.cancel(job, handle)  # deleted (or taken over) while submitting
            raise JobCancelledError(f"voice job {row.id} was cancelled")
        _LOGGER.info("voice job %s: submitted to %s as %s", row.id, self.backend.name, handle["id"])
        return handle

    def _install(self, job: VoiceJob, handle: dict[str, Any]) -> None:
        """Through the catalog, replacing an older voice of that id (its loaded model is dropped)."""
        folder = self.backend.result(job, handle)
        meta = read_json(folder / "voice.json") or {}
        if meta.get("id") != job.voice_id:
            raise TrainingError(
                f"the {self.backend.name} job exported {meta.get('id')!r}, not {job.voice_id!r}"
            )
        self.catalog.register_exported(folder, replace=True)
        cleanup_job_files(job.folder, keep_logs=True)
        _LOGGER.info("voice job %s: installed", job.voice_id)


def cleanup_job_files(folder: Path, *, keep_logs: bool) -> None:
    """Free a finished or failed job's disk: uploads and work files; the log and status stay if asked."""
    if not keep_logs:
        shutil.rmtree(folder, ignore_errors=True)
        return
    keep = {LOG_FILE, STATUS_FILE, CHECK_FILE, JOB_FILE, LOCK_FILE}
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.name in keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def cancel_voice_job(store: Store, settings: Settings, backend: TrainingBackend, row: VoiceJobRow) -> None:
    """DeleteVoice of a job: cancel its backend job (if any), forget the row, delete its files.

    The row goes first so that a watcher (here or on another node) sees the job gone and stops; the
    backend's cancel is idempotent, so both this and the watcher may call it.
    """
    handle = row.dataset.get(BACKEND_KEY)
    store.delete_voice_job(row.id)
    job = VoiceJob.from_row(row, settings)
    if handle:
        try:
            backend.cancel(job, handle)
        except Exception:  # the row is gone: the watcher cancels again when it notices
            _LOGGER.exception("voice job %s: cancelling %s job %s failed", row.id, backend.name, handle["id"])
    cleanup_job_files(job.folder, keep_logs=False)
