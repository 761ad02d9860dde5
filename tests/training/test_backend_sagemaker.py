"""The SageMaker backend's requests against botocore's own service model (Stubber: every field of every
request validated), S3 in moto's in-process mock, and the watcher installing the fetched voice."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from voicesmith.engine.catalog import VoiceCatalog
from voicesmith.settings import Settings
from voicesmith.tasks.store import PENDING, TRAINING, Store, VoiceJobRow
from voicesmith.tasks.voice_jobs import VoiceJob, VoiceJobWatcher
from voicesmith.training.backends.sagemaker import SageMakerBackend, training_job_name

BUCKET = "voicesmith-jobs"
ROLE = "arn:aws:iam::123456789012:role/voicesmith-training"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:training-job/x"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/voicesmith-train:0.1.0"


@pytest.fixture()
def aws(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        session.client("s3").create_bucket(Bucket=BUCKET)
        yield session


def make_settings(tmp_path: Path, **overrides) -> Settings:
    values = {
        "data_dir": tmp_path / "data",
        "training_backend": "sagemaker",
        "sagemaker_role_arn": ROLE,
        "sagemaker_image_uri": IMAGE,
        "sagemaker_s3_uri": f"s3://{BUCKET}/voices",
        "sagemaker_instance_count": 2,
        "sagemaker_use_spot": True,
        "voice_training_steps": 3000,
        **overrides,
    }
    return Settings(**values)


def prepared(tmp_path: Path) -> Path:
    folder = tmp_path / "prepared"
    (folder / "wavs").mkdir(parents=True)
    (folder / "dataset.json").write_text("{}")
    (folder / "manifest.jsonl").write_text("{}\n")
    (folder / "wavs" / "a.wav").write_bytes(b"RIFF")
    return folder


def job(settings: Settings, voice_id: str = "sm-voice") -> VoiceJob:
    folder = settings.data_dir / "voice_jobs" / voice_id
    folder.mkdir(parents=True)
    return VoiceJob(voice_id, "SM", "en-US", "Female", {"location": "s3://in/x/"}, folder, settings=settings)


def expected_request(name, instance_count=2, spot=True):
    channel = {"S3DataType": "S3Prefix", "S3DataDistributionType": "FullyReplicated"}
    stopping = {"MaxRuntimeInSeconds": 86400, **({"MaxWaitTimeInSeconds": 172800} if spot else {})}
    hyper = {"voice-id": "sm-voice", "max-steps": "3000", "batch-size": "8", "base": "joe"}
    if instance_count > 1:
        hyper["sagemaker_torch_distributed_enabled"] = "true"
    return {
        "TrainingJobName": name,
        "HyperParameters": hyper,
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "InputDataConfig": [
            {
                "ChannelName": "training",
                "DataSource": {"S3DataSource": {**channel, "S3Uri": ANY}},
                "InputMode": "File",
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/voices/sm-voice/output/"},
        "ResourceConfig": {
            "InstanceType": "ml.g5.2xlarge",
            "InstanceCount": instance_count,
            "VolumeSizeInGB": 50,
        },
        "StoppingCondition": stopping,
        "EnableManagedSpotTraining": spot,
        "CheckpointConfig": {
            "S3Uri": f"s3://{BUCKET}/voices/sm-voice/checkpoints/",
            "LocalPath": "/opt/ml/checkpoints",
        },
        "Environment": {"VOICESMITH_CHECKPOINT_DIR": "/opt/ml/checkpoints"},
        "Tags": [{"Key": "voicesmith:voice-id", "Value": "sm-voice"}],
    }


def described(name, status, secondary, **extra):
    """A DescribeTrainingJob answer with the fields the service model requires."""
    return {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
        "ModelArtifacts": {
            "S3ModelArtifacts": f"s3://{BUCKET}/voices/sm-voice/output/{name}/output/model.tar.gz"
        },
        "TrainingJobStatus": status,
        "SecondaryStatus": secondary,
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "ResourceConfig": {"InstanceType": "ml.g5.2xlarge", "InstanceCount": 2, "VolumeSizeInGB": 50},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "CreationTime": "2026-12-01T10:00:00Z",
        **extra,
    }


def test_job_names_fit_sagemaker():
    name = training_job_name("a_very.long-voice_id" * 4, now=1796116582)
    assert len(name) <= 63 and name.endswith("-1796116582")
    assert all(c.isalnum() or c == "-" for c in name)


def test_submit_poll_cancel_against_the_service_model(tmp_path, aws):
    settings = make_settings(tmp_path)
    backend = SageMakerBackend(settings, session=aws, prepare=lambda _job: prepared(tmp_path))
    the_job = job(settings)
    with Stubber(backend.sagemaker) as stub:
        stub.add_response(
            "create_training_job",
            {"TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/x"},
            expected_request(ANY),
        )
        handle = backend.submit(the_job)
        name = handle["id"]
        assert name.startswith("voicesmith-sm-voice-")
        keys = {o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]}
        assert f"voices/sm-voice/{name}/dataset/wavs/a.wav" in keys
        assert f"voices/sm-voice/{name}/dataset/manifest.jsonl" in keys

        stub.add_response("describe_training_job", described(name, "InProgress", "Downloading"),
                          {"TrainingJobName": name})  # fmt: skip
        status = backend.poll(the_job, handle)
        assert (status.state, status.detail) == ("pending", "InProgress (Downloading)")

        progress = {"step": 1500, "total": 3000, "eta_s": 600, "validation": {"val_mel": 0.4}}
        aws.client("s3").put_object(Bucket=BUCKET, Key="voices/sm-voice/checkpoints/sm-voice/progress.json",
                                    Body=json.dumps(progress).encode())  # fmt: skip
        stub.add_response("describe_training_job", described(name, "InProgress", "Training"),
                          {"TrainingJobName": name})  # fmt: skip
        assert backend.poll(the_job, handle).state == "running"
        assert json.loads((the_job.run_dir / "progress.json").read_text())["step"] == 1500
        assert json.loads((the_job.folder / "status.json").read_text()) == {"stage": "training"}

        stub.add_response("describe_training_job",
                          described(name, "Failed", "Failed", FailureReason="AlgorithmError: out of memory"),
                          {"TrainingJobName": name})  # fmt: skip
        failed = backend.poll(the_job, handle)
        assert failed.state == "failed" and "out of memory" in failed.reason

        stub.add_response("stop_training_job", {}, {"TrainingJobName": name})
        backend.cancel(the_job, handle)
        stub.add_client_error("stop_training_job", "ValidationException", "already stopped",
                              expected_params={"TrainingJobName": name})  # fmt: skip
        backend.cancel(the_job, handle)  # idempotent
        stub.assert_no_pending_responses()


def test_one_instance_on_demand_has_no_distribution_or_spot(tmp_path, aws):
    settings = make_settings(tmp_path, sagemaker_instance_count=1, sagemaker_use_spot=False)
    backend = SageMakerBackend(settings, session=aws, prepare=lambda _job: prepared(tmp_path))
    with Stubber(backend.sagemaker) as stub:
        stub.add_response("create_training_job", {"TrainingJobArn": ARN},
                          expected_request(ANY, instance_count=1, spot=False))  # fmt: skip
        backend.submit(job(settings))
        stub.assert_no_pending_responses()


def test_missing_configuration_is_named(tmp_path, aws):
    from voicesmith.errors import TrainingError

    settings = make_settings(tmp_path, sagemaker_role_arn=None)
    backend = SageMakerBackend(settings, session=aws, prepare=lambda _job: prepared(tmp_path))
    with pytest.raises(TrainingError, match="VOICESMITH_SAGEMAKER_ROLE_ARN"):
        backend.submit(job(settings))


@pytest.mark.slow
def test_the_watcher_installs_the_fetched_artefact_through_the_catalog(
    tmp_path, aws, shared_cache, tiny_voices
):
    settings = make_settings(tmp_path)
    (settings.data_dir).mkdir(parents=True)
    (settings.data_dir / "cache").symlink_to(shared_cache, target_is_directory=True)
    store = Store(settings.database_url)
    store.add(VoiceJobRow(id="sm-voice", name="SM", language="en-US", gender="Female",
                          dataset={"location": "s3://in/x/"}, status=PENDING, created=None))  # fmt: skip
    row = store.claim_next(VoiceJobRow, 30, TRAINING)
    tiny = tiny_voices[1]  # the session's tiny voice (no torch import of our own)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        tar.add(tiny, "sm-voice/sm-voice.onnx")
        tar.add(f"{tiny}.json", "sm-voice/sm-voice.onnx.json")
        meta = json.dumps({"id": "sm-voice", "name": "SM", "gender": "female", "language": "en_US"}).encode()
        info = tarfile.TarInfo("sm-voice/voice.json")
        info.size = len(meta)
        tar.addfile(info, io.BytesIO(meta))
    backend = SageMakerBackend(settings, session=aws, prepare=lambda _job: prepared(tmp_path))
    catalog = VoiceCatalog(settings)
    watcher = VoiceJobWatcher(store, settings, catalog, backend, poll_seconds=0.01)
    with Stubber(backend.sagemaker) as stub:
        stub.add_response("create_training_job", {"TrainingJobArn": ARN}, expected_request(ANY))
        original = backend.submit

        def submit_and_upload(the_job):
            """Submit, then let the stubbed job run: training, completed, its artefact in S3."""
            handle = original(the_job)
            name = handle["id"]
            key = f"voices/sm-voice/output/{name}/output/model.tar.gz"
            aws.client("s3").put_object(Bucket=BUCKET, Key=key, Body=archive.getvalue())
            artefact = {"ModelArtifacts": {"S3ModelArtifacts": f"s3://{BUCKET}/{key}"}}
            for status in ("InProgress", "Completed", "Completed"):
                answer = {
                    **described(name, status, "Training" if status == "InProgress" else status),
                    **artefact,
                }
                stub.add_response("describe_training_job", answer, {"TrainingJobName": name})
            return handle

        backend.submit = submit_and_upload
        watcher(row)
        stub.assert_no_pending_responses()
    info = catalog.get("sm-voice")
    assert info.origin == "trained" and info.gender == "Female"
    handle = store.get_voice_job("sm-voice").dataset["backend"]
    assert handle["backend"] == "sagemaker" and handle["id"].startswith("voicesmith-sm-voice-")
