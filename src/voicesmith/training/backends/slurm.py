"""The ``slurm`` backend: each voice job is an ``sbatch`` job running ``voicesmith train --job``.

The job folder must be on storage the cluster's nodes share with the voice-job workers (the data dir
on NFS, Lustre, ...), at the same path; the nodes run voicesmith as ``training_command`` says. The
batch script is written into the job folder (``train.sbatch``), its output goes to the job's
``train.log`` (GetVoice shows its tail, ``GET /v1/voices/<id>/log`` all of it). State comes from
``squeue`` while the job is queued or running, then ``sacct`` (or ``scontrol show job`` where
accounting is off); the outcome itself is the ``status.json`` the training command writes.
``scancel`` cancels. A job the cluster lost (node failure, preemption, purged without a result) is
submitted again by the watcher and resumes from its last checkpoint.

Settings: ``slurm_partition``, ``slurm_sbatch_args`` (``--gres=gpu:1``, ``--time``, ``--account``,
``--cpus-per-task``...), ``slurm_bin_dir``; ``training_command`` for how the nodes run voicesmith.
"""

from __future__ import annotations

import logging
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

from voicesmith.errors import TrainingError
from voicesmith.settings import Settings
from voicesmith.tasks.voice_jobs import JOB_FILE, LOG_FILE, BackendStatus, VoiceJob, is_training, tail
from voicesmith.training.backends.local import final_status, result_folder

_LOGGER = logging.getLogger(__name__)

SCRIPT_FILE = "train.sbatch"
_QUEUED = {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"}
_RUNNING = {"RUNNING", "COMPLETING", "SUSPENDED", "STAGE_OUT", "SIGNALING", "RESIZING", "STOPPED"}
_LOST = {"NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE", "REVOKED"}
_FAILED = {"FAILED", "TIMEOUT", "OUT_OF_MEMORY"}


class SlurmBackend:
    name = "slurm"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _tool(self, name: str) -> str:
        if self.settings.slurm_bin_dir is not None:
            return str(Path(self.settings.slurm_bin_dir) / name)
        found = shutil.which(name)
        if found is None:
            raise TrainingError(
                f"{name} is not on PATH: install the SLURM client tools on this host or set "
                "VOICESMITH_SLURM_BIN_DIR"
            )
        return found

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        from voicesmith.training.backends import job_environment

        command = [self._tool(args[0]), *args[1:]]
        env = job_environment(self.settings)  # sbatch exports it to the job
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
        if check and done.returncode != 0:
            raise TrainingError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip()[:500]}")
        return done

    def script(self, job: VoiceJob) -> str:
        """The batch script: the job's options, then the training command."""
        from voicesmith.training.backends import training_command

        lines = [
            "#!/bin/bash",
            f"#SBATCH --job-name=voicesmith-{job.voice_id}",
            f"#SBATCH --output={job.folder / LOG_FILE}",
            "#SBATCH --open-mode=append",
            f"#SBATCH --chdir={job.folder}",
            "#SBATCH --nodes=1",
        ]
        if self.settings.slurm_partition:
            lines.append(f"#SBATCH --partition={self.settings.slurm_partition}")
        command = [*training_command(self.settings), "train", "--job", str(job.folder / JOB_FILE)]
        lines += [
            'echo "--- $(date "+%Y-%m-%d %H:%M:%S") starting '
            + job.voice_id
            + ' as SLURM job $SLURM_JOB_ID"',
            "exec " + shlex.join(command),
            "",
        ]
        return "\n".join(lines)

    def submit(self, job: VoiceJob) -> dict[str, Any]:
        path = job.folder / SCRIPT_FILE
        path.write_text(self.script(job), encoding="utf-8")
        path.chmod(0o755)
        done = self._run("sbatch", "--parsable", *self.settings.slurm_sbatch_args, str(path))
        job_id = done.stdout.strip().split(";")[0]
        if not job_id.isdigit():
            raise TrainingError(f"sbatch answered {done.stdout.strip()[:200]!r}, not a job id")
        return {"id": job_id}

    def state(self, job_id: str) -> tuple[str | None, str | None]:
        """(SLURM's state, its reason) from squeue, then sacct, then scontrol; (None, None) if unknown."""
        queued = self._run("squeue", "-h", "-j", job_id, "-o", "%T|%r", check=False)
        line = (
            queued.stdout.strip().splitlines()[0] if queued.returncode == 0 and queued.stdout.strip() else ""
        )
        if line:
            state, _, reason = line.partition("|")
            return state.strip(), (reason.strip() if reason.strip() not in ("", "None") else None)
        accounted = self._run("sacct", "-n", "-X", "-P", "-j", job_id, "-o", "State", check=False)
        if accounted.returncode == 0 and accounted.stdout.strip():
            return accounted.stdout.split()[0].split()[0].rstrip("+"), None
        shown = self._run("scontrol", "show", "job", job_id, "-o", check=False)
        for field in shown.stdout.split() if shown.returncode == 0 else []:
            if field.startswith("JobState="):
                return field.split("=", 1)[1], None
        return None, None

    def poll(self, job: VoiceJob, handle: dict[str, Any]) -> BackendStatus:
        done = final_status(job)
        if done is not None:
            return done
        state, reason = self.state(str(handle["id"]))
        detail = f"{state} ({reason})" if state and reason else state
        if state in _QUEUED or (state and state.endswith("_HOLD")):
            return BackendStatus("pending", detail=detail)
        if state in _RUNNING:
            return BackendStatus("running", detail=detail)
        done = final_status(job)  # finished between the two reads
        if done is not None:
            return done
        if is_training(job.folder):  # a duplicate submission left; another process trains this job
            return BackendStatus("running", detail="training (another process)")
        if state == "CANCELLED":
            return BackendStatus("cancelled", reason=f"SLURM job {handle['id']} was cancelled", detail=detail)
        if state in _FAILED or state == "COMPLETED":
            last = " | ".join(tail(job.folder / LOG_FILE, 1500).strip().splitlines()[-6:])
            why = "ended without a result" if state == "COMPLETED" else f"ended {state}"
            return BackendStatus("failed", reason=f"SLURM job {handle['id']} {why}: {last}", detail=detail)
        return BackendStatus(
            "lost", reason=f"SLURM job {handle['id']} is {state or 'unknown'}", detail=detail
        )

    def cancel(self, job: VoiceJob, handle: dict[str, Any]) -> None:
        self._run("scancel", str(handle["id"]), check=False)

    def result(self, job: VoiceJob, handle: dict[str, Any]) -> Path:
        return result_folder(job)

    def log(self, job: VoiceJob, handle: dict[str, Any]) -> str:
        return tail(job.folder / LOG_FILE)
