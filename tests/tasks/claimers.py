"""A claimer process for the concurrency test (importable by multiprocessing's spawn)."""

from __future__ import annotations


def claim_all(url: str, start, results) -> None:
    """Wait for ``start``, then claim tasks until none is left; put the claimed ids on ``results``."""
    from voicesmith.tasks.store import IN_PROGRESS, Store, TaskRow

    store = Store(url)
    claimed = []
    start.wait(30)
    while (job := store.claim_next(TaskRow, 60, IN_PROGRESS)) is not None:
        claimed.append(job.id)
    store.close()
    results.put(claimed)
