"""The worker pool: runs each job once, records failures with their reason, and calls back on completion."""

from __future__ import annotations

import threading
import time

import pytest

from voicesmith.errors import ValidationError
from voicesmith.tasks.runner import TaskRunner
from voicesmith.tasks.store import ACTIVE, COMPLETED, FAILED, PENDING, SCHEDULED, Store, TaskRow, VoiceJobRow


@pytest.fixture()
def store(db_url):
    store = Store(db_url)
    yield store
    store.close()


def add_task(store: Store, task_id: str, text: str = "ok") -> None:
    store.add(
        TaskRow(
            id=task_id,
            status=SCHEDULED,
            request={"Text": text},
            output_uri="x",
            request_characters=1,
            created=None,
        )
    )


def run_task(row: TaskRow) -> None:
    if row.request["Text"] == "bad":
        raise ValidationError("the text is bad")
    if row.request["Text"] == "crash":
        raise KeyError("boom")


def test_runs_tasks_and_voice_jobs_with_their_outcomes(store):
    finished: list[str] = []
    voices: list[str] = []
    runner = TaskRunner(store, run_task, lambda row: voices.append(row.id), on_task_finished=finished.append)
    add_task(store, "good")
    add_task(store, "bad", "bad")
    add_task(store, "crash", "crash")
    store.add(VoiceJobRow(id="v1", name="V", language="en-US", dataset={}, status=PENDING, created=None))
    while runner.run_once():
        pass
    assert store.get_task("good").status == COMPLETED and store.get_task("good").status_reason is None
    assert store.get_task("bad").status == FAILED and store.get_task("bad").status_reason == "the text is bad"
    assert store.get_task("crash").status == FAILED and "KeyError" in store.get_task("crash").status_reason
    assert store.get_voice_job("v1").status == ACTIVE and voices == ["v1"]
    assert sorted(finished) == ["bad", "crash", "good"]


def test_worker_threads_pick_up_submitted_work(store):
    done = threading.Event()
    runner = TaskRunner(
        store,
        lambda row: None,
        lambda row: None,
        workers=2,
        poll_seconds=5,
        on_task_finished=lambda task_id: done.set(),
    )
    runner.start()
    try:
        add_task(store, "t1")
        runner.wake()
        assert done.wait(10)
    finally:
        runner.stop()
    assert store.get_task("t1").status == COMPLETED


def test_a_job_whose_claim_was_taken_over_records_nothing(store):
    add_task(store, "t1")
    finished: list[str] = []

    def slow(row: TaskRow) -> None:
        # While this worker runs, its lease runs out and another worker takes the task.
        threading.Event().wait(0.3)
        other = store.claim_next(TaskRow, 60, "inProgress")
        assert other is not None and other.id == "t1"
        store.finish(TaskRow, "t1", other.claim, FAILED, "taken over")

    runner = TaskRunner(store, slow, lambda row: None, lease_seconds=0.1, on_task_finished=finished.append)
    runner._heartbeat = lambda *args: None  # no renewals: the lease lapses
    assert runner.run_once()
    assert store.get_task("t1").status_reason == "taken over"
    assert finished == []


def test_stop_hands_back_a_job_still_running_after_the_drain_bound(store):
    add_task(store, "slow")
    running, release = threading.Event(), threading.Event()
    finished: list[str] = []

    def slow(row: TaskRow) -> None:
        running.set()
        release.wait(30)

    runner = TaskRunner(store, slow, lambda row: None, poll_seconds=0.05, on_task_finished=finished.append)
    runner.start()
    assert running.wait(10) and runner.in_flight == 1
    runner.stop(timeout=0.2)
    row = store.get_task("slow")
    assert row.status == SCHEDULED and row.claim is None and row.attempts == 0  # any worker takes it now
    release.set()  # the abandoned run ends later: nothing of it is recorded
    time.sleep(0.2)
    assert store.get_task("slow").status == SCHEDULED and finished == []


def test_stop_lets_a_job_finish_within_the_drain_bound(store):
    add_task(store, "quick")
    running = threading.Event()

    def quick(row: TaskRow) -> None:
        running.set()
        time.sleep(0.3)

    runner = TaskRunner(store, quick, lambda row: None, poll_seconds=0.05)
    runner.start()
    assert running.wait(10)
    runner.stop(timeout=10)
    assert store.get_task("quick").status == COMPLETED
