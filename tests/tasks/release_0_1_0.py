"""The schema exactly as voicesmith 0.1.0 made it (``create_all`` on its models, no migrations), frozen.

A database made by that release must upgrade in place: the migration tests build one from these models,
fill it, and open it with today's Store. Never change this file to follow the models.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


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
    status: Mapped[str] = mapped_column(String(16), index=True)
    status_reason: Mapped[str | None] = mapped_column(Text, default=None)
    created: Mapped[datetime]
    updated: Mapped[datetime]
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    claim: Mapped[str | None] = mapped_column(String(36), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class TaskRow(_Job, _Base):
    __tablename__ = "synthesis_tasks"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    output_uri: Mapped[str] = mapped_column(Text)
    request_characters: Mapped[int] = mapped_column(Integer)


class VoiceJobRow(_Job, _Base):
    __tablename__ = "voice_jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(35))
    gender: Mapped[str | None] = mapped_column(String(16), default=None)
    dataset: Mapped[dict[str, Any]] = mapped_column(JSON)


WHEN = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def make_database(url: str) -> None:
    """A database as 0.1.0 left it: its tables, a lexicon, a finished and a waiting task, a voice job."""
    engine = create_engine(url)
    _Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        session.add(
            LexiconRow(
                name="acme",
                content="<lexicon/>",
                alphabet="ipa",
                language="en-US",
                lexemes=1,
                size=10,
                modified=WHEN,
            )
        )
        for task_id, status in (("done", "completed"), ("waiting", "scheduled")):
            session.add(
                TaskRow(
                    id=task_id,
                    status=status,
                    request={"Text": task_id, "VoiceId": "Joanna"},
                    output_uri=f"file:///out/{task_id}.mp3",
                    request_characters=4,
                    created=WHEN,
                    updated=WHEN,
                    attempts=1 if status == "completed" else 0,
                )
            )
        session.add(
            VoiceJobRow(
                id="vc-1",
                name="Ann",
                language="en-US",
                dataset={"location": "/data"},
                status="pending",
                created=WHEN,
                updated=WHEN,
            )
        )
    engine.dispose()
