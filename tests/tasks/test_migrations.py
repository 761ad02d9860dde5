"""Schema migrations: the migrations build exactly the models' schema, and a 0.1.0 database upgrades in
place with nothing lost, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from voicesmith.tasks import migrations
from voicesmith.tasks.store import IN_PROGRESS, SCHEDULED, Store, TaskRow, metadata

from .release_0_1_0 import WHEN, make_database


def test_the_migrations_build_the_models_schema(db_url):
    """Fails when a model changed without a migration (run ``voicesmith db revision -m ...``)."""
    engine = create_engine(db_url)
    migrations.upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
        assert migrations.current(connection) == migrations.head()
    engine.dispose()


def test_there_is_one_head():
    assert migrations.head()


def test_a_release_0_1_0_database_upgrades_in_place(db_url):
    make_database(db_url)
    store = Store(db_url)  # opening it upgrades it
    try:
        with store.engine.connect() as connection:
            assert migrations.current(connection) == migrations.head()
            assert "alembic_version" in inspect(connection).get_table_names()
        lexicon = store.get_lexicon("acme")
        modified = lexicon.modified  # SQLite keeps no zone: stored values are UTC
        assert (
            lexicon.content == "<lexicon/>"
            and (modified.tzinfo and modified or modified.replace(tzinfo=UTC)) == WHEN
        )
        done = store.get_task("done")
        assert done.status == "completed" and done.request == {"Text": "done", "VoiceId": "Joanna"}
        assert store.get_voice_job("vc-1").dataset == {"location": "/data"}
        # The waiting task is still waiting and runs.
        job = store.claim_next(TaskRow, 60, IN_PROGRESS)
        assert job.id == "waiting" and job.attempts == 1
        assert [t.id for t in store.list_tasks(SCHEDULED, 0, 10)] == []
    finally:
        store.close()
    Store(db_url).close()  # opening it again changes nothing


def test_nodes_opening_a_new_database_together_migrate_once(db_url):
    import threading

    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            Store(db_url).close()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_db_upgrade_command(data_dir):
    from click.testing import CliRunner

    from voicesmith.cli import main

    make_database(f"sqlite:///{data_dir / 'voicesmith.db'}")
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"revision {migrations.head()}" in result.output
    result = CliRunner().invoke(main, ["db", "current"])
    assert f"database: {migrations.head()}" in result.output
