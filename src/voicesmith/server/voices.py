"""Custom voices: CreateVoice, GetVoice, DeleteVoice, as durable jobs run by the task worker pool.

``POST /v1/voices`` takes either JSON (boto3's CreateVoice: ``Name``, ``LanguageCode``, ``TermsAccepted``,
``VoiceCreationData.Recordings``; or voicesmith's ``DatasetLocation``: a folder on the server or an
``s3://`` URL; plus optional ``VoiceId`` and ``Gender``), or multipart form data with the same fields
and ``recordings`` files plus a ``transcript`` file. The job runs ``voice_job_runner`` (injected into
``create_app``); until a training pipeline is plugged in, the default fails every job honestly.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from voicesmith.engine.catalog import validate_voice_id
from voicesmith.errors import (
    ConflictError,
    ResourceNotFoundError,
    ValidationError,
    VoiceExistsError,
    VoiceNotFoundError,
    VoiceTrainingUnavailableError,
)
from voicesmith.server.deps import ServicesDep, polly_auth
from voicesmith.server.polly import ACCOUNT, REGION, epoch, language_name
from voicesmith.server.services import Services
from voicesmith.settings import Settings
from voicesmith.tasks.store import ACTIVE, PENDING, TRAINING, VoiceJobRow

_LOGGER = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["custom voices"], dependencies=[Depends(polly_auth)])

TRAINING_UNAVAILABLE = "voice training is not available in this installation"
GENDERS = ("Female", "Male", "Neutral")
RECORDING_FORMATS = ("wav", "flac", "ogg_vorbis", "mp3")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")


@dataclass(frozen=True)
class VoiceJob:
    """What a voice-job runner is given: the voice to make and where its data is."""

    voice_id: str
    name: str
    language: str
    gender: str | None
    dataset: dict[str, Any]
    """``{"location": path or URL}`` or ``{"folder": ..., "recordings": [...], "transcript": ...}``."""
    folder: FsPath
    """A folder of the job's own (uploads live here; the runner may keep work files here)."""
    attempts: int = 1
    settings: Settings | None = field(default=None, compare=False)


VoiceJobRunner = Callable[[VoiceJob], None]
"""Makes the voice and installs it in the catalog under ``job.voice_id``; raises to fail the job."""


def unavailable_voice_job_runner(job: VoiceJob) -> None:
    """The default: no training pipeline in this installation, so the job fails and says so."""
    raise VoiceTrainingUnavailableError(TRAINING_UNAVAILABLE)


class CreateVoiceFields(BaseModel):
    model_config = ConfigDict(extra="ignore")

    Name: str = Field(min_length=1, max_length=64)
    LanguageCode: str
    TermsAccepted: bool = False
    VoiceId: str | None = None
    Gender: str | None = None
    DatasetLocation: str | None = None
    VoiceCreationData: dict[str, Any] | None = None


def job_folder(settings: Settings, voice_id: str) -> FsPath:
    return settings.data_dir / "voice_jobs" / validate_voice_id(voice_id)


def shared_job_folder(voice_id: str) -> str:
    """Where a voice job's uploads live in the shared storage (several nodes)."""
    return f"voice-jobs/{validate_voice_id(voice_id)}"


def _safe_file_name(name: str | None, fallback: str) -> str:
    base = _SAFE_NAME.sub("_", FsPath(name or "").name).lstrip("._")
    return base[:100] or fallback


def _check(services: Services, fields: CreateVoiceFields) -> str:
    if not fields.TermsAccepted:
        raise ValidationError(
            "TermsAccepted must be true: confirm that you have the speaker's consent to clone their voice "
            "and accept the terms of use"
        )
    if not _LANGUAGE.fullmatch(fields.LanguageCode):
        raise ValidationError(f"LanguageCode {fields.LanguageCode!r} is not a language code such as en-US")
    if fields.Gender is not None and fields.Gender not in GENDERS:
        raise ValidationError(f"Gender {fields.Gender!r} is not one of: {', '.join(GENDERS)}")
    voice_id = validate_voice_id(fields.VoiceId) if fields.VoiceId else f"vc-{uuid.uuid4().hex[:10]}"
    try:
        services.synthesizer.catalog.get(voice_id)
        exists = True
    except VoiceNotFoundError:
        exists = services.store.get_voice_job(voice_id) is not None
    if exists:
        raise VoiceExistsError(
            f"a voice with id {voice_id!r} already exists: pick another VoiceId or delete it"
        )
    return voice_id


def _dataset_from_json(fields: CreateVoiceFields, folder: FsPath) -> dict[str, Any]:
    if fields.DatasetLocation:
        location = fields.DatasetLocation
        if not location.startswith("s3://") and not (
            FsPath(location).is_absolute() and FsPath(location).exists()
        ):
            raise ValidationError(
                f"DatasetLocation {location!r} is neither an existing absolute path on the server "
                "nor an s3:// URL"
            )
        return {"location": location}
    recordings = (fields.VoiceCreationData or {}).get("Recordings")
    if not isinstance(recordings, list) or not recordings:
        raise ValidationError(
            "give the recordings: DatasetLocation, VoiceCreationData.Recordings, or a multipart upload"
        )
    names, urls = [], []
    for index, recording in enumerate(recordings):
        fmt = recording.get("Format") if isinstance(recording, dict) else None
        data = recording.get("Data") if isinstance(recording, dict) else None
        if fmt not in RECORDING_FORMATS or not isinstance(data, dict):
            raise ValidationError(
                f"Recordings[{index}] needs Format (one of {', '.join(RECORDING_FORMATS)}) and Data"
            )
        if data.get("S3Url"):
            urls.append(str(data["S3Url"]))
            continue
        try:
            audio = base64.b64decode(data.get("Bytes") or "", validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError(f"Recordings[{index}].Data.Bytes is not base64") from None
        if not audio:
            raise ValidationError(f"Recordings[{index}].Data needs S3Url or Bytes")
        name = f"recording{index:03d}.{'ogg' if fmt == 'ogg_vorbis' else fmt}"
        (folder / "recordings").mkdir(parents=True, exist_ok=True)
        (folder / "recordings" / name).write_bytes(audio)
        names.append(name)
    return {"folder": str(folder), "recordings": names, "urls": urls}


async def _read_form(request: Request) -> tuple[dict[str, Any], list[UploadFile], UploadFile | str]:
    form = await request.form(max_files=10_000, max_fields=100)
    fields = {key: value for key, value in form.items() if isinstance(value, str) and key != "transcript"}
    recordings = [item for item in form.getlist("recordings") if isinstance(item, UploadFile)]
    transcript = form.get("transcript")
    if not recordings:
        raise ValidationError("multipart upload needs at least one 'recordings' file")
    if transcript is None:
        raise ValidationError("multipart upload needs a 'transcript' (file or text field)")
    return fields, recordings, transcript


def _save_uploads(
    folder: FsPath, recordings: list[UploadFile], transcript: UploadFile | str
) -> dict[str, Any]:
    """Copy the uploads into the job's folder under safe names (blocking: run it in a thread)."""
    (folder / "recordings").mkdir(parents=True, exist_ok=True)
    names = []
    for index, upload in enumerate(recordings):
        name = _safe_file_name(upload.filename, f"recording{index:03d}.wav")
        with (folder / "recordings" / name).open("wb") as handle:
            shutil.copyfileobj(upload.file, handle)
        names.append(name)
    if isinstance(transcript, UploadFile):
        transcript_name = _safe_file_name(transcript.filename, "transcript.txt")
        with (folder / transcript_name).open("wb") as handle:
            shutil.copyfileobj(transcript.file, handle)
    else:
        transcript_name = "transcript.txt"
        (folder / transcript_name).write_text(transcript, encoding="utf-8")
    return {"folder": str(folder), "recordings": names, "transcript": transcript_name}


def voice_job_json(row: VoiceJobRow) -> dict[str, Any]:
    voice: dict[str, Any] = {
        "Arn": f"arn:aws:polly:{REGION}:{ACCOUNT}:voice/{row.id}",
        "Id": row.id,
        "Name": row.name,
        "LanguageCode": row.language,
        "LanguageName": language_name(row.language),
        "Origin": "customer",
        "Status": row.status,
        "SupportedEngines": ["neural"],
        "CreationTime": epoch(row.created),
    }
    if row.gender:
        voice["Gender"] = row.gender
    if row.status_reason:
        voice["StatusReason"] = row.status_reason
    return {"Voice": voice}


@router.post("/voices", summary="CreateVoice")
async def create_voice(request: Request, services: ServicesDep) -> dict:
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        raw, recordings, transcript = await _read_form(request)
        raw["TermsAccepted"] = str(raw.get("TermsAccepted", "")).lower() in ("true", "1", "yes")
        fields = _parse_fields(raw)

        def dataset(staging: FsPath) -> dict[str, Any]:
            return _save_uploads(staging, recordings, transcript)
    else:
        try:
            fields = _parse_fields(await request.json())
        except ValueError as error:  # not JSON at all
            raise ValidationError(f"the body is not JSON ({error}); send CreateVoice's fields") from None

        def dataset(staging: FsPath) -> dict[str, Any]:
            return _dataset_from_json(fields, staging)

    row = await run_in_threadpool(_register, services, fields, dataset)
    if services.runner is not None:
        services.runner.wake()
    return voice_job_json(row)


def _register(
    services: Services, fields: CreateVoiceFields, dataset: Callable[[FsPath], dict[str, Any]]
) -> VoiceJobRow:
    """Check the request, move its data into the job's folder and store the job (blocking)."""
    voice_id = _check(services, fields)
    staging = services.settings.data_dir / "voice_jobs" / f".upload-{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    try:
        data = dataset(staging)
        folder = job_folder(services.settings, voice_id)
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
        if "folder" in data:
            data["folder"] = str(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if services.shared is not None and "folder" in data:  # any node may claim the job: share its files
        services.shared.put_tree(folder, shared_job_folder(voice_id))
    row = VoiceJobRow(
        id=voice_id,
        name=fields.Name,
        language=fields.LanguageCode,
        gender=fields.Gender,
        dataset=data,
        status=PENDING,
        created=None,
    )
    services.store.add(row)
    _LOGGER.info("voice job %s created (%s)", voice_id, ", ".join(sorted(data)))
    return row


def _parse_fields(raw: object) -> CreateVoiceFields:
    if not isinstance(raw, dict):
        raise ValidationError("the body must be a JSON object with Name, LanguageCode and TermsAccepted")
    try:
        return CreateVoiceFields.model_validate(raw)
    except PydanticError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise ValidationError(f"invalid CreateVoice request: {problems}") from None


VoiceIdPath = Annotated[str, Path(alias="VoiceId")]


@router.get("/voices/{VoiceId}", summary="GetVoice")
def get_voice(voice_id: VoiceIdPath, services: ServicesDep) -> dict:
    validate_voice_id(voice_id)
    row = services.store.get_voice_job(voice_id)
    if row is not None:
        return voice_job_json(row)
    try:
        info = services.synthesizer.catalog.get(voice_id)
    except VoiceNotFoundError:
        raise ResourceNotFoundError(f"no custom voice with id {voice_id!r}") from None
    voice = {
        "Id": info.id,
        "Name": info.name,
        "Gender": info.gender,
        "LanguageCode": info.language,
        "LanguageName": language_name(info.language),
        "Origin": "aws" if info.origin == "bundled" else "customer",
        "Status": ACTIVE,
        "SupportedEngines": ["neural"],
    }
    return {"Voice": voice}


@router.delete("/voices/{VoiceId}", summary="DeleteVoice")
def delete_voice(voice_id: VoiceIdPath, services: ServicesDep) -> dict:
    validate_voice_id(voice_id)
    row = services.store.get_voice_job(voice_id)
    if row is not None and row.status == TRAINING:
        raise ConflictError(f"voice {voice_id!r} is training; delete it once the job has finished")
    catalog = services.synthesizer.catalog
    try:
        catalog.get(voice_id)
        catalog.remove(voice_id)
    except VoiceNotFoundError:
        if row is None:
            raise ResourceNotFoundError(f"no custom voice with id {voice_id!r}") from None
    if row is not None:
        services.store.delete_voice_job(voice_id)
        shutil.rmtree(job_folder(services.settings, voice_id), ignore_errors=True)
        if services.shared is not None:
            services.shared.remove_tree(shared_job_folder(voice_id))
    return {}


def make_voice_job_handler(services: Services, runner: VoiceJobRunner) -> Callable[[VoiceJobRow], None]:
    """Adapt an injected runner to the task pool: it gets a plain :class:`VoiceJob`, and a runner that
    returns without installing the voice fails the job, rather than leave an 'active' voice that cannot
    speak."""

    def handle(row: VoiceJobRow) -> None:
        folder = job_folder(services.settings, row.id)
        dataset = dict(row.dataset)
        if "folder" in dataset:  # this node's copy of the uploads (the job may come from another node)
            dataset["folder"] = str(folder)
        job = VoiceJob(
            voice_id=row.id,
            name=row.name,
            language=row.language,
            gender=row.gender,
            dataset=dataset,
            folder=folder,
            attempts=row.attempts,
            settings=services.settings,
        )
        job.folder.mkdir(parents=True, exist_ok=True)
        if services.shared is not None and "folder" in row.dataset and not any(job.folder.iterdir()):
            # uploaded through another node: fetch the recordings from the shared storage
            services.shared.get_tree(shared_job_folder(row.id), job.folder)
        runner(job)
        try:
            services.synthesizer.catalog.get(row.id)
        except VoiceNotFoundError:
            raise ValidationError(
                "the voice job finished without installing the voice in the catalog"
            ) from None

    return handle
