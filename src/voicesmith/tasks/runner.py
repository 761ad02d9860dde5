"""The in-process worker pool that runs synthesis tasks or custom-voice jobs from the store.

One pool runs one kind of job (give the other handler as None), so synthesis tasks never wait behind a
voice job: ``create_app`` and ``voicesmith worker`` start a pool per kind. A voice-job handler only
dispatches to a training backend and watches it (``tasks.voice_jobs``); it never trains in-process.

Workers poll the store (and wake at once when a job is submitted here), claim one job at a time,
renew the claim's lease while the job runs, and record the outcome only while they still hold the
claim. A job whose process died keeps its ``inProgress``/``training`` status until its lease runs out;
then any worker (this process after a restart, or another node) claims and runs it again, up to
``max_attempts`` runs in all: a job that kills its worker each time fails with a reason saying so.
Output is written whole-or-nothing under a fixed name, so a rerun replaces, never duplicates. ``stop``
drains: running jobs get a bounded time to finish, then their claims are released so another worker
(on any node) takes them at once instead of after the lease.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from voicesmith.errors import VoicesmithError
from voicesmith.tasks.store import (
    ACTIVE,
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    TRAINING,
    JobRow,
    Store,
    TaskRow,
    VoiceJobRow,
)

_LOGGER = logging.getLogger(__name__)

TaskHandler = Callable[[TaskRow], None]
"""Runs one synthesis task to completion; raises to fail it (a VoicesmithError's message is the reason)."""
VoiceJobHandler = Callable[[VoiceJobRow], None]
"""Makes one custom voice and installs it in the catalog; raises to fail the job."""


@dataclass(frozen=True)
class _Kind:
    model: type[JobRow]
    running: str
    done: str
    handler: Callable[[JobRow], None]


class JobDetachedError(Exception):
    """Raised by a handler that stops watching a job it does not run itself (a voice job training in
    its backend) because the worker is stopping: the claim is released, no outcome is recorded, and the
    next worker to claim the job re-attaches to it."""


class JobLostError(RuntimeError):
    """The worker's claim on a job was taken over (its lease ran out); its outcome is not recorded."""


class TaskRunner:
    """A pool of worker threads over a :class:`Store`."""

    def __init__(
        self,
        store: Store,
        task_handler: TaskHandler | None,
        voice_job_handler: VoiceJobHandler | None,
        *,
        workers: int = 1,
        lease_seconds: float = 30.0,
        poll_seconds: float = 1.0,
        on_task_finished: Callable[[str], None] | None = None,
        max_attempts: int | None = None,
    ) -> None:
        self.store = store
        self.max_attempts = max_attempts
        """Runs of a job whose worker died (lease ran out) before the job fails; None: no cap."""
        self.workers = workers
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self._on_task_finished = on_task_finished
        kinds = (
            _Kind(TaskRow, IN_PROGRESS, COMPLETED, task_handler),  # type: ignore[arg-type]
            _Kind(VoiceJobRow, TRAINING, ACTIVE, voice_job_handler),  # type: ignore[arg-type]
        )
        self._kinds = tuple(kind for kind in kinds if kind.handler is not None)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._in_flight: dict[str, tuple[_Kind, str]] = {}
        self._in_flight_lock = threading.Lock()
        self.name = f"runner-{'+'.join(k.model.__tablename__ for k in self._kinds)}-{uuid.uuid4().hex[:6]}"

    def start(self) -> None:
        self._stop.clear()
        for index in range(self.workers):
            thread = threading.Thread(target=self._loop, name=f"{self.name}-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        _LOGGER.info("%s: %d workers started", self.name, self.workers)

    def stop(self, timeout: float = 10.0) -> None:
        """Drain: take no new job, give running ones ``timeout`` seconds to finish, then hand the rest
        back (their claims are released, so any worker, on any node, takes them at once; what the
        abandoned run does afterwards is never recorded)."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()
        with self._in_flight_lock:
            abandoned = list(self._in_flight.items())
            self._in_flight.clear()
        for job_id, (kind, claim) in abandoned:
            try:
                if self.store.release(kind.model, job_id, claim):
                    _LOGGER.warning(
                        "%s: %s %s still running after %.0f s; handed back",
                        self.name,
                        kind.model.__tablename__,
                        job_id,
                        timeout,
                    )
            except Exception:  # the lease runs out by itself if the database is gone
                _LOGGER.exception("%s: handing back %s failed", self.name, job_id)

    @property
    def in_flight(self) -> int:
        """Jobs running now."""
        with self._in_flight_lock:
            return len(self._in_flight)

    @property
    def stopping(self) -> threading.Event:
        """Set once :meth:`stop` was called (handlers that watch long jobs check it)."""
        return self._stop

    def wake(self) -> None:
        """A job was submitted: look now instead of at the next poll."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self.run_once()
            except Exception:  # a broken database must not kill the worker thread
                _LOGGER.exception("%s: polling the store failed", self.name)
                worked = False
            if not worked and not self._stop.is_set():
                self._wake.wait(self.poll_seconds)
                if not self._stop.is_set():  # stop()'s wake-up must reach every worker
                    self._wake.clear()

    def run_once(self) -> bool:
        """Claim and run one job of any kind; False if none was waiting."""
        for kind in self._kinds:
            if self.max_attempts is not None:
                for job_id in self.store.give_up(kind.model, kind.running, self.max_attempts):
                    self._finished(kind, job_id)
            job = self.store.claim_next(kind.model, self.lease_seconds, kind.running)
            if job is not None:
                self._run(kind, job)
                return True
        return False

    def _run(self, kind: _Kind, job: JobRow) -> None:
        claim = job.claim
        assert claim is not None
        lost = threading.Event()
        done = threading.Event()
        heartbeat = threading.Thread(
            target=self._heartbeat,
            args=(kind, job.id, claim, done, lost),
            name=f"lease-{job.id}",
            daemon=True,
        )
        heartbeat.start()
        with self._in_flight_lock:
            self._in_flight[job.id] = (kind, claim)
        status, reason = kind.done, None
        try:
            _LOGGER.info(
                "%s: running %s %s (attempt %d)", self.name, kind.model.__tablename__, job.id, job.attempts
            )
            kind.handler(job)
        except JobDetachedError:
            done.set()
            heartbeat.join()
            self.store.renew(kind.model, job.id, claim, 0.0)  # lease ends now: the next worker re-attaches
            _LOGGER.info("%s %s: detached; it goes on in its backend", kind.model.__tablename__, job.id)
            return
        except VoicesmithError as error:
            status, reason = FAILED, error.message
        except Exception as error:
            _LOGGER.exception("%s %s failed", kind.model.__tablename__, job.id)
            status, reason = FAILED, f"internal error: {type(error).__name__}: {error}"
        finally:
            done.set()
            heartbeat.join()
            with self._in_flight_lock:
                self._in_flight.pop(job.id, None)
        if lost.is_set() or not self.store.finish(kind.model, job.id, claim, status, reason):
            _LOGGER.warning(
                "%s %s: claim lost while running; outcome not recorded", kind.model.__tablename__, job.id
            )
            return
        _LOGGER.info(
            "%s %s: %s%s", kind.model.__tablename__, job.id, status, f" ({reason})" if reason else ""
        )
        self._finished(kind, job.id)

    def _finished(self, kind: _Kind, job_id: str) -> None:
        if kind.model is TaskRow and self._on_task_finished is not None:
            try:
                self._on_task_finished(job_id)
            except Exception:  # a notification failure never changes the task's outcome
                _LOGGER.exception("task %s: completion callback failed", job_id)

    def _heartbeat(
        self, kind: _Kind, job_id: str, claim: str, done: threading.Event, lost: threading.Event
    ) -> None:
        while not done.wait(self.lease_seconds / 3):
            try:
                if not self.store.renew(kind.model, job_id, claim, self.lease_seconds):
                    lost.set()
                    return
            except Exception:
                _LOGGER.exception("renewing the lease of %s failed", job_id)
