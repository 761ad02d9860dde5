"""The job store: claims are exclusive, leases expire, only the claim holder records an outcome."""

from __future__ import annotations

import threading
import time

import pytest

from voicesmith.errors import InvalidNextTokenError
from voicesmith.tasks.store import (
    COMPLETED,
    IN_PROGRESS,
    PENDING,
    SCHEDULED,
    TRAINING,
    Store,
    TaskRow,
    VoiceJobRow,
    decode_token,
    encode_token,
)


@pytest.fixture()
def store(db_url):
    store = Store(db_url)
    yield store
    store.close()


def add_task(store: Store, task_id: str) -> None:
    store.add(
        TaskRow(
            id=task_id,
            status=SCHEDULED,
            request={"Text": task_id},
            output_uri="x",
            request_characters=1,
            created=None,
        )
    )


def test_a_task_is_claimed_once(store):
    add_task(store, "t1")
    first = store.claim_next(TaskRow, 60, IN_PROGRESS)
    assert first is not None and first.id == "t1" and first.status == IN_PROGRESS and first.attempts == 1
    assert store.claim_next(TaskRow, 60, IN_PROGRESS) is None


def test_many_workers_never_share_a_task(store):
    for n in range(20):
        add_task(store, f"t{n:02d}")
    claimed: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        while (job := store.claim_next(TaskRow, 60, IN_PROGRESS)) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == [f"t{n:02d}" for n in range(20)]


def test_an_expired_lease_is_claimed_again_and_the_old_claim_is_void(store):
    add_task(store, "t1")
    old = store.claim_next(TaskRow, 0.05, IN_PROGRESS)
    time.sleep(0.1)
    new = store.claim_next(TaskRow, 60, IN_PROGRESS)
    assert new is not None and new.id == "t1" and new.attempts == 2 and new.claim != old.claim
    assert not store.renew(TaskRow, "t1", old.claim, 60)
    assert not store.finish(TaskRow, "t1", old.claim, COMPLETED, None)
    assert store.finish(TaskRow, "t1", new.claim, COMPLETED, None)
    assert store.get_task("t1").status == COMPLETED
    assert store.claim_next(TaskRow, 60, IN_PROGRESS) is None


def test_a_renewed_lease_is_kept(store):
    add_task(store, "t1")
    job = store.claim_next(TaskRow, 0.2, IN_PROGRESS)
    for _ in range(3):
        time.sleep(0.1)
        assert store.renew(TaskRow, "t1", job.claim, 0.2)
    assert store.claim_next(TaskRow, 60, IN_PROGRESS) is None


def test_voice_jobs_use_their_own_states(store):
    store.add(VoiceJobRow(id="v1", name="V", language="en-US", dataset={}, status=PENDING, created=None))
    assert store.claim_next(TaskRow, 60, IN_PROGRESS) is None
    job = store.claim_next(VoiceJobRow, 60, TRAINING)
    assert job.id == "v1" and job.status == TRAINING


def test_task_listing_is_newest_first_and_filtered(store):
    for n in range(3):
        add_task(store, f"t{n}")
        time.sleep(0.01)
    assert [t.id for t in store.list_tasks(None, 0, 10)] == ["t2", "t1", "t0"]
    store.claim_next(TaskRow, 60, IN_PROGRESS)
    assert [t.id for t in store.list_tasks(IN_PROGRESS, 0, 10)] == ["t0"]
    assert [t.id for t in store.list_tasks(None, 1, 1)] == ["t1"]


def test_next_tokens_round_trip_and_reject_forgeries():
    assert decode_token(encode_token(42)) == 42
    assert decode_token(None) == 0
    for bad in ("garbage", encode_token(0)[:-3] + "!!!", "eyJvZmZzZXQiOiAtMX0="):  # the last: offset -1
        with pytest.raises(InvalidNextTokenError):
            decode_token(bad)


def test_a_released_job_is_waiting_again_for_anyone(store):
    add_task(store, "t1")
    job = store.claim_next(TaskRow, 60, IN_PROGRESS)
    assert store.release(TaskRow, "t1", job.claim)
    assert not store.release(TaskRow, "t1", job.claim)  # the claim is void now
    again = store.claim_next(TaskRow, 60, IN_PROGRESS)
    assert again.id == "t1" and again.attempts == 1 and again.claim != job.claim


def test_postgres_claims_skip_a_row_another_transaction_has_locked(pg_url):
    from sqlalchemy import select

    store = Store(pg_url)
    try:
        add_task(store, "t1")
        time.sleep(0.01)
        add_task(store, "t2")
        with store.session() as session:  # another worker is in the middle of claiming t1
            session.execute(select(TaskRow.id).where(TaskRow.id == "t1").with_for_update())
            started = time.monotonic()
            job = store.claim_next(TaskRow, 60, IN_PROGRESS)
            assert job.id == "t2" and time.monotonic() - started < 2  # not blocked on t1's lock
        assert store.claim_next(TaskRow, 60, IN_PROGRESS).id == "t1"
    finally:
        store.close()


def test_worker_processes_on_postgres_never_share_a_task(pg_url):
    import multiprocessing

    from tasks.claimers import claim_all

    store = Store(pg_url)
    for n in range(60):
        add_task(store, f"t{n:02d}")
    store.close()
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    processes = [context.Process(target=claim_all, args=(pg_url, start, results)) for _ in range(3)]
    for process in processes:
        process.start()
    start.set()
    per_process = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(30)
    claimed = [task for tasks in per_process for task in tasks]
    assert sorted(claimed) == [f"t{n:02d}" for n in range(60)]  # every task once, none twice
