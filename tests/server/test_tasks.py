"""Polly synthesis tasks through boto3: lifecycle, output, marks, webhooks, errors, and a server restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from voicesmith.audio.encode import decode

from .harness import free_port, make_settings, polly_client, serving, wait_for

SRC = Path(__file__).resolve().parents[2] / "src"


class Webhook:
    """An http server that records the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture()
def webhook():
    hook = Webhook()
    yield hook
    hook.close()


def finished(polly, task_id: str):
    task = polly.get_speech_synthesis_task(TaskId=task_id)["SynthesisTask"]
    return task if task["TaskStatus"] in ("completed", "failed") else None


def local_path(uri: str) -> Path:
    assert uri.startswith("file://")
    return Path(urlparse(uri).path)


def test_task_lifecycle_writes_audio_and_calls_the_webhook(polly, webhook):
    started = polly.start_speech_synthesis_task(
        Text="A task. It has two sentences.",
        VoiceId="joe",
        OutputFormat="mp3",
        OutputS3BucketName="my-bucket",
        OutputS3KeyPrefix="speech/run1/",
        SnsTopicArn=webhook.url,
    )["SynthesisTask"]
    assert started["TaskStatus"] in ("scheduled", "inProgress")
    assert started["RequestCharacters"] == len("A task. It has two sentences.")
    assert started["OutputUri"].endswith(f"/my-bucket/speech/run1/{started['TaskId']}.mp3")
    task = wait_for(lambda: finished(polly, started["TaskId"]))
    assert task["TaskStatus"] == "completed", task.get("TaskStatusReason")
    audio, rate = decode(local_path(task["OutputUri"]).read_bytes(), "mp3")
    assert rate == 24000 and len(audio) > rate
    wait_for(lambda: webhook.received)
    message = json.loads(webhook.received[0]["Message"])  # inside SNS's envelope, as Polly publishes it
    assert message["taskId"] == task["TaskId"]
    assert message["taskStatus"] == "COMPLETED"
    listed = polly.list_speech_synthesis_tasks(Status="completed")["SynthesisTasks"]
    assert task["TaskId"] in [t["TaskId"] for t in listed]


def test_speech_mark_task_writes_json_lines(polly):
    started = polly.start_speech_synthesis_task(
        Text="Marks in a task.",
        VoiceId="joe",
        OutputFormat="json",
        SpeechMarkTypes=["word"],
        OutputS3BucketName="marks-bucket",
    )["SynthesisTask"]
    task = wait_for(lambda: finished(polly, started["TaskId"]))
    assert task["TaskStatus"] == "completed" and task["OutputUri"].endswith(".marks")
    lines = local_path(task["OutputUri"]).read_text().splitlines()
    assert [json.loads(line)["value"] for line in lines] == ["Marks", "in", "a", "task"]


def test_task_that_cannot_run_fails_with_a_reason(tmp_path, shared_cache):
    """A task whose lexicon is deleted before a worker gets to it fails, and says why."""
    from voicesmith.server import polly_tasks
    from voicesmith.tasks.runner import TaskRunner

    lexicon = (
        '<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" alphabet="ipa" '
        'xml:lang="en-US"><lexeme><grapheme>a</grapheme><alias>b</alias></lexeme></lexicon>'
    )
    with serving(make_settings(tmp_path / "data", shared_cache, task_workers=0)) as running:
        polly = polly_client(running.url)
        polly.put_lexicon(Name="gone", Content=lexicon)
        started = polly.start_speech_synthesis_task(
            Text="Hi.",
            VoiceId="joe",
            OutputFormat="pcm",
            OutputS3BucketName="b-bucket",
            LexiconNames=["gone"],
        )["SynthesisTask"]
        polly.delete_lexicon(Name="gone")
        services = running.app.state.services
        worker = TaskRunner(services.store, lambda row: polly_tasks.run_task(services, row), lambda row: None)
        assert worker.run_once()
        task = polly.get_speech_synthesis_task(TaskId=started["TaskId"])["SynthesisTask"]
        assert task["TaskStatus"] == "failed"
        assert "gone" in task["TaskStatusReason"] and "does not exist" in task["TaskStatusReason"]


def test_task_pagination(polly):
    for n in range(3):
        polly.start_speech_synthesis_task(
            Text=f"Page {n}.", VoiceId="joe", OutputFormat="pcm", OutputS3BucketName="pages"
        )
    first = polly.list_speech_synthesis_tasks(MaxResults=2)
    assert len(first["SynthesisTasks"]) == 2 and first["NextToken"]
    second = polly.list_speech_synthesis_tasks(MaxResults=2, NextToken=first["NextToken"])
    ids = [t["TaskId"] for t in first["SynthesisTasks"] + second["SynthesisTasks"]]
    assert len(ids) == len(set(ids)) >= 3


BAD_TASKS = [
    ({"OutputS3BucketName": "../up"}, "InvalidS3BucketException"),
    ({"OutputS3BucketName": "UPPER"}, "InvalidS3BucketException"),
    ({"OutputS3KeyPrefix": "../../etc/"}, "InvalidS3KeyException"),
    ({"OutputS3KeyPrefix": "/abs/"}, "InvalidS3KeyException"),
    ({"OutputS3KeyPrefix": "a b"}, "InvalidS3KeyException"),
    ({"SnsTopicArn": "not-a-topic"}, "InvalidSnsTopicArnException"),
    ({"Text": "x" * 100_001}, "TextLengthExceededException"),
    ({"Engine": "turbo"}, "ValidationException"),
    ({"SampleRate": "11"}, "InvalidSampleRateException"),
    ({"SpeechMarkTypes": ["word"]}, "MarksNotSupportedForFormatException"),
    ({"LexiconNames": ["absent"]}, "LexiconNotFoundException"),
]


@pytest.mark.parametrize(
    ("fields", "error"), BAD_TASKS, ids=[e + str(i) for i, (_, e) in enumerate(BAD_TASKS)]
)
def test_bad_tasks_raise_polly_types(polly, fields, error):
    request = {
        "Text": "Hi.",
        "VoiceId": "joe",
        "OutputFormat": "mp3",
        "OutputS3BucketName": "ok-bucket",
        **fields,
    }
    with pytest.raises(getattr(polly.exceptions, error)):
        polly.start_speech_synthesis_task(**request)


def test_unknown_and_invalid_task_ids(polly):
    with pytest.raises(polly.exceptions.SynthesisTaskNotFoundException):
        polly.get_speech_synthesis_task(TaskId="00000000-0000-0000-0000-000000000000")
    with pytest.raises(polly.exceptions.InvalidTaskIdException):
        polly.get_speech_synthesis_task(TaskId="bad.id")
    with pytest.raises(polly.exceptions.ValidationException):
        polly.list_speech_synthesis_tasks(Status="done")


def test_output_to_another_fsspec_store(tmp_path, shared_cache):
    """A non-file storage URL (fsspec's in-memory store, standing in for s3://) gets the output."""
    import fsspec

    settings = make_settings(tmp_path / "data", shared_cache, storage_url="memory://voicesmith-test")
    with serving(settings) as running:
        polly = polly_client(running.url)
        started = polly.start_speech_synthesis_task(
            Text="Stored elsewhere.", VoiceId="joe", OutputFormat="pcm", OutputS3BucketName="mem-bucket"
        )["SynthesisTask"]
        task = wait_for(lambda: finished(polly, started["TaskId"]))
        assert task["TaskStatus"] == "completed"
        assert task["OutputUri"] == f"memory:///voicesmith-test/mem-bucket/{task['TaskId']}.pcm"
        data = fsspec.filesystem("memory").cat(f"/voicesmith-test/mem-bucket/{task['TaskId']}.pcm")
        assert len(data) > 16000


def _start_server_process(data_dir: Path, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "VOICESMITH_DATA_DIR": str(data_dir),
        "VOICESMITH_TASK_LEASE_SECONDS": "2",
        "VOICESMITH_TASK_POLL_SECONDS": "0.2",
        "VOICESMITH_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.1/32"]',
    }
    command = [sys.executable, "-c", "from voicesmith.cli import main; main()", "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, timeout=60, interval=0.2)
    return process


@pytest.mark.slow
def test_task_running_when_the_server_dies_completes_once_after_restart(tmp_path, shared_cache, webhook):
    data_dir = make_settings(tmp_path / "data", shared_cache).data_dir
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = _start_server_process(data_dir, port)
    try:
        polly = polly_client(url)
        text = " ".join(
            f"Sentence {n} of a text long enough to be killed halfway through." for n in range(14)
        )
        started = polly.start_speech_synthesis_task(
            Text=text,
            VoiceId="joe",
            OutputFormat="pcm",
            OutputS3BucketName="restart",
            SnsTopicArn=webhook.url,
        )["SynthesisTask"]
        task_id = started["TaskId"]
        wait_for(
            lambda: (
                polly.get_speech_synthesis_task(TaskId=task_id)["SynthesisTask"]["TaskStatus"] == "inProgress"
            )
        )
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    output = data_dir / "output" / "restart" / f"{task_id}.pcm"
    assert not output.exists()  # killed mid-task: nothing half-written under the final name
    process = _start_server_process(data_dir, port)
    try:
        polly = polly_client(url)
        assert polly.get_speech_synthesis_task(TaskId=task_id)["SynthesisTask"]["TaskStatus"] in (
            "inProgress",
            "completed",
        )
        task = wait_for(lambda: finished(polly, task_id), timeout=120)
        assert task["TaskStatus"] == "completed"
        wait_for(lambda: webhook.received)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    assert len(webhook.received) == 1  # completed exactly once
    assert len(output.read_bytes()) > 16000 * 2 * 20  # the whole text: over 20 s of 16 kHz pcm
    assert [p.name for p in output.parent.iterdir()] == [output.name]
