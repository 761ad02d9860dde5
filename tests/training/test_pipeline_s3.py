"""A voice job's dataset from ``s3://`` (fsspec/s3fs) with the endpoint and credentials of the settings,
against moto's S3 server on loopback."""

from __future__ import annotations

import boto3
import pytest

from voicesmith.settings import Settings
from voicesmith.training.backends import job_environment
from voicesmith.training.pipeline import materialise


@pytest.fixture()
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_an_s3_dataset_is_fetched_with_the_settings_credentials(tmp_path, s3_endpoint):
    settings = Settings(
        data_dir=tmp_path / "data",
        s3_endpoint_url=s3_endpoint,
        aws_access_key_id="AKIDDATASETS",
        aws_secret_access_key="dataset-secret",
        aws_region="eu-west-1",
    )
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="eu-west-1",
                      aws_access_key_id="AKIDDATASETS", aws_secret_access_key="dataset-secret")  # fmt: skip
    s3.create_bucket(Bucket="recordings", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket="recordings", Key="speaker/metadata.csv", Body=b"a|Hello.\n")
    s3.put_object(Bucket="recordings", Key="speaker/wavs/a.wav", Body=b"RIFF....")
    folder = materialise({"location": "s3://recordings/speaker/"}, tmp_path / "work", settings)
    assert (folder / "metadata.csv").read_bytes() == b"a|Hello.\n"
    assert (folder / "wavs" / "a.wav").is_file()
    assert materialise({"location": "s3://recordings/speaker/"}, tmp_path / "work", settings) == folder


def test_the_training_command_gets_the_credentials_given_to_the_server(tmp_path):
    settings = Settings(
        data_dir=tmp_path, aws_access_key_id="AKID", aws_secret_access_key="s", s3_endpoint_url=None
    )
    env = job_environment(settings, base={"PATH": "/usr/bin"})
    assert env["VOICESMITH_AWS_ACCESS_KEY_ID"] == "AKID" and env["VOICESMITH_AWS_SECRET_ACCESS_KEY"] == "s"
    assert "VOICESMITH_S3_ENDPOINT_URL" not in env and env["PATH"] == "/usr/bin"


def test_s3url_recordings_are_fetched_beside_the_uploads(tmp_path, s3_endpoint):
    import io

    import numpy as np
    import soundfile

    settings = Settings(data_dir=tmp_path / "data", s3_endpoint_url=s3_endpoint, aws_access_key_id="AKID",
                        aws_secret_access_key="secret")  # fmt: skip
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                      aws_access_key_id="AKID", aws_secret_access_key="secret")  # fmt: skip
    s3.create_bucket(Bucket="clips")
    buffer = io.BytesIO()
    soundfile.write(buffer, np.zeros(8000, dtype="float32"), 16000, format="WAV")
    s3.put_object(Bucket="clips", Key="take one.wav", Body=buffer.getvalue())
    folder = tmp_path / "job"
    (folder / "recordings").mkdir(parents=True)
    (folder / "recordings" / "recording000.wav").write_bytes(buffer.getvalue())
    (folder / "transcript.txt").write_text("recording000.wav|Uploaded.\ntake_one.wav|From S3.\n")
    dataset = {"folder": str(folder), "recordings": ["recording000.wav"], "transcript": "transcript.txt",
               "urls": ["s3://clips/take one.wav"]}  # fmt: skip
    root = materialise(dataset, tmp_path / "work", settings)
    assert (folder / "recordings" / "take_one.wav").is_file()
    lines = (root / "metadata.csv").read_text().splitlines()
    assert lines == ["recording000|Uploaded.", "take_one|From S3."]


@pytest.mark.slow
def test_recordings_without_a_transcript_are_transcribed(tmp_path, speech_clips):
    import shutil

    from voicesmith.errors import DatasetError

    folder = tmp_path / "job"
    (folder / "recordings").mkdir(parents=True)
    for clip in speech_clips[:2]:
        shutil.copy(clip.path, folder / "recordings" / clip.path.name)
    names = [clip.path.name for clip in speech_clips[:2]]
    root = materialise({"folder": str(folder), "recordings": names}, tmp_path / "work", language="en-US")
    lines = (root / "metadata.csv").read_text().splitlines()
    assert [line.split("|")[0] for line in lines] == [n.removesuffix(".wav") for n in names]
    heard = (folder / "transcript.auto.txt").read_text().lower()
    assert all(word in heard for word in speech_clips[0].text.lower().replace(",", "").split()[:2])
    with pytest.raises(DatasetError, match="only English"):
        materialise(
            {"folder": str(tmp_path / "other"), "recordings": names}, tmp_path / "w2", language="de-DE"
        )
