"""Voice jobs under the ``local`` backend, through boto3 and HTTP: each job trains in its own
``voicesmith train --job`` process; synthesis tasks do not wait for it; DeleteVoice cancels it; a
server restart re-attaches to the running process instead of training twice."""

from __future__ import annotations

import os
import sys
import time

import httpx
import pytest
from training.train_fixtures import write_prepared_dataset

from voicesmith.tasks.voice_jobs import BACKEND_KEY

from .harness import make_settings, polly_client, serving, wait_for


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("datasets")
    write_prepared_dataset(root / "prepared")
    return root


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from voicesmith.training.tiny_voice import build_tiny_voice

    return build_tiny_voice(tmp_path_factory.mktemp("tiny"), seed=7)


@pytest.fixture()
def settings(tmp_path, shared_cache, datasets, tiny, monkeypatch):
    monkeypatch.setenv("VOICESMITH_SMALL_DISCRIMINATOR", "1")  # inherited by the training process
    return make_settings(
        tmp_path / "data",
        shared_cache,
        training_backend="local",
        training_command=[sys.executable, "-m", "voicesmith.cli"],
        training_poll_seconds=0.2,
        training_threads=1,
        voice_training_base=str(tiny),
        voice_training_steps=2,
        voice_training_batch_size=2,
        dataset_allowed_folders=[datasets],
    )


def create(url: str, voice_id: str, location) -> None:
    body = {"VoiceId": voice_id, "Name": voice_id, "LanguageCode": "en-US", "TermsAccepted": True}
    answer = httpx.post(f"{url}/v1/voices", json={**body, "DatasetLocation": str(location)})
    assert answer.status_code == 200, answer.text


def details(url: str, voice_id: str) -> dict:
    return httpx.get(f"{url}/v1/voices/{voice_id}").json()["Voice"].get("VoicesmithJob", {})


def alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.slow
def test_delete_cancels_the_training_process(settings, datasets):
    with serving(settings) as running:
        polly = polly_client(running.url)
        create(running.url, "cancel-me", datasets / "prepared")
        job = wait_for(
            lambda: (
                details(running.url, "cancel-me").get("BackendJobId") and details(running.url, "cancel-me")
            ),
            timeout=30,
        )
        pid = int(job["BackendJobId"])
        assert job["Backend"] == "local" and alive(pid)
        assert polly.get_voice(VoiceId="cancel-me")["Voice"]["Status"] == "pending"
        assert polly.delete_voice(VoiceId="cancel-me")["ResponseMetadata"]["HTTPStatusCode"] == 200
        wait_for(lambda: not alive(pid), timeout=15)
        assert not (settings.data_dir / "voice_jobs" / "cancel-me").exists()
        with pytest.raises(polly.exceptions.ResourceNotFoundException):
            polly.get_voice(VoiceId="cancel-me")


@pytest.mark.slow
def test_tasks_do_not_wait_for_training_and_a_restart_reattaches(settings, datasets):
    with serving(settings) as running:
        polly = polly_client(running.url)
        polly.synthesize_speech(Text="Warm up.", VoiceId="joe", OutputFormat="pcm")  # loads the voice
        create(running.url, "trained", datasets / "prepared")
        job = wait_for(
            lambda: details(running.url, "trained").get("BackendJobId") and details(running.url, "trained"),
            timeout=30,
        )
        pid = int(job["BackendJobId"])
        submitted = time.monotonic()
        task = polly.start_speech_synthesis_task(
            Text="Two words.", VoiceId="joe", OutputFormat="mp3", OutputS3BucketName="voices"
        )["SynthesisTask"]

        def task_done():
            status = polly.get_speech_synthesis_task(TaskId=task["TaskId"])["SynthesisTask"]["TaskStatus"]
            return status if status in ("completed", "failed") else None

        assert wait_for(task_done, timeout=30, interval=0.05) == "completed"
        waited = time.monotonic() - submitted
        print(f"synthesis task completed {waited:.2f} s after it was submitted, while a voice trained")
        assert alive(pid), "the training should still be running while the task completes"
        assert waited < 5.0, f"the synthesis task took {waited:.1f} s while a voice trained"
        seen = details(running.url, "trained")
        assert seen["State"] == "training" and seen["BackendJobId"] == str(pid)
    # The server is gone; the training process is not (it runs in a session of its own).
    with serving(settings) as running:
        polly = polly_client(running.url)

        def finished():
            voice = polly.get_voice(VoiceId="trained")["Voice"]
            return voice if voice["Status"] in ("active", "failed") else None

        voice = wait_for(finished, timeout=600, interval=0.5)
        assert voice["Status"] == "active", voice.get("StatusReason")
        row = running.app.state.services.store.get_voice_job("trained")
        assert row.dataset[BACKEND_KEY]["id"] == str(pid)  # re-attached, not submitted again
        log = (settings.data_dir / "voice_jobs" / "trained" / "train.log").read_text()
        assert log.count("starting trained") == 1
        assert "voice job done" in log
        audio = polly.synthesize_speech(Text="Hello there.", VoiceId="trained", OutputFormat="pcm")
        assert len(audio["AudioStream"].read()) > 4000
        assert "trained" in [v["Id"] for v in polly.describe_voices()["Voices"]]
        text = httpx.get(f"{running.url}/v1/voices/trained/log").text
        assert "voice job done" in text
    assert not os.path.exists(settings.data_dir / "voice_jobs" / "trained" / "studio")  # work files freed
