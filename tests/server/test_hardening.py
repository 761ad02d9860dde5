"""Hostile and unlucky input through the real HTTP surface (boto3, the openai SDK, httpx): audio limits,
invalid Unicode, odd digits, forged tokens, ids with a newline, nested volumes, deterministic Ogg,
cancelling tasks, a full disk, a damaged database and the readiness check."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from botocore.exceptions import ClientError
from tasks.full_disk import FullDisk

from voicesmith.server.polly_tasks import CANCELLED_REASON

from .harness import make_settings, polly_client, serving, wait_for


def _breaks(count: int) -> str:
    return "<speak>Hello." + '<break time="10s"/>' * count + "Goodbye.</speak>"


def _error(call) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response
    return error["Error"]["Code"], error["Error"]["Message"], error["ResponseMetadata"]["HTTPStatusCode"]


def _task(polly, task_id: str) -> dict:
    return polly.get_speech_synthesis_task(TaskId=task_id)["SynthesisTask"]


def _finished(polly, task_id: str):
    task = _task(polly, task_id)
    return task if task["TaskStatus"] in ("completed", "failed") else None


# -- audio limits ----------------------------------------------------------------------------------------


def test_314_breaks_are_refused_with_the_limit(polly):
    code, message, status = _error(
        lambda: polly.synthesize_speech(Text=_breaks(314), TextType="ssml", VoiceId="joe", OutputFormat="pcm")
    )
    assert (code, status) == ("ValidationException", 400)
    assert "3140 s" in message and "limit is 600 s" in message


def test_a_task_over_the_task_limit_is_refused_when_submitted(polly):
    code, message, _ = _error(
        lambda: polly.start_speech_synthesis_task(
            Text=_breaks(1441),
            TextType="ssml",
            VoiceId="joe",
            OutputFormat="pcm",
            OutputS3BucketName="limits",
        )
    )
    assert code == "ValidationException" and "14410 s" in message and "14400 s of audio per task" in message


def test_nested_volumes_are_clamped_not_a_500(polly):
    ssml = "<speak>Now " + '<prosody volume="+60dB">' * 120 + "loud" + "</prosody>" * 120 + "</speak>"
    answer = polly.synthesize_speech(Text=ssml, TextType="ssml", VoiceId="joe", OutputFormat="pcm")
    assert len(answer["AudioStream"].read()) > 3200


# -- bad input: typed 4xx in each API's shape ------------------------------------------------------------


def test_lone_surrogates_in_polly_text_and_tasks(polly):
    for text_type, text in (("text", "Hello \ud800 there"), ("ssml", "<speak>Hi \udfff</speak>")):
        code, message, status = _error(
            lambda text=text, text_type=text_type: polly.synthesize_speech(
                Text=text, TextType=text_type, VoiceId="joe", OutputFormat="mp3"
            )
        )
        assert (code, status) == ("ValidationException", 400) and "lone surrogate" in message
    before = len(polly.list_speech_synthesis_tasks()["SynthesisTasks"])
    code, message, _ = _error(
        lambda: polly.start_speech_synthesis_task(
            Text="A task \ud83d.", VoiceId="joe", OutputFormat="mp3", OutputS3BucketName="surrogates"
        )
    )
    assert code == "ValidationException" and "U+D83D" in message
    assert len(polly.list_speech_synthesis_tasks()["SynthesisTasks"]) == before  # not accepted


def test_lone_surrogates_in_a_lexicon(polly):
    lexicon = (
        '<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" alphabet="ipa" '
        'xml:lang="en-US"><lexeme><grapheme>a\ud800</grapheme><alias>b</alias></lexeme></lexicon>'
    )
    code, message, status = _error(lambda: polly.put_lexicon(Name="broken", Content=lexicon))
    assert (code, status) == ("ValidationException", 400) and "lexicon 'broken'" in message


def test_lone_surrogates_in_openai_input_and_invocations(server):
    raw = b'{"model": "tts-1", "voice": "alloy", "input": "Hi \\ud800"}'
    answer = httpx.post(
        f"{server.url}/v1/audio/speech", content=raw, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == "input"
    assert "lone surrogate" in error["message"]
    answer = httpx.post(
        f"{server.url}/invocations",
        content=b'{"Text": "Hi \\udc00"}',
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 400 and answer.json()["__type"] == "ValidationException"


def test_a_superscript_sample_rate_is_an_invalid_sample_rate(polly):
    code, message, status = _error(
        lambda: polly.synthesize_speech(Text="Hi.", VoiceId="joe", OutputFormat="pcm", SampleRate="²")
    )
    assert (code, status) == ("InvalidSampleRateException", 400) and "'²'" in message


def test_next_tokens_with_huge_offsets(polly):
    token = base64.urlsafe_b64encode(json.dumps({"offset": 10**30}).encode()).decode()
    for call in (
        lambda: polly.list_lexicons(NextToken=token),
        lambda: polly.list_speech_synthesis_tasks(NextToken=token),
        lambda: polly.describe_voices(NextToken=token),
    ):
        code, _, status = _error(call)
        assert (code, status) == ("InvalidNextTokenException", 400)


def test_a_voice_id_with_a_trailing_newline_is_refused(polly, server):
    code, message, _ = _error(
        lambda: polly.synthesize_speech(Text="Hi.", VoiceId="joe\n", OutputFormat="mp3")
    )
    assert code == "ValidationException" and "invalid voice id" in message
    answer = httpx.post(
        f"{server.url}/v1/audio/speech", json={"model": "tts-1", "voice": {"id": "joe\n"}, "input": "Hi."}
    )
    assert answer.status_code in (400, 404) and "error" in answer.json()


# -- Ogg: the same request, the same bytes ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["ogg_vorbis", "ogg_opus"])
def test_ogg_outputs_are_deterministic(polly, fmt):
    def speak(text: str) -> bytes:
        return polly.synthesize_speech(Text=text, VoiceId="joe", OutputFormat=fmt)["AudioStream"].read()

    first, second, other = speak("The same words."), speak("The same words."), speak("Other words.")
    assert first == second and first[:4] == b"OggS"
    assert first[14:18] != other[14:18]  # a different request, a different stream serial


def test_openai_opus_is_deterministic(oai):
    def speak() -> bytes:
        return oai.audio.speech.create(
            model="tts-1", voice="alloy", input="Opus twice.", response_format="opus"
        ).content

    assert speak() == speak()


# -- tasks: cancel, full disk ----------------------------------------------------------------------------


@pytest.mark.slow
def test_cancel_a_running_task_stops_its_worker(polly, server):
    started = polly.start_speech_synthesis_task(
        Text=_breaks(1000), TextType="ssml", VoiceId="joe", OutputFormat="mp3", OutputS3BucketName="cancel"
    )["SynthesisTask"]
    wait_for(lambda: _task(polly, started["TaskId"])["TaskStatus"] == "inProgress")
    answer = httpx.delete(f"{server.url}/v1/synthesisTasks/{started['TaskId']}")
    assert answer.status_code == 200
    assert answer.json()["SynthesisTask"]["TaskStatus"] == "failed"
    task = _task(polly, started["TaskId"])
    assert task["TaskStatus"] == "failed" and task["TaskStatusReason"] == CANCELLED_REASON
    # The worker let go of it: the next task runs (one worker), and the cancelled one left no file.
    quick = polly.start_speech_synthesis_task(
        Text="After the cancel.", VoiceId="joe", OutputFormat="mp3", OutputS3BucketName="cancel"
    )["SynthesisTask"]
    assert wait_for(lambda: _finished(polly, quick["TaskId"]), timeout=60)["TaskStatus"] == "completed"
    folder = Path(urlparse(task["OutputUri"]).path).parent
    assert [p.name for p in folder.iterdir()] == [f"{quick['TaskId']}.mp3"]
    again = httpx.delete(f"{server.url}/v1/synthesisTasks/{started['TaskId']}")  # idempotent
    assert again.status_code == 200 and again.json()["SynthesisTask"]["TaskStatusReason"] == CANCELLED_REASON
    done = httpx.delete(f"{server.url}/v1/synthesisTasks/{quick['TaskId']}")
    assert done.status_code == 409 and done.json()["__type"] == "ConflictException"
    assert "already completed" in done.json()["message"]
    missing = httpx.delete(f"{server.url}/v1/synthesisTasks/no-such-task")
    assert missing.status_code == 400 and missing.json()["__type"] == "SynthesisTaskNotFoundException"


@pytest.mark.slow
def test_a_full_disk_fails_the_task_and_leaves_nothing_behind(tmp_path, shared_cache):
    with serving(make_settings(tmp_path / "data", shared_cache)) as running:
        polly = polly_client(running.url)
        storage = running.app.state.services.storage
        real_fs = storage.fs
        storage.fs = FullDisk(real_fs, room=2000)
        full = polly.start_speech_synthesis_task(
            Text="This task fills the disk.", VoiceId="joe", OutputFormat="pcm", OutputS3BucketName="disk"
        )["SynthesisTask"]
        task = wait_for(lambda: _finished(polly, full["TaskId"]))
        assert task["TaskStatus"] == "failed" and "No space left on device" in task["TaskStatusReason"]
        folder = Path(urlparse(task["OutputUri"]).path).parent
        assert list(folder.iterdir()) == []  # no .partial
        storage.fs = real_fs  # space again: the next task is not hurt by the first
        ok = polly.start_speech_synthesis_task(
            Text="Space again.", VoiceId="joe", OutputFormat="pcm", OutputS3BucketName="disk"
        )["SynthesisTask"]
        assert wait_for(lambda: _finished(polly, ok["TaskId"]))["TaskStatus"] == "completed"


def test_a_task_given_up_after_its_last_attempt_leaves_no_partial(tmp_path, shared_cache):
    from voicesmith.server import polly_tasks
    from voicesmith.tasks.runner import TaskRunner
    from voicesmith.tasks.store import IN_PROGRESS, TaskRow

    with serving(make_settings(tmp_path / "data", shared_cache, task_workers=0)) as running:
        polly = polly_client(running.url)
        started = polly.start_speech_synthesis_task(
            Text="Poison.", VoiceId="joe", OutputFormat="mp3", OutputS3BucketName="poison"
        )["SynthesisTask"]
        services = running.app.state.services
        for _ in range(3):  # three workers took it and died mid-write (their leases over at once)
            services.store.claim_next(TaskRow, -1.0, IN_PROGRESS)
        partial = Path(urlparse(started["OutputUri"]).path + ".partial")
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(b"half an mp3")
        runner = TaskRunner(  # as create_app wires it
            services.store,
            lambda row: polly_tasks.run_task(services, row),
            lambda row: None,
            max_attempts=3,
            on_task_finished=lambda task_id: polly_tasks.task_finished(services, task_id),
        )
        assert runner.run_once() is False  # nothing run again
        task = _task(polly, started["TaskId"])
        assert task["TaskStatus"] == "failed" and "gave up after 3 attempts" in task["TaskStatusReason"]
        assert not partial.exists()


def test_cancel_a_scheduled_task(tmp_path, shared_cache):
    with serving(make_settings(tmp_path / "data", shared_cache, task_workers=0)) as running:
        polly = polly_client(running.url)
        started = polly.start_speech_synthesis_task(
            Text="Never run.", VoiceId="joe", OutputFormat="mp3", OutputS3BucketName="later"
        )["SynthesisTask"]
        answer = httpx.delete(f"{running.url}/v1/synthesisTasks/{started['TaskId']}")
        assert answer.status_code == 200
        assert polly.list_speech_synthesis_tasks(Status="scheduled")["SynthesisTasks"] == []


# -- readiness and a damaged database --------------------------------------------------------------------


def test_readyz_reports_each_check(server):
    answer = httpx.get(f"{server.url}/readyz", timeout=120)
    assert answer.status_code == 200
    assert answer.json()["checks"] == {
        "database": {"ok": True},
        "storage": {"ok": True},
        "voice": {"ok": True},
    }


@pytest.mark.slow
def test_a_database_damaged_while_serving_gives_typed_503s_and_readyz_says_so(tmp_path, shared_cache):
    settings = make_settings(tmp_path / "data", shared_cache, task_workers=0)
    lexicon = (
        '<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" alphabet="ipa" '
        'xml:lang="en-US"><lexeme><grapheme>a</grapheme><alias>b</alias></lexeme></lexicon>'
    )
    with serving(settings) as running:
        polly = polly_client(running.url)
        for n in range(30):
            polly.put_lexicon(Name=f"lex{n}", Content=lexicon)
        store = running.app.state.services.store
        store.engine.dispose()
        with store.engine.connect() as connection:  # everything into the main file, as at a clean stop
            connection.exec_driver_sql("PRAGMA journal_mode=DELETE")
        store.engine.dispose()
        path = settings.data_dir / "voicesmith.db"
        data = bytearray(path.read_bytes())
        page = int.from_bytes(data[16:18], "big")
        data[page:] = bytes(len(data) - page)  # every page after the header page zeroed
        path.write_bytes(bytes(data))
        code, message, status = _error(lambda: polly.list_lexicons())
        assert (code, status) == ("ServiceFailureException", 503)
        assert str(path) in message and "restore it from a backup" in message
        ready = httpx.get(f"{running.url}/readyz", timeout=120)
        assert ready.status_code == 503 and ready.json()["status"] == "not ready"
        checks = ready.json()["checks"]
        assert checks["database"]["ok"] is False and str(path) in checks["database"]["error"]
        assert checks["storage"] == {"ok": True} and checks["voice"] == {"ok": True}
        assert httpx.get(f"{running.url}/healthz").status_code == 200  # alive, not ready


def test_readyz_names_an_unwritable_storage(tmp_path, shared_cache):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("x")
    with serving(make_settings(tmp_path / "data", shared_cache, storage_url=blocked.as_uri())) as running:
        ready = httpx.get(f"{running.url}/readyz", timeout=120)
        assert ready.status_code == 503
        assert ready.json()["checks"]["storage"]["ok"] is False
        assert str(blocked) in ready.json()["checks"]["storage"]["error"]
