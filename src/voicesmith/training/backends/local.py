"""The ``local`` backend: each voice job in its own ``voicesmith train --job`` process on this machine.

The process runs in a session of its own (it outlives a server restart, and cancelling kills its whole
group, data-loader workers included), at ``training_nice`` niceness, with ``training_threads`` CPU
threads and ``CUDA_VISIBLE_DEVICES=training_gpus``; its output goes to the job's ``train.log``. Its
outcome is the job folder's ``status.json``, written by the training command; a process that is gone
without one was killed (it is submitted again, and resumes from its last checkpoint).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from voicesmith.errors import TrainingError
from voicesmith.settings import Settings
from voicesmith.tasks.voice_jobs import (
    JOB_FILE,
    LOG_FILE,
    STATUS_FILE,
    BackendStatus,
    VoiceJob,
    is_training,
    read_json,
    tail,
)

_LOGGER = logging.getLogger(__name__)

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")
STALE_SECONDS = 900.0
"""A job started on another host counts as alive while its log or status changed this recently."""


def final_status(job: VoiceJob) -> BackendStatus | None:
    """The outcome the training command wrote, if it finished (shared with the SLURM backend)."""
    status = read_json(job.folder / STATUS_FILE) or {}
    if status.get("state") == "succeeded":
        return BackendStatus("succeeded", detail="done")
    if status.get("state") == "failed":
        return BackendStatus("failed", reason=str(status.get("reason") or "training failed"), detail="failed")
    return None


def result_folder(job: VoiceJob) -> Path:
    status = read_json(job.folder / STATUS_FILE) or {}
    if status.get("state") != "succeeded" or not status.get("export"):
        raise TrainingError(f"voice job {job.voice_id} has no exported voice")
    return Path(status["export"])


class LocalBackend:
    name = "local"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._children: dict[int, subprocess.Popen] = {}
        self._lock = threading.Lock()

    def command(self, job: VoiceJob) -> list[str]:
        from voicesmith.training.backends import training_command

        nice = ["nice", "-n", str(self.settings.training_nice)] if self.settings.training_nice else []
        return [*nice, *training_command(self.settings), "train", "--job", str(job.folder / JOB_FILE)]

    def environment(self) -> dict[str, str]:
        from voicesmith.training.backends import job_environment

        env = job_environment(self.settings)
        if self.settings.training_gpus is not None:
            env["CUDA_VISIBLE_DEVICES"] = self.settings.training_gpus
        if self.settings.training_threads:
            for name in (*_THREAD_VARIABLES, "VOICESMITH_TORCH_THREADS"):
                env[name] = str(self.settings.training_threads)
        return env

    def submit(self, job: VoiceJob) -> dict[str, Any]:
        with (job.folder / LOG_FILE).open("ab") as log:
            log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting {job.voice_id}\n".encode())
            log.flush()
            process = subprocess.Popen(
                self.command(job),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=job.folder,
                env=self.environment(),
                start_new_session=True,
            )
        with self._lock:
            self._children[process.pid] = process
        return {"id": str(process.pid), "host": socket.gethostname()}

    def _alive(self, job: VoiceJob, handle: dict[str, Any]) -> tuple[bool, int | None]:
        """(is it running, its exit code where it was our child and has exited)."""
        pid = int(handle["id"])
        if handle.get("host") != socket.gethostname():
            changed = max(_mtime(job.folder / LOG_FILE), _mtime(job.folder / STATUS_FILE))
            return time.time() - changed < STALE_SECONDS, None
        with self._lock:
            child = self._children.get(pid)
        if child is not None:
            code = child.poll()
            if code is not None:
                with self._lock:
                    self._children.pop(pid, None)
            return code is None, code
        return _is_training_process(pid, job), None

    def poll(self, job: VoiceJob, handle: dict[str, Any]) -> BackendStatus:
        done = final_status(job)
        if done is not None:
            self._alive(job, handle)  # reaps our child
            return done
        alive, code = self._alive(job, handle)
        if alive:
            stage = (read_json(job.folder / STATUS_FILE) or {}).get("stage") or "starting"
            return BackendStatus("running", detail=stage)
        done = final_status(job)  # it may have written its outcome just before exiting
        if done is not None:
            return done
        if is_training(job.folder):  # ours left (ALREADY_RUNNING): another process trains this job
            return BackendStatus("running", detail="training (another process)")
        if code is not None and code != 0 and code != -signal.SIGKILL:
            last = tail(job.folder / LOG_FILE, 1500).strip().splitlines()[-8:]
            return BackendStatus("failed", reason=f"training exited with code {code}: " + " | ".join(last))
        return BackendStatus("lost", reason=f"the training process {handle['id']} is gone without a result")

    def cancel(self, job: VoiceJob, handle: dict[str, Any]) -> None:
        pid = int(handle["id"])
        if handle.get("host") != socket.gethostname():
            _LOGGER.warning("voice job %s runs on %s: it stops when it sees the job gone", job.voice_id,
                            handle.get("host"))  # fmt: skip
            return
        alive, _ = self._alive(job, handle)
        if not alive:
            return
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self._alive(job, handle)[0]:
            time.sleep(0.1)
        if self._alive(job, handle)[0]:
            _signal_group(pid, signal.SIGKILL)
            with self._lock:
                child = self._children.pop(pid, None)
            if child is not None:
                child.wait(10)

    def result(self, job: VoiceJob, handle: dict[str, Any]) -> Path:
        return result_folder(job)

    def log(self, job: VoiceJob, handle: dict[str, Any]) -> str:
        return tail(job.folder / LOG_FILE)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _is_training_process(pid: int, job: VoiceJob) -> bool:
    """Is ``pid`` still this job's training command (not a reused pid, not a zombie)?"""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", "replace")
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X") and str(job.folder / JOB_FILE) in cmdline


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
