"""Faults the task layer must survive: a task that kills its worker every time, a full disk mid-write,
a corrupt database, forged page tokens, and cancelling a task."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tasks.full_disk import FullDisk
from voicesmith.errors import DatabaseUnavailableError, InvalidNextTokenError, StorageError
from voicesmith.tasks.runner import TaskRunner
from voicesmith.tasks.storage import OutputStorage
from voicesmith.tasks.store import (
    FAILED,
    IN_PROGRESS,
    MAX_TOKEN_OFFSET,
    SCHEDULED,
    Store,
    TaskRow,
    decode_token,
    encode_token,
)

SRC = Path(__file__).resolve().parents[2] / "src"

# A worker process whose handler kills the process (SIGKILL, as the OOM killer does) mid-task.
_KILLED_WORKER = """
import os, signal, sys
from voicesmith.tasks.runner import TaskRunner
from voicesmith.tasks.store import Store

def handler(row):
    os.kill(os.getpid(), signal.SIGKILL)

runner = TaskRunner(Store(sys.argv[1]), handler, handler, lease_seconds=0.3, max_attempts=3)
print("worked" if runner.run_once() else "idle", flush=True)
"""


def _add_task(store: Store, task_id: str) -> None:
    row = TaskRow(
        id=task_id, status=SCHEDULED, request={}, output_uri="x", request_characters=1, created=None
    )
    store.add(row)


def _run_killed_worker(url: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_WORKER, url], env=env, capture_output=True, text=True, timeout=120
    )
    return "killed" if done.returncode == -9 else done.stdout.strip()


@pytest.mark.slow
def test_a_task_that_kills_its_worker_fails_after_max_attempts(tmp_path):
    url = f"sqlite:///{tmp_path / 'tasks.db'}"
    store = Store(url)
    _add_task(store, "poison")
    outcomes = []
    for _ in range(3):
        outcomes.append(_run_killed_worker(url))
        row = store.get_task("poison")
        assert row.status == IN_PROGRESS
        store.renew(TaskRow, "poison", row.claim, -1.0)  # the dead worker's lease has run out
    assert outcomes == ["killed"] * 3
    # A fourth worker does not run it again: the task is failed, saying why.
    assert _run_killed_worker(url) == "idle"
    row = store.get_task("poison")
    assert row.status == FAILED and row.attempts == 3
    assert "gave up after 3 attempts" in row.status_reason and "killed" in row.status_reason
    store.close()


def test_attempts_are_not_capped_without_a_cap(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'tasks.db'}")
    _add_task(store, "t")
    for _ in range(5):
        job = store.claim_next(TaskRow, -1.0, IN_PROGRESS)  # claimed, its lease already over
        assert job is not None and job.id == "t"
    assert store.get_task("t").attempts == 5


def test_cancel_fails_a_waiting_task_and_voids_the_running_claim(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'tasks.db'}")
    _add_task(store, "waiting")
    _add_task(store, "running")
    running = store.claim_next(TaskRow, 60, IN_PROGRESS)
    assert store.holds(TaskRow, running.id, running.claim)
    for task_id in ("waiting", "running"):
        row = store.cancel(task_id, "cancelled")
        assert row.status == FAILED and row.status_reason == "cancelled"
    assert not store.holds(TaskRow, running.id, running.claim)
    assert not store.finish(TaskRow, running.id, running.claim, "completed", None)  # the worker's outcome
    assert store.get_task("running").status_reason == "cancelled"
    assert store.cancel("absent", "cancelled") is None
    assert TaskRunner(store, print, print).run_once() is False


def test_a_full_disk_mid_write_leaves_no_partial_and_the_next_write_works(tmp_path):
    storage = OutputStorage((tmp_path / "out").as_uri())
    real_fs = storage.fs
    storage.fs = FullDisk(real_fs, room=10)
    key = storage.key("bucket", "", "task.pcm")
    with pytest.raises(StorageError) as caught:
        storage.write(key, iter([b"12345", b"67890", b"overflow"]))
    assert "No space left on device" in caught.value.message and "after 10 bytes" in caught.value.message
    assert caught.value.status == 503
    assert list((tmp_path / "out" / "bucket").iterdir()) == []  # no .partial left behind
    storage.fs = real_fs  # space again
    assert storage.write(storage.key("bucket", "", "next.pcm"), iter([b"abc"])) == 3
    assert [p.name for p in (tmp_path / "out" / "bucket").iterdir()] == ["next.pcm"]


def test_storage_check_probes_a_write(tmp_path):
    OutputStorage((tmp_path / "out").as_uri()).check()
    assert list((tmp_path / "out").iterdir()) == []
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder should be")
    with pytest.raises(StorageError, match="not writable"):
        OutputStorage(blocked.as_uri()).check()


def test_a_corrupt_database_file_is_named_with_what_to_do(tmp_path):
    path = tmp_path / "voicesmith.db"
    path.write_bytes(b"this is not a database" * 500)
    with pytest.raises(DatabaseUnavailableError) as caught:
        Store(f"sqlite:///{path}")
    message = caught.value.message
    assert str(path) in message and "restore it from a backup" in message and "\n" not in message
    assert caught.value.status == 503


def _zero_pages_after_the_first(path: Path) -> None:
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page:] = bytes(len(data) - page)
    path.write_bytes(bytes(data))


def test_zeroed_pages_fail_the_thorough_check_and_every_call(tmp_path):
    path = tmp_path / "voicesmith.db"
    store = Store(f"sqlite:///{path}")
    for index in range(50):
        _add_task(store, f"t{index}")
    with store.engine.connect() as connection:  # fold the WAL into the file, as a clean shutdown does
        connection.exec_driver_sql("PRAGMA journal_mode=DELETE")
    store.close()
    _zero_pages_after_the_first(path)
    # Opening reads the schema version (alembic_version, on a zeroed page): the damage shows at once,
    # in the same words as the thorough check and every later call.
    with pytest.raises(DatabaseUnavailableError, match=str(path)) as opened:
        Store(f"sqlite:///{path}")
    assert "restore it from a backup" in opened.value.message


def test_next_tokens_with_huge_offsets_are_refused():
    assert decode_token(encode_token(MAX_TOKEN_OFFSET)) == MAX_TOKEN_OFFSET
    for bad in (encode_token(10**30), encode_token(MAX_TOKEN_OFFSET + 1), "x" * 5000, "\ud800"):
        with pytest.raises(InvalidNextTokenError):
            decode_token(bad)
