"""``voicesmith db``: the database's schema version, upgrades, and new migrations (developers)."""

from __future__ import annotations

import click


@click.group()
def db() -> None:
    """The task/lexicon/voice database (VOICESMITH_DB_URL; default SQLite in the data dir).

    Every node upgrades the database when it starts; ``db upgrade`` does it ahead of a rollout.
    """


def _engine():  # noqa: ANN202 - an SQLAlchemy engine
    from sqlalchemy import create_engine

    from voicesmith.settings import Settings

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return create_engine(settings.database_url)


@db.command()
def upgrade() -> None:
    """Migrate the database to the newest schema this version knows."""
    from voicesmith.tasks import migrations

    engine = _engine()
    migrations.upgrade(engine)
    with engine.connect() as connection:
        click.echo(f"database at revision {migrations.current(connection)}")
    engine.dispose()


@db.command()
def current() -> None:
    """Print the database's revision and the newest one this version knows."""
    from voicesmith.tasks import migrations

    engine = _engine()
    with engine.connect() as connection:
        click.echo(f"database: {migrations.current(connection) or 'none'}; newest: {migrations.head()}")
    engine.dispose()


@db.command()
@click.option("-m", "--message", required=True, help="What the migration changes, e.g. 'task attempt cap'.")
def revision(message: str) -> None:
    """Write the next migration from the models' difference to the newest one (review it, then commit)."""
    from voicesmith.tasks import migrations

    click.echo(f"wrote {migrations.new_revision(message)}")
