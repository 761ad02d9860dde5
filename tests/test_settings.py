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
    monkeypatch.setattr("voicesmith.settings.usable_cores", lambda: cores)
    assert Settings(**configured).synthesis_shares(processes) == shares


def test_a_server_gives_each_synthesis_call_its_share(monkeypatch, tmp_path):
    from voicesmith.server.app import build_services

    monkeypatch.setattr("voicesmith.settings.usable_cores", lambda: 2)
    services = build_services(Settings(data_dir=tmp_path, task_workers=0))
    try:
        assert services.pool.size == 2
        assert services.synthesizer.catalog.threads == 1
    finally:
        services.close()


def test_usable_cores_follow_affinity_and_a_container_quota(monkeypatch, tmp_path):
    import voicesmith.settings as settings_module

    monkeypatch.setattr("os.sched_getaffinity", lambda _: {0, 1, 2, 3})
    quota = tmp_path / "cpu.max"
    real_path = settings_module.Path

    def path(name: str):
        return quota if name == "/sys/fs/cgroup/cpu.max" else real_path(name)

    monkeypatch.setattr(settings_module, "Path", path)
    quota.write_text("max 100000\n")
    assert settings_module.usable_cores() == 4  # no limit: the affinity
    quota.write_text("150000 100000\n")
    assert settings_module.usable_cores() == 2  # a limit of 1.5 CPUs
    quota.write_text("800000 100000\n")
    assert settings_module.usable_cores() == 4  # a limit above the affinity
    quota.unlink()
    assert settings_module.usable_cores() == 4  # cgroup v1 or no cgroup
