"""The voice-job watcher over a scripted backend: submit once, re-attach after a restart, resubmit a
lost job (bounded), cancel when the job is deleted, detach when the worker stops, progress for GetVoice."""

from __future__ import annotations

import json
import threading

import pytest

from voicesmith.errors import TrainingError
from voicesmith.settings import Settings
from voicesmith.tasks.runner import TaskRunner
from voicesmith.tasks.store import ACTIVE, FAILED, PENDING, TRAINING, Store, VoiceJobRow
from voicesmith.tasks.voice_jobs import (
    BackendStatus,
    JobCancelledError,
    VoiceJobWatcher,
    job_folder,
    progress,
)


class ScriptedBackend:
    name = "scripted"

    def __init__(self, states):
        self.states = list(states)
        self.submitted: list[str] = []
        self.cancelled: list[str] = []
        self.polled = threading.Event()

    def submit(self, job):
        self.submitted.append(job.voice_id)
        return {"id": f"job-{len(self.submitted)}"}

    def poll(self, job, handle):
        self.polled.set()
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return BackendStatus(state, reason="it broke" if state == "failed" else "gone", detail=state.upper())

    def cancel(self, job, handle):
        self.cancelled.append(handle["id"])

    def result(self, job, handle):
        return job.folder / "export"

    def log(self, job, handle):
        return ""


class Catalog:
    def __init__(self):
        self.installed = []

    def register_exported(self, folder, replace=False):
        self.installed.append(folder)


@pytest.fixture()
def env(tmp_path):
    settings = Settings(data_dir=tmp_path)
    store = Store(settings.database_url)
    store.add(VoiceJobRow(id="v1", name="V", language="en-US", dataset={"location": "s3://b/p/"},
                          status=PENDING, created=None))  # fmt: skip
    yield settings, store
    store.close()


def claim(store):
    return store.claim_next(VoiceJobRow, 30, TRAINING)


def exported(settings):
    folder = job_folder(settings, "v1") / "export"
    folder.mkdir(parents=True)
    (folder / "voice.json").write_text(json.dumps({"id": "v1"}))


def test_submits_once_and_installs(env):
    settings, store = env
    backend, catalog = ScriptedBackend(["pending", "running", "succeeded"]), Catalog()
    exported(settings)
    VoiceJobWatcher(store, settings, catalog, backend, poll_seconds=0.01)(claim(store))
    assert backend.submitted == ["v1"] and len(catalog.installed) == 1
    handle = store.get_voice_job("v1").dataset["backend"]
    assert handle == {"id": "job-1", "backend": "scripted", "submissions": 1, "detail": "SUCCEEDED"}
    assert json.loads((job_folder(settings, "v1") / "job.json").read_text())["voice_id"] == "v1"


def test_reattaches_to_the_recorded_job(env):
    settings, store = env
    row = claim(store)
    store.set_voice_job_backend("v1", row.claim, {"id": "job-7", "backend": "scripted", "submissions": 1})
    exported(settings)
    backend = ScriptedBackend(["running", "succeeded"])
    VoiceJobWatcher(store, settings, Catalog(), backend, poll_seconds=0.01)(store.get_voice_job("v1"))
    assert backend.submitted == []


def test_a_lost_job_is_resubmitted_a_bounded_number_of_times(env):
    settings, store = env
    backend = ScriptedBackend(["lost"])
    with pytest.raises(TrainingError, match="vanished 3 times"):
        VoiceJobWatcher(store, settings, Catalog(), backend, poll_seconds=0.01)(claim(store))
    assert len(backend.submitted) == 3


def test_a_failure_frees_the_uploads_and_keeps_the_log(env):
    settings, store = env
    folder = job_folder(settings, "v1")
    (folder / "recordings").mkdir(parents=True)
    (folder / "recordings" / "a.wav").write_bytes(b"x")
    (folder / "train.log").write_text("boom\n")
    with pytest.raises(TrainingError, match="it broke"):
        VoiceJobWatcher(store, settings, Catalog(), ScriptedBackend(["failed"]), poll_seconds=0.01)(
            claim(store)
        )
    assert not (folder / "recordings").exists() and (folder / "train.log").is_file()


def test_deleting_the_row_cancels_the_backend_job(env):
    settings, store = env
    backend = ScriptedBackend(["running"])
    watcher = VoiceJobWatcher(store, settings, Catalog(), backend, poll_seconds=0.01)
    row = claim(store)
    raised = []

    def watch():
        try:
            watcher(row)
        except JobCancelledError as error:
            raised.append(error)

    thread = threading.Thread(target=watch)
    thread.start()
    assert backend.polled.wait(10)
    store.delete_voice_job("v1")
    thread.join(10)
    assert backend.cancelled == ["job-1"] and raised


def test_a_stopping_worker_detaches_and_the_next_reattaches(env):
    settings, store = env
    backend = ScriptedBackend(["running"])
    runner = TaskRunner(store, None, None, lease_seconds=30, poll_seconds=0.05)
    watcher = VoiceJobWatcher(store, settings, Catalog(), backend, poll_seconds=0.05)
    runner = TaskRunner(store, None, watcher, lease_seconds=30, poll_seconds=0.05)
    watcher.stopping = runner.stopping
    runner.start()
    assert backend.polled.wait(10)
    runner.stop()
    row = store.get_voice_job("v1")
    assert row.status == TRAINING and row.dataset["backend"]["id"] == "job-1"
    exported(settings)
    backend.states = ["succeeded"]
    again = TaskRunner(store, None, VoiceJobWatcher(store, settings, Catalog(), backend, poll_seconds=0.05),
                       lease_seconds=30, poll_seconds=0.05)  # fmt: skip
    assert again.run_once()  # claimable at once: the lease was released, not left to run out
    assert store.get_voice_job("v1").status == ACTIVE and backend.submitted == ["v1"]
    assert store.get_voice_job("v1").status != FAILED


def test_progress_for_getvoice(tmp_path):
    run = tmp_path / "studio" / "run"
    run.mkdir(parents=True)
    (tmp_path / "status.json").write_text(json.dumps({"stage": "training"}))
    (run / "progress.json").write_text(
        json.dumps({"step": 120, "total": 2000, "eta_s": 1992, "validation": {"val_mel": 0.41}, "losses": {}})
    )
    clip = {"id": "a", "findings": [{"severity": "warning", "code": "clipping", "message": "a.wav clips"}]}
    check = {"ok": True, "summary": {"clips": 2, "usable_clips": 1}, "clips": [clip],
             "findings": [{"severity": "info", "code": "x", "message": "fine"}]}  # fmt: skip
    (tmp_path / "check.json").write_text(json.dumps(check))
    shown = progress(tmp_path, {"backend": "slurm", "id": "42", "detail": "RUNNING"})
    assert shown == {
        "Stage": "training",
        "Step": 120,
        "TotalSteps": 2000,
        "MinutesLeft": 33.2,
        "Validation": {"val_mel": 0.41},
        "DatasetCheck": {
            "Ok": True,
            "Findings": [{"severity": "warning", "code": "clipping", "message": "a.wav clips", "clip": "a"}],
            "clips": 2,
            "usable_clips": 1,
        },
        "Backend": "slurm",
        "BackendJobId": "42",
        "BackendState": "RUNNING",
    }


def test_a_backend_that_does_not_answer_for_a_while_is_asked_again(env):
    settings, store = env
    exported(settings)

    class Flaky(ScriptedBackend):
        def poll(self, job, handle):
            if len(self.states) > 1 and self.states[0] == "error":
                self.states.pop(0)
                raise TimeoutError("squeue timed out")
            return super().poll(job, handle)

    backend = Flaky(["error", "error", "running", "succeeded"])
    catalog = Catalog()
    VoiceJobWatcher(store, settings, catalog, backend, poll_seconds=0.01)(claim(store))
    assert len(catalog.installed) == 1 and backend.submitted == ["v1"]


def test_a_job_never_trains_in_two_processes_at_once(tmp_path):
    import subprocess
    import sys

    from voicesmith.tasks.voice_jobs import ALREADY_RUNNING, is_training, training_lock

    folder = tmp_path / "job"
    folder.mkdir()
    spec = {"voice_id": "v1", "name": "V", "language": "en-US", "gender": None, "folder": str(folder),
            "dataset": {"location": str(tmp_path / "nowhere")}, "studio": {}}  # fmt: skip
    (folder / "job.json").write_text(json.dumps(spec))
    (folder / "status.json").write_text(json.dumps({"stage": "training"}))
    command = [sys.executable, "-m", "voicesmith.cli", "train", "--job", str(folder / "job.json")]
    with training_lock(folder) as free:  # as a first training process would hold it
        assert free and is_training(folder)
        second = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert second.returncode == ALREADY_RUNNING and "already training" in second.stderr
    assert json.loads((folder / "status.json").read_text()) == {"stage": "training"}  # left alone
    assert not is_training(folder)
