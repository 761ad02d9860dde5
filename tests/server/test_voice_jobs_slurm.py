"""Voice jobs on a real one-node SLURM cluster (Debian's slurmctld + slurmd + munge, started here):
sbatch of ``voicesmith train --job`` on shared storage, pending -> running -> the voice is active."""

from __future__ import annotations

import sys

import httpx
import pytest
from slurm_cluster import missing_tools, start_cluster
from training.train_fixtures import write_prepared_dataset

from .harness import make_settings, polly_client, serving, wait_for


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    missing = missing_tools()
    if missing:
        pytest.skip(f"SLURM is not installed ({', '.join(missing)}): `make test` installs it")
    cluster = start_cluster(tmp_path_factory.mktemp("slurm"))
    yield cluster
    cluster.stop()


def details(url: str, voice_id: str) -> dict:
    return httpx.get(f"{url}/v1/voices/{voice_id}").json()["Voice"].get("VoicesmithJob", {})


@pytest.mark.slow
def test_a_voice_trains_as_a_slurm_job(cluster, tmp_path, shared_cache, monkeypatch):
    from voicesmith.training.tiny_voice import build_tiny_voice

    for name, value in cluster.env.items():
        monkeypatch.setenv(name, value)  # SLURM_CONF for the client tools
    monkeypatch.setenv("VOICESMITH_SMALL_DISCRIMINATOR", "1")  # sbatch exports the environment
    datasets = tmp_path / "datasets"
    write_prepared_dataset(datasets / "prepared")
    tiny = build_tiny_voice(tmp_path / "tiny", seed=7)
    settings = make_settings(
        tmp_path / "data",
        shared_cache,
        training_backend="slurm",
        training_command=[sys.executable, "-m", "voicesmith.cli"],
        slurm_sbatch_args=["--hold", "--cpus-per-task=1"],  # held: the test sees it pending, then releases
        slurm_partition="debug",
        training_poll_seconds=0.3,
        voice_training_base=str(tiny),
        voice_training_steps=2,
        voice_training_batch_size=2,
        dataset_allowed_folders=[datasets],
        voice_job_workers=2,
    )
    with serving(settings) as running:
        polly = polly_client(running.url)
        body = {"VoiceId": "on-slurm", "Name": "On SLURM", "LanguageCode": "en-US", "TermsAccepted": True}
        answer = httpx.post(
            f"{running.url}/v1/voices", json={**body, "DatasetLocation": str(datasets / "prepared")}
        )
        assert answer.status_code == 200, answer.text
        held = wait_for(
            lambda: (
                "PENDING" in details(running.url, "on-slurm").get("BackendState", "")
                and details(running.url, "on-slurm")
            ),
            timeout=30,
        )
        assert held["Backend"] == "slurm" and held["State"] == "training"
        voice = polly.get_voice(VoiceId="on-slurm")["Voice"]
        assert voice["Status"] == "pending" and "PENDING" in voice["StatusReason"]
        queued = cluster.run("squeue", "-h", "-j", held["BackendJobId"], "-o", "%T %j")
        assert queued.stdout.split() == ["PENDING", "voicesmith-on-slurm"], queued
        # A second voice, held too, is cancelled: DeleteVoice scancels its SLURM job.
        answer = httpx.post(
            f"{running.url}/v1/voices",
            json={**body, "VoiceId": "slurm-cancel", "DatasetLocation": str(datasets / "prepared")},
        )
        assert answer.status_code == 200, answer.text
        doomed = wait_for(lambda: details(running.url, "slurm-cancel").get("BackendJobId"), timeout=30)
        polly.delete_voice(VoiceId="slurm-cancel")
        wait_for(
            lambda: "CANCELLED" in cluster.run("scontrol", "show", "job", doomed, "-o").stdout, timeout=30
        )
        assert not (settings.data_dir / "voice_jobs" / "slurm-cancel").exists()
        released = cluster.run("scontrol", "release", held["BackendJobId"])
        assert released.returncode == 0, released.stderr

        def started():
            return details(running.url, "on-slurm").get("BackendState", "").startswith("RUNNING") or (
                polly.get_voice(VoiceId="on-slurm")["Voice"]["Status"] != "pending"
            )

        wait_for(started, timeout=60)

        def finished():
            voice = polly.get_voice(VoiceId="on-slurm")["Voice"]
            return voice if voice["Status"] in ("active", "failed") else None

        try:
            voice = wait_for(finished, timeout=600, interval=0.5)
        except AssertionError:
            raise AssertionError(
                httpx.get(f"{running.url}/v1/voices/on-slurm/log").text + cluster.logs()
            ) from None
        log = httpx.get(f"{running.url}/v1/voices/on-slurm/log").text
        assert voice["Status"] == "active", f"{voice.get('StatusReason')}\n{log[-3000:]}"
        assert f"as SLURM job {held['BackendJobId']}" in log and "voice job done" in log
        audio = polly.synthesize_speech(
            Text="Trained on the cluster.", VoiceId="on-slurm", OutputFormat="pcm"
        )
        assert len(audio["AudioStream"].read()) > 4000
