"""Shared fixtures: every test gets its own data directory, so no test sees another's voices or tasks."""

from __future__ import annotations

import pytest


@pytest.fixture()
def data_dir(tmp_path, monkeypatch):
    path = tmp_path / "data"
    monkeypatch.setenv("VOICESMITH_DATA_DIR", str(path))
    return path
