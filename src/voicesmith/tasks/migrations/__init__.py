"""Schema migrations of the store's database (Alembic), run by the Store when it opens a database.

Every node upgrades the database to the newest revision it knows when it opens it, under a lock (a
PostgreSQL advisory lock; a lock file beside a SQLite database), so nodes starting together migrate once.
A database made before migrations existed (voicesmith 0.1.0 created its tables directly) has the
baseline schema: it is stamped with the baseline revision and upgraded from there, in place.

Adding a column is one file: change the model in ``tasks/store.py``, then run
``voicesmith db revision -m "what changed"``, which writes ``versions/<NNNN>_<slug>.py`` from the
difference between the models and the newest revision (review it; SQLite gets batch operations).
tests/tasks/test_migrations.py fails while the models and the migrations disagree.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection, Engine

_LOGGER = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
BASELINE = "0001"
"""The schema of voicesmith 0.1.0, the last release without migrations."""
_LOCK_KEY = 0x766F6963  # "voic": the advisory lock all nodes migrate under
_PRE_MIGRATION_TABLE = "synthesis_tasks"


def config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def head() -> str:
    """The newest revision this code knows (one head: two means two branches' migrations need chaining)."""
    heads = ScriptDirectory.from_config(config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads {heads}: set one's down_revision")
    return heads[0]


def current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (default: the newest), stamping a pre-migration database first."""
    with engine.connect() as probe:
        if revision == "head" and current(probe) == head():
            return  # the common case, without taking the lock
    with _lock(engine), engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        found = current(connection)
        if found is None and inspect(connection).has_table(_PRE_MIGRATION_TABLE):
            _LOGGER.info("database made before migrations: stamping it with the baseline %s", BASELINE)
            command.stamp(config(connection), BASELINE)
            found = BASELINE
        if found != head() or revision != "head":
            _LOGGER.info("migrating the database from %s to %s", found, revision)
            command.upgrade(config(connection), revision)


@contextlib.contextmanager
def _lock(engine: Engine) -> Iterator[None]:
    """SQLite has no advisory locks: processes sharing a database file migrate under a lock file."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def new_revision(message: str) -> Path:
    """Write the next migration from the difference between the models and the newest revision."""
    script = ScriptDirectory.from_config(config())
    numbers = [int(r.revision) for r in script.walk_revisions() if re.fullmatch(r"\d+", r.revision)]
    rev_id = f"{max(numbers, default=0) + 1:04d}"
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite:///{folder}/head.db")
        upgrade(engine)
        with engine.begin() as connection:
            result = command.revision(config(connection), message, autogenerate=True, rev_id=rev_id)
        engine.dispose()
    head.cache_clear()
    scripts = result if isinstance(result, list) else [result]
    return Path(scripts[0].path)
