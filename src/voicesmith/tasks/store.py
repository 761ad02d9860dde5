"""Durable state of the server: lexicons, speech synthesis tasks and custom-voice jobs (SQLAlchemy 2).

SQLite (a file under the data dir) by default; any SQLAlchemy URL (PostgreSQL for several nodes) works.
Tasks and voice jobs are claimed under a row lock that skips locked rows (PostgreSQL:
``SELECT ... FOR UPDATE SKIP LOCKED``) or, on SQLite, with one conditional ``UPDATE`` (status + lease +
claim token), so two workers, in one process or on two nodes, never run the same job at once, and a job
whose worker died (its lease ran out) is claimed again. Only the holder of the current claim token may
finish a job.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Integer,
    String,
    Text,
    create_engine,
    delete,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from voicesmith.errors import DatabaseUnavailableError, InvalidNextTokenError

_LOGGER = logging.getLogger(__name__)

# Task states, as Polly spells them.
SCHEDULED, IN_PROGRESS, COMPLETED, FAILED = "scheduled", "inProgress", "completed", "failed"
# Custom-voice states.
PENDING, TRAINING, ACTIVE = "pending", "training", "active"


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True)}


class LexiconRow(_Base):
    __tablename__ = "lexicons"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    content: Mapped[str] = mapped_column(Text)
    alphabet: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(35))
    lexemes: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    modified: Mapped[datetime]


class _Job:
    """Columns shared by the two kinds of background job."""

    status: Mapped[str] = mapped_column(String(16), index=True)
    status_reason: Mapped[str | None] = mapped_column(Text, default=None)
    created: Mapped[datetime]
    updated: Mapped[datetime]
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    claim: Mapped[str | None] = mapped_column(String(36), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class TaskRow(_Job, _Base):
    """A StartSpeechSynthesisTask request and what became of it."""

    __tablename__ = "synthesis_tasks"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The task's Polly fields (VoiceId, OutputFormat, Text, ...), as accepted."""
    output_uri: Mapped[str] = mapped_column(Text)
    request_characters: Mapped[int] = mapped_column(Integer)


class VoiceJobRow(_Job, _Base):
    """A custom voice being made (or made, or failed)."""

    __tablename__ = "voice_jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(35))
    gender: Mapped[str | None] = mapped_column(String(16), default=None)
    dataset: Mapped[dict[str, Any]] = mapped_column(JSON)
    """Where the recordings are: {"location": path or URL} or {"folder": uploaded files}."""


class VoiceRow(_Base):
    """A voice of the shared catalog (several nodes): its metadata, and the digest of its model files,
    which live in the shared storage under ``voices/<id>/``."""

    __tablename__ = "voices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    info: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The catalog's voice.json (VoiceInfo.to_json())."""
    digest: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the model file: a node whose cached copy differs fetches the files again."""
    updated: Mapped[datetime]


JobRow = TaskRow | VoiceJobRow

metadata = _Base.metadata
"""The models' schema; tasks/migrations/ must produce exactly this (tests/tasks/test_migrations.py)."""


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


MAX_TOKEN_OFFSET = 2**31 - 1
"""No listing is longer; a larger offset (a forged token) would overflow the database's integers."""
_MAX_TOKEN_CHARACTERS = 200


def decode_token(token: str | None) -> int:
    """The offset a NextToken stands for; raises InvalidNextTokenError for anything we did not hand out."""
    if not token:
        return 0
    try:
        if len(token) > _MAX_TOKEN_CHARACTERS:
            raise ValueError("too long")
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeError) as error:
        raise InvalidNextTokenError(f"NextToken {token[:40]!r} is not one this server handed out") from error
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= MAX_TOKEN_OFFSET:
        raise InvalidNextTokenError(f"NextToken {token[:40]!r} is not one this server handed out")
    return offset


class Store:
    """All database access of the server. Thread-safe: every call uses its own session.

    A database that cannot be read (a corrupt SQLite file, a server that is down) raises
    :class:`DatabaseUnavailableError` naming the database and what to do, from the constructor and
    from every call, instead of the driver's exception.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, **_engine_options(url))
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        from voicesmith.tasks import migrations  # alembic loads only where a Store is opened

        with self._translated_errors():
            migrations.upgrade(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    @property
    def description(self) -> str:
        """The database as an operator knows it: the SQLite file, or the URL without its password."""
        if self.engine.url.get_backend_name() == "sqlite":
            return f"the SQLite database {self.engine.url.database or ':memory:'}"
        return f"the database {self.engine.url.render_as_string(hide_password=True)}"

    @contextmanager
    def _translated_errors(self) -> Iterator[None]:
        try:
            yield
        except (sa_exc.IntegrityError, sa_exc.ProgrammingError):
            raise  # our bug or a constraint, not the database's state
        except sa_exc.DBAPIError as error:
            raise DatabaseUnavailableError(_unavailable_message(self, error)) from error

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._translated_errors(), self._sessions.begin() as session:
            yield session

    def check(self, thorough: bool = False) -> None:
        """Read every table (readiness): raises DatabaseUnavailableError if the database cannot answer.

        ``thorough`` (at server start) also has SQLite verify the whole file (``PRAGMA quick_check``),
        which reads every page: a file with zeroed pages passes a plain read of each table.
        """
        with self.session() as session:
            if thorough and self.engine.url.get_backend_name() == "sqlite":
                problem = session.execute(text("PRAGMA quick_check(1)")).scalar()
                if problem != "ok":
                    raise DatabaseUnavailableError(
                        f"{self.description} is damaged ({' '.join(str(problem).split())[:200]}): stop "
                        "the server, restore it from a backup (or move it aside to start with an empty "
                        "one) and start again"
                    )
            for table in _Base.metadata.sorted_tables:
                session.execute(select(table).limit(1)).all()

    # -- lexicons ------------------------------------------------------------------------------------------

    def put_lexicon(self, row: LexiconRow) -> None:
        with self.session() as session:
            session.merge(row)

    def get_lexicon(self, name: str) -> LexiconRow | None:
        with self.session() as session:
            return session.get(LexiconRow, name)

    def delete_lexicon(self, name: str) -> bool:
        with self.session() as session:
            return session.execute(delete(LexiconRow).where(LexiconRow.name == name)).rowcount > 0

    def lexicon_names(self) -> list[str]:
        with self.session() as session:
            return list(session.scalars(select(LexiconRow.name)))

    def list_lexicons(self, offset: int, limit: int) -> list[LexiconRow]:
        with self.session() as session:
            query = select(LexiconRow).order_by(LexiconRow.name).offset(offset).limit(limit)
            return list(session.scalars(query))

    # -- the shared voice catalog --------------------------------------------------------------------------

    def put_voice(self, voice_id: str, info: dict[str, Any], digest: str) -> None:
        with self.session() as session:
            session.merge(VoiceRow(id=voice_id, info=info, digest=digest, updated=utcnow()))

    def get_voice(self, voice_id: str) -> VoiceRow | None:
        with self.session() as session:
            return session.get(VoiceRow, voice_id)

    def list_voices(self) -> list[VoiceRow]:
        with self.session() as session:
            return list(session.scalars(select(VoiceRow).order_by(VoiceRow.id)))

    def delete_voice(self, voice_id: str) -> bool:
        with self.session() as session:
            return session.execute(delete(VoiceRow).where(VoiceRow.id == voice_id)).rowcount > 0

    # -- tasks and voice jobs ------------------------------------------------------------------------------

    def add(self, row: JobRow) -> JobRow:
        now = utcnow()
        row.created = row.created or now
        row.updated = now
        with self.session() as session:
            session.add(row)
        return row

    def get_task(self, task_id: str) -> TaskRow | None:
        with self.session() as session:
            return session.get(TaskRow, task_id)

    def list_tasks(self, status: str | None, offset: int, limit: int) -> list[TaskRow]:
        with self.session() as session:
            query = select(TaskRow).order_by(TaskRow.created.desc(), TaskRow.id)
            if status:
                query = query.where(TaskRow.status == status)
            return list(session.scalars(query.offset(offset).limit(limit)))

    def get_voice_job(self, voice_id: str) -> VoiceJobRow | None:
        with self.session() as session:
            return session.get(VoiceJobRow, voice_id)

    def list_voice_jobs(self, offset: int = 0, limit: int = 100) -> list[VoiceJobRow]:
        """Voice jobs, newest first."""
        with self.session() as session:
            query = select(VoiceJobRow).order_by(VoiceJobRow.created.desc(), VoiceJobRow.id)
            return list(session.scalars(query.offset(offset).limit(limit)))

    def delete_voice_job(self, voice_id: str) -> bool:
        with self.session() as session:
            return session.execute(delete(VoiceJobRow).where(VoiceJobRow.id == voice_id)).rowcount > 0

    def count_by_status(self, model: type[JobRow]) -> dict[str, int]:
        """How many jobs of a kind are in each status (metrics: the queue depth is the waiting count)."""
        with self.session() as session:
            rows = session.execute(select(model.status, func.count()).group_by(model.status))
            return {status: count for status, count in rows}

    def set_voice_job_backend(self, voice_id: str, claim: str | None, handle: dict[str, Any]) -> bool:
        """Record where a voice job trains (its backend handle, in the ``dataset`` JSON), only while
        ``claim`` holds the job; False if it was deleted or taken over."""
        with self.session() as session:
            dataset = session.scalar(
                select(VoiceJobRow.dataset).where(VoiceJobRow.id == voice_id, VoiceJobRow.claim == claim)
            )
            if dataset is None:
                return False
            changed = session.execute(
                update(VoiceJobRow)
                .where(VoiceJobRow.id == voice_id, VoiceJobRow.claim == claim)
                .values(dataset={**dataset, "backend": handle}, updated=utcnow())
            ).rowcount
            return changed > 0

    def claim_next(self, model: type[JobRow], lease_seconds: float, running: str) -> JobRow | None:
        """Take one waiting job (or one whose worker's lease ran out) and mark it ``running``.

        On PostgreSQL the candidate row is locked with ``FOR UPDATE SKIP LOCKED``: concurrent claimers
        each lock a different row and never wait on one another. SQLite has no row locks; there the claim
        is a conditional UPDATE on the row as it was read, and a worker that lost the race tries the next
        candidate.
        (Call :meth:`give_up` first to cap the attempts of jobs that kill their workers.)
        """
        waiting = SCHEDULED if model is TaskRow else PENDING
        if self.engine.dialect.name == "postgresql":
            return self._claim_locked(model, lease_seconds, waiting, running)
        return self._claim_conditional(model, lease_seconds, waiting, running)

    @staticmethod
    def _claimable(model: type[JobRow], waiting: str, running: str, now: datetime) -> Any:
        return (model.status == waiting) | ((model.status == running) & (model.lease_until < now))

    def _claimed_values(self, model: type[JobRow], lease_seconds: float, running: str, now: datetime) -> dict:
        return {
            "status": running,
            "claim": str(uuid.uuid4()),
            "lease_until": now + timedelta(seconds=lease_seconds),
            "attempts": model.attempts + 1,
            "updated": now,
        }

    def _claim_locked(
        self, model: type[JobRow], lease_seconds: float, waiting: str, running: str
    ) -> JobRow | None:
        now = utcnow()
        with self.session() as session:
            row = session.execute(
                select(model.id, model.status)
                .where(self._claimable(model, waiting, running, now))
                .order_by(model.created)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return None
            job_id, status = row
            session.execute(
                update(model)
                .where(model.id == job_id)
                .values(**self._claimed_values(model, lease_seconds, running, now))
            )
        return self._claimed(model, job_id, status, running)

    def _claim_conditional(
        self, model: type[JobRow], lease_seconds: float, waiting: str, running: str
    ) -> JobRow | None:
        now = utcnow()
        with self.session() as session:
            candidates = list(
                session.execute(
                    select(model.id, model.status, model.claim)
                    .where(self._claimable(model, waiting, running, now))
                    .order_by(model.created)
                    .limit(8)
                )
            )
        for job_id, status, old_claim in candidates:
            with self.session() as session:
                claimed = session.execute(
                    update(model)
                    .where(model.id == job_id, model.status == status)
                    .where(model.claim.is_(None) if old_claim is None else model.claim == old_claim)
                    .values(**self._claimed_values(model, lease_seconds, running, now))
                ).rowcount
            if claimed:
                return self._claimed(model, job_id, status, running)
        return None

    def _claimed(self, model: type[JobRow], job_id: str, status: str, running: str) -> JobRow | None:
        if status == running:
            _LOGGER.warning(
                "%s %s: its worker's lease ran out; running it again", model.__tablename__, job_id
            )
        with self.session() as session:
            return session.get(model, job_id)

    def release(self, model: type[JobRow], job_id: str, claim: str) -> bool:
        """Hand a claimed job back (a draining worker): it is waiting again at once, for any worker, and
        the attempt does not count. False if ``claim`` no longer holds it."""
        waiting = SCHEDULED if model is TaskRow else PENDING
        with self.session() as session:
            return (
                session.execute(
                    update(model)
                    .where(model.id == job_id, model.claim == claim)
                    .values(
                        status=waiting,
                        claim=None,
                        lease_until=None,
                        attempts=model.attempts - 1,
                        updated=utcnow(),
                    )
                ).rowcount
                > 0
            )

    def give_up(self, model: type[JobRow], running: str, max_attempts: int) -> list[str]:
        """Fail the jobs whose lease ran out after ``max_attempts`` runs (their worker died each time:
        a poison job, say one that runs the server out of memory), instead of running them again.
        Returns their ids. One conditional UPDATE, safe with any number of workers and nodes."""
        now = utcnow()
        reason = (
            f"gave up after {max_attempts} attempts: the worker running it stopped each time without "
            "finishing (crashed, killed or out of memory); the server log has the details"
        )
        with self.session() as session:
            ids = list(
                session.scalars(
                    update(model)
                    .where(model.status == running, model.lease_until < now, model.attempts >= max_attempts)
                    .values(status=FAILED, status_reason=reason, lease_until=None, claim=None, updated=now)
                    .returning(model.id)
                )
            )
        for job_id in ids:
            _LOGGER.error("%s %s: %s", model.__tablename__, job_id, reason)
        return ids

    def cancel(self, task_id: str, reason: str) -> TaskRow | None:
        """Fail a task that has not finished (its worker, if any, stops at its next check: the claim
        is gone); None if no such task. A finished task is returned unchanged."""
        with self.session() as session:
            session.execute(
                update(TaskRow)
                .where(TaskRow.id == task_id, TaskRow.status.in_((SCHEDULED, IN_PROGRESS)))
                .values(status=FAILED, status_reason=reason, lease_until=None, claim=None, updated=utcnow())
            )
        return self.get_task(task_id)

    def holds(self, model: type[JobRow], job_id: str, claim: str) -> bool:
        """Whether ``claim`` still holds the job (False once it was cancelled or taken over)."""
        with self.session() as session:
            return session.scalar(select(model.claim).where(model.id == job_id)) == claim

    def renew(self, model: type[JobRow], job_id: str, claim: str, lease_seconds: float) -> bool:
        """Extend a claim's lease; False if the claim was lost (the job was taken over or deleted)."""
        with self.session() as session:
            return (
                session.execute(
                    update(model)
                    .where(model.id == job_id, model.claim == claim)
                    .values(lease_until=utcnow() + timedelta(seconds=lease_seconds))
                ).rowcount
                > 0
            )

    def finish(self, model: type[JobRow], job_id: str, claim: str, status: str, reason: str | None) -> bool:
        """Record a job's outcome, only if ``claim`` still holds it; False otherwise."""
        with self.session() as session:
            return (
                session.execute(
                    update(model)
                    .where(model.id == job_id, model.claim == claim)
                    .values(
                        status=status, status_reason=reason, lease_until=None, claim=None, updated=utcnow()
                    )
                ).rowcount
                > 0
            )


def _unavailable_message(store: Store, error: Exception) -> str:
    cause = str(getattr(error, "orig", error)).strip().splitlines()[0][:200]
    if store.engine.url.get_backend_name() == "sqlite":
        return (
            f"{store.description} cannot be used ({cause}): if the file is damaged, stop the server, "
            "restore it from a backup (or move it aside to start with an empty one) and start again"
        )
    return f"{store.description} cannot be used ({cause}): check that it is up and reachable"


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # One connection per thread; waits for writers instead of failing at once.
        return {"connect_args": {"check_same_thread": False, "timeout": 30}}
    return {"pool_pre_ping": True}


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
