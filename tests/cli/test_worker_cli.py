"""``voicesmith worker``: synthesis tasks run in a process of their own, next to a server that runs
none, over the same data dir; SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from server.harness import make_settings, polly_client, serving, wait_for


@pytest.mark.slow
def test_a_task_worker_process_runs_the_tasks_a_server_accepts(tmp_path, shared_cache):
    settings = make_settings(tmp_path / "data", shared_cache, task_workers=0, voice_job_workers=0)
    env = {**os.environ, "VOICESMITH_DATA_DIR": str(settings.data_dir), "VOICESMITH_TASK_POLL_SECONDS": "0.2"}
    with serving(settings) as running:
        polly = polly_client(running.url)
        task = polly.start_speech_synthesis_task(
            Text="Run elsewhere.", VoiceId="joe", OutputFormat="mp3", OutputS3BucketName="out"
        )["SynthesisTask"]
        worker = subprocess.Popen(
            [sys.executable, "-m", "voicesmith.cli", "worker", "--tasks"],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:

            def status():
                found = polly.get_speech_synthesis_task(TaskId=task["TaskId"])["SynthesisTask"]["TaskStatus"]
                return found if found in ("completed", "failed") else None

            assert wait_for(status, timeout=120, interval=0.2) == "completed"
        finally:
            worker.send_signal(signal.SIGTERM)
            _, errors = worker.communicate(timeout=30)
        assert worker.returncode == 0, errors[-2000:]
        assert "worker running: synthesis tasks" in errors and "voice jobs" not in errors.split("running:")[1]


def test_a_worker_with_nothing_to_run_says_so(tmp_path):
    env = {**os.environ, "VOICESMITH_DATA_DIR": str(tmp_path), "VOICESMITH_TASK_WORKERS": "0"}
    done = subprocess.run([sys.executable, "-m", "voicesmith.cli", "worker", "--tasks"], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2 and "no workers to run" in done.stderr
