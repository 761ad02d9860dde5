"""Settings resolved from the machine: each server process and each synthesis call its share of the cores."""

from __future__ import annotations

import pytest

from voicesmith.settings import Settings


@pytest.mark.parametrize(
    ("cores", "processes", "configured", "shares"),
    [
        (2, 1, {}, (2, 1)),  # two calls of one thread, not two of two: their threads spin
        (2, 2, {}, (1, 1)),  # serve --workers 2
        (8, 2, {}, (4, 1)),
        (1, 4, {}, (1, 1)),  # never zero
        (2, 1, {"max_concurrent_synthesis": 1}, (1, 2)),  # one call at a time gets every core
        (2, 1, {"intra_op_threads": 3}, (2, 3)),  # what an operator set stands
    ],
)
def test_synthesis_shares_split_the_cores(monkeypatch, cores, processes, configured, shares):
    monkeypatch.setattr("os.cpu_count", lambda: cores)
    assert Settings(**configured).synthesis_shares(processes) == shares


def test_a_server_gives_each_synthesis_call_its_share(monkeypatch, tmp_path):
    from voicesmith.server.app import build_services

    monkeypatch.setattr("os.cpu_count", lambda: 2)
    services = build_services(Settings(data_dir=tmp_path, task_workers=0))
    try:
        assert services.pool.size == 2
        assert services.synthesizer.catalog.threads == 1
    finally:
        services.close()
