"""The ``sagemaker`` backend: a voice job as a SageMaker training job running ``sagemaker_entry.py``.

1. The dataset is checked and prepared on this host, in a ``voicesmith train --job --prepare-only``
   subprocess (never in the API process), and uploaded to ``sagemaker_s3_uri/<voice>/<job>/dataset/``;
   a base voice given as a file goes up beside it as the ``base`` channel.
2. ``CreateTrainingJob`` with the voicesmith training image (docker/train.Dockerfile, whose entry point
   is sagemaker_entry.py), ``sagemaker_instance_count`` instances (more than one: torch_distributed
   across them), managed spot training if asked, and checkpoints in ``s3://.../<voice>/checkpoints``
   (``CheckpointConfig``): a spot interruption, a restart or a resubmission continues from there.
3. ``DescribeTrainingJob`` while it runs; the trainer's ``progress.json``, synced to S3 with the
   checkpoints, is copied into the job folder for GetVoice.
4. When it completes, ``model.tar.gz`` (the exported voice folder) is fetched and unpacked; the watcher
   installs it through the catalog. ``StopTrainingJob`` cancels.

Credentials: ``aws_access_key_id``/``aws_secret_access_key`` from the settings, else boto3's chain.
Needs the ``sagemaker`` extra (boto3).
"""

from __future__ import annotations

import logging
import re
import subprocess
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from voicesmith.errors import TrainingError
from voicesmith.settings import Settings
from voicesmith.tasks.voice_jobs import (
    JOB_FILE,
    LOG_FILE,
    PROGRESS_FILE,
    STATUS_FILE,
    BackendStatus,
    VoiceJob,
    read_json,
    tail,
    write_json,
)

_LOGGER = logging.getLogger(__name__)

CHANNEL = "training"
CHECKPOINT_DIR = "/opt/ml/checkpoints"
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
_STARTING = {"Starting", "Pending", "LaunchingMLInstances", "PreparingTrainingStack", "Downloading",
             "DownloadingTrainingImage", "Interrupted", "Restarting"}  # fmt: skip


def training_job_name(voice_id: str, now: float | None = None) -> str:
    """``voicesmith-<voice>-<unix time>``, within SageMaker's 63 characters and alphabet."""
    stamp = str(int(now if now is not None else time.time()))
    voice = re.sub(r"[^A-Za-z0-9]+", "-", voice_id).strip("-")[: 63 - len("voicesmith--") - len(stamp)]
    return f"voicesmith-{voice}-{stamp}"


def _split(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise TrainingError(f"VOICESMITH_SAGEMAKER_S3_URI {uri!r} is not an s3://bucket/prefix URL")
    bucket, _, prefix = uri[5:].partition("/")
    return bucket, prefix.strip("/")


class SageMakerBackend:
    name = "sagemaker"

    def __init__(
        self,
        settings: Settings,
        *,
        session: Any = None,
        prepare: Callable[[VoiceJob], Path] | None = None,
    ) -> None:
        try:
            import boto3
        except ImportError:
            raise TrainingError(
                "the sagemaker training backend needs boto3: pip install 'voicesmith[sagemaker]'"
            ) from None

        self.settings = settings
        self.session = session or boto3.session.Session(
            aws_access_key_id=settings.aws_access_key_id,
            aws_secret_access_key=settings.aws_secret_access_key,
            region_name=settings.aws_region,
        )
        self.sagemaker = self.session.client("sagemaker", region_name=settings.aws_region)
        self.s3 = self.session.client(
            "s3", region_name=settings.aws_region, endpoint_url=settings.s3_endpoint_url
        )
        self._prepare = prepare or self.prepare_locally

    # -- configuration -------------------------------------------------------------------------------------

    def _config(self) -> tuple[str, str, str, str]:
        settings = self.settings
        missing = [
            name
            for name, value in (
                ("VOICESMITH_SAGEMAKER_ROLE_ARN", settings.sagemaker_role_arn),
                ("VOICESMITH_SAGEMAKER_IMAGE_URI", settings.sagemaker_image_uri),
                ("VOICESMITH_SAGEMAKER_S3_URI", settings.sagemaker_s3_uri),
            )
            if not value
        ]
        if missing:
            raise TrainingError(f"the sagemaker training backend needs {', '.join(missing)}")
        bucket, prefix = _split(str(settings.sagemaker_s3_uri))
        return str(settings.sagemaker_role_arn), str(settings.sagemaker_image_uri), bucket, prefix

    def _key(self, prefix: str, *parts: str) -> str:
        return "/".join(p for p in (prefix, *parts) if p)

    # -- submit --------------------------------------------------------------------------------------------

    def prepare_locally(self, job: VoiceJob) -> Path:
        """check + prepare in a subprocess on this host (torch stays out of the worker process)."""
        from voicesmith.training.backends.local import LocalBackend

        local = LocalBackend(self.settings)
        command = [*local.command(job), "--prepare-only"]
        with (job.folder / LOG_FILE).open("ab") as log:
            done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                  cwd=job.folder, env=local.environment(), timeout=24 * 3600)  # fmt: skip
        status = read_json(job.folder / STATUS_FILE) or {}
        if done.returncode != 0 or not status.get("prepared"):
            raise TrainingError(status.get("reason") or f"preparing the dataset failed ({done.returncode})")
        return Path(status["prepared"])

    def _upload(self, folder: Path, bucket: str, key_prefix: str) -> None:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                self.s3.upload_file(str(path), bucket, f"{key_prefix}/{path.relative_to(folder).as_posix()}")

    def training_request(self, job: VoiceJob, name: str, bucket: str, prefix: str) -> dict[str, Any]:
        """The CreateTrainingJob request (every field as botocore's service model spells it)."""
        role, image, _, _ = self._config()
        settings = self.settings
        base = settings.voice_training_base
        hyper = {
            "voice-id": job.voice_id,
            "max-steps": str(settings.voice_training_steps),
            "batch-size": str(settings.voice_training_batch_size),
            "base": base if not Path(base).is_file() else f"/opt/ml/input/data/base/{Path(base).name}",
        }
        if settings.sagemaker_instance_count > 1:
            hyper["sagemaker_torch_distributed_enabled"] = "true"
        s3_source = {"S3DataType": "S3Prefix", "S3DataDistributionType": "FullyReplicated"}
        channels = [
            {
                "ChannelName": CHANNEL,
                "DataSource": {
                    "S3DataSource": {
                        **s3_source,
                        "S3Uri": f"s3://{bucket}/{self._key(prefix, job.voice_id, name, 'dataset')}/",
                    }
                },
                "InputMode": "File",
            }
        ]
        if Path(base).is_file():
            channels.append(
                {
                    "ChannelName": "base",
                    "DataSource": {
                        "S3DataSource": {
                            **s3_source,
                            "S3Uri": f"s3://{bucket}/{self._key(prefix, job.voice_id, name, 'base')}/",
                        }
                    },
                    "InputMode": "File",
                }
            )
        stopping = {"MaxRuntimeInSeconds": settings.sagemaker_max_run_seconds}
        if settings.sagemaker_use_spot:
            stopping["MaxWaitTimeInSeconds"] = 2 * settings.sagemaker_max_run_seconds
        return {
            "TrainingJobName": name,
            "HyperParameters": hyper,
            "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
            "RoleArn": role,
            "InputDataConfig": channels,
            "OutputDataConfig": {
                "S3OutputPath": f"s3://{bucket}/{self._key(prefix, job.voice_id, 'output')}/"
            },
            "ResourceConfig": {
                "InstanceType": settings.sagemaker_instance_type,
                "InstanceCount": settings.sagemaker_instance_count,
                "VolumeSizeInGB": 50,
            },
            "StoppingCondition": stopping,
            "EnableManagedSpotTraining": settings.sagemaker_use_spot,
            "CheckpointConfig": {
                "S3Uri": f"s3://{bucket}/{self._key(prefix, job.voice_id, 'checkpoints')}/",
                "LocalPath": CHECKPOINT_DIR,
            },
            "Environment": {"VOICESMITH_CHECKPOINT_DIR": CHECKPOINT_DIR},
            "Tags": [{"Key": "voicesmith:voice-id", "Value": job.voice_id}],
        }

    def submit(self, job: VoiceJob) -> dict[str, Any]:
        _, _, bucket, prefix = self._config()
        prepared = self._prepare(job)
        name = training_job_name(job.voice_id)
        self._upload(prepared, bucket, self._key(prefix, job.voice_id, name, "dataset"))
        base = Path(self.settings.voice_training_base)
        if base.is_file():
            for path in (base, Path(f"{base}.json")):
                if path.is_file():
                    self.s3.upload_file(
                        str(path), bucket, self._key(prefix, job.voice_id, name, "base", path.name)
                    )
        self.sagemaker.create_training_job(**self.training_request(job, name, bucket, prefix))
        return {"id": name}

    # -- watch ---------------------------------------------------------------------------------------------

    def _describe(self, handle: dict[str, Any]) -> dict[str, Any]:
        return self.sagemaker.describe_training_job(TrainingJobName=str(handle["id"]))

    def _sync_progress(self, job: VoiceJob) -> None:
        _, _, bucket, prefix = self._config()
        key = self._key(prefix, job.voice_id, "checkpoints", job.voice_id, PROGRESS_FILE)
        try:
            body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception:  # not written yet (or no permission): progress is advisory
            return
        job.run_dir.mkdir(parents=True, exist_ok=True)
        (job.run_dir / PROGRESS_FILE).write_bytes(body)

    def poll(self, job: VoiceJob, handle: dict[str, Any]) -> BackendStatus:
        described = self._describe(handle)
        status = described["TrainingJobStatus"]
        secondary = described.get("SecondaryStatus", "")
        detail = f"{status} ({secondary})" if secondary else status
        stage = {"Training": "training", "Uploading": "exporting"}.get(secondary, "starting")
        if status == "InProgress" and (read_json(job.folder / STATUS_FILE) or {}).get("stage") != stage:
            write_json(job.folder / STATUS_FILE, {"stage": stage})  # GetVoice's Stage, as on other backends
        if status == "InProgress":
            self._sync_progress(job)
            return BackendStatus("pending" if secondary in _STARTING else "running", detail=detail)
        if status == "Completed":
            self._sync_progress(job)
            return BackendStatus("succeeded", detail=detail)
        if status == "Failed":
            reason = described.get("FailureReason") or "no reason given"
            return BackendStatus(
                "failed", reason=f"SageMaker job {handle['id']} failed: {reason}", detail=detail
            )
        return BackendStatus("cancelled", reason=f"SageMaker job {handle['id']} was stopped", detail=detail)

    def cancel(self, job: VoiceJob, handle: dict[str, Any]) -> None:
        from botocore.exceptions import ClientError

        try:
            self.sagemaker.stop_training_job(TrainingJobName=str(handle["id"]))
        except ClientError as error:  # already stopped, completed or failed
            _LOGGER.info("StopTrainingJob %s: %s", handle["id"], error)

    def result(self, job: VoiceJob, handle: dict[str, Any]) -> Path:
        artefact = self._describe(handle).get("ModelArtifacts", {}).get("S3ModelArtifacts")
        if not artefact:
            raise TrainingError(f"SageMaker job {handle['id']} completed without a model artefact")
        bucket, key = _split(artefact)
        target = job.folder / "studio" / "sagemaker"
        target.mkdir(parents=True, exist_ok=True)
        archive = target / "model.tar.gz"
        self.s3.download_file(bucket, key, str(archive))
        unpacked = target / "model"
        with tarfile.open(archive) as tar:
            tar.extractall(unpacked, filter="data")  # no absolute paths, no .., no devices
        archive.unlink()
        folder = unpacked / job.voice_id
        if not folder.is_dir():
            raise TrainingError(f"the model artefact of {handle['id']} holds no {job.voice_id}/ voice folder")
        return folder

    def log(self, job: VoiceJob, handle: dict[str, Any]) -> str:
        """The training job's CloudWatch log (its first stream's last events), after our own log."""
        text = tail(job.folder / LOG_FILE)
        try:
            logs = self.session.client("logs", region_name=self.settings.aws_region)
            streams = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=str(handle["id"]))
            for stream in streams.get("logStreams", [])[:1]:
                events = logs.get_log_events(
                    logGroupName=LOG_GROUP,
                    logStreamName=stream["logStreamName"],
                    limit=200,
                    startFromHead=False,
                )
                text += "".join(f"{event['message']}\n" for event in events.get("events", []))
        except Exception as error:  # no permission or no log yet: say where to look
            text += f"(CloudWatch {LOG_GROUP}, streams {handle['id']}/*: {type(error).__name__})\n"
        return text


__all__ = ["JOB_FILE", "SageMakerBackend", "training_job_name"]
