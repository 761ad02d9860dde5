"""Custom voices: CreateVoice, GetVoice, DeleteVoice; the Polly shape over the voice-job contract.

``POST /v1/voices`` takes either JSON (boto3's CreateVoice: ``Name``, ``LanguageCode``, ``TermsAccepted``,
``VoiceCreationData.Recordings``; or voicesmith's ``DatasetLocation``: an ``s3://`` URL or a folder the
operator allowed; plus optional ``VoiceId``, ``Gender`` and ``ConsentRecording``, base64 audio), or
multipart form data with the same fields, ``recordings`` files, a ``transcript`` file and an optional
``consent`` file. Uploads are checked on arrival (``voice_uploads``). The job itself is
``tasks.voice_jobs``: a voice-job worker hands it to the configured training backend and watches it.

Polly knows the statuses ``pending``, ``active`` and ``failed``: a training voice is ``pending`` there,
and the vendor field ``VoicesmithJob`` says more (state, stage, step of total, minutes left, the last
validation numbers, the dataset check's findings, the backend's job id and the log's last lines).
"""

from __future__ import annotations

import logging
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import PlainTextResponse
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
from voicesmith.server import voice_uploads as uploads
from voicesmith.server.deps import ServicesDep, polly_auth
from voicesmith.server.polly import ACCOUNT, REGION, epoch, language_name
from voicesmith.server.services import Services
from voicesmith.tasks.store import ACTIVE, FAILED, PENDING, TRAINING, VoiceJobRow
from voicesmith.tasks.voice_jobs import (
    BACKEND_KEY,
    LOG_FILE,
    VoiceJob,
    cancel_voice_job,
    cleanup_job_files,
    job_folder,
    progress,
    tail,
)

_LOGGER = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["custom voices"], dependencies=[Depends(polly_auth)])

TRAINING_UNAVAILABLE = "voice training is not available in this installation"
GENDERS = ("Female", "Male", "Neutral")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")


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
    Transcript: str | None = None
    """voicesmith: ``file|text`` lines for JSON recordings (``recording000.wav``, ... in order, or the
    S3Url's file names); multipart uploads send a ``transcript`` file instead."""
    ConsentRecording: Any = None
    """Optional: the speaker saying that they consent, base64 audio (checked in the training job)."""


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


def _dataset_from_json(services: Services, fields: CreateVoiceFields, folder: FsPath) -> dict[str, Any]:
    settings = services.settings
    if fields.DatasetLocation:
        data: dict[str, Any] = {"location": uploads.allowed_location(settings, fields.DatasetLocation)}
    else:
        recordings = (fields.VoiceCreationData or {}).get("Recordings")
        data = uploads.recordings_from_json(settings, recordings, folder)
    if fields.Transcript is not None and "location" not in data:
        (folder / "transcript.txt").write_text(fields.Transcript, encoding="utf-8")
        uploads.check_transcript(folder / "transcript.txt", "Transcript")
        data["transcript"] = "transcript.txt"
    if fields.ConsentRecording is not None:
        data["consent"] = uploads.consent_from_json(settings, fields.ConsentRecording, folder)
        data["folder"] = str(folder)
    return data


async def _read_form(request: Request) -> tuple[dict[str, Any], list[UploadFile], Any, UploadFile | None]:
    settings = request.app.state.services.settings
    form = await request.form(max_files=settings.max_recordings + 2, max_fields=100)
    fields = {
        key: value
        for key, value in form.items()
        if isinstance(value, str) and key not in ("transcript", "consent", "recordings")
    }
    recordings = [item for item in form.getlist("recordings") if isinstance(item, UploadFile)]
    transcript = form.get("transcript")
    consent = form.get("consent")
    if not recordings:
        raise ValidationError("multipart upload needs at least one 'recordings' file")
    if transcript is None:
        raise ValidationError("multipart upload needs a 'transcript' (file or text field)")
    if consent is not None and not isinstance(consent, UploadFile):
        raise ValidationError("'consent' must be an audio file of the speaker giving consent")
    return fields, recordings, transcript, consent


def _save_uploads(
    services: Services,
    folder: FsPath,
    recordings: list[UploadFile],
    transcript: UploadFile | str,
    consent: UploadFile | None,
) -> dict[str, Any]:
    """Copy the uploads into the job's folder under safe names, checking each (blocking: in a thread)."""
    settings = services.settings
    uploads.check_count(settings, len(recordings))
    names: list[str] = []
    for index, upload in enumerate(recordings):
        name = uploads.safe_file_name(upload.filename, f"recording{index:03d}.wav")
        if name in names or name.startswith("consent."):
            name = f"{index:03d}-{name}"
        uploads.save_stream(upload.file, folder / "recordings" / name)
        uploads.check_recording(settings, folder / "recordings" / name, upload.filename or name)
        names.append(name)
    if isinstance(transcript, UploadFile):
        transcript_name = uploads.safe_file_name(transcript.filename, "transcript.txt")
        uploads.save_stream(transcript.file, folder / transcript_name)
    else:
        transcript_name = "transcript.txt"
        (folder / transcript_name).write_text(transcript, encoding="utf-8")
    uploads.check_transcript(folder / transcript_name, transcript_name)
    data: dict[str, Any] = {"folder": str(folder), "recordings": names, "transcript": transcript_name}
    if consent is not None:
        suffix = FsPath(uploads.safe_file_name(consent.filename, "consent.wav")).suffix or ".wav"
        path = folder / "recordings" / f"consent{suffix}"
        uploads.save_stream(consent.file, path)
        uploads.check_recording(settings, path, consent.filename or "consent")
        data["consent"] = path.name
    return data


def voice_job_json(row: VoiceJobRow, services: Services | None = None) -> dict[str, Any]:
    """GetVoice's answer for a job: Polly's fields, and voicesmith's job details beside them."""
    voice: dict[str, Any] = {
        "Arn": f"arn:aws:polly:{REGION}:{ACCOUNT}:voice/{row.id}",
        "Id": row.id,
        "Name": row.name,
        "LanguageCode": row.language,
        "LanguageName": language_name(row.language),
        "Origin": "customer",
        "Status": row.status if row.status in (ACTIVE, FAILED) else PENDING,
        "SupportedEngines": ["neural"],
        "CreationTime": epoch(row.created),
    }
    if row.gender:
        voice["Gender"] = row.gender
    if row.status_reason:
        voice["StatusReason"] = row.status_reason
    if services is not None:
        folder = job_folder(services.settings, row.id)
        details = {"State": row.status, **progress(folder, (row.dataset or {}).get(BACKEND_KEY))}
        log = tail(folder / LOG_FILE, 2000).strip()
        if log:
            details["Log"] = "\n".join(log.splitlines()[-20:])
        voice["VoicesmithJob"] = details
        if voice["Status"] == PENDING and "StatusReason" not in voice:
            voice["StatusReason"] = _summary(details)  # what boto3 users see (it drops unknown fields)
    return {"Voice": voice}


def _summary(details: dict[str, Any]) -> str:
    """``training: step 120 of 2000, about 33 min left`` and the like."""
    parts = [str(details.get("Stage") or details["State"])]
    if details.get("TotalSteps"):
        parts.append(f"step {details.get('Step', 0)} of {details['TotalSteps']}")
    if details.get("MinutesLeft") is not None:
        parts.append(f"about {details['MinutesLeft']:.0f} min left")
    if details.get("BackendState"):
        parts.append(f"{details.get('Backend')} says {details['BackendState']}")
    return ", ".join(parts)


@router.post("/voices", summary="CreateVoice")
async def create_voice(request: Request, services: ServicesDep) -> dict:
    length = request.headers.get("content-length", "")
    uploads.check_quota(services.settings, int(length) if length.isdigit() else 0)
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        raw, recordings, transcript, consent = await _read_form(request)
        raw["TermsAccepted"] = str(raw.get("TermsAccepted", "")).lower() in ("true", "1", "yes")
        fields = _parse_fields(raw)

        def dataset(staging: FsPath) -> dict[str, Any]:
            return _save_uploads(services, staging, recordings, transcript, consent)
    else:
        try:
            fields = _parse_fields(await request.json())
        except ValueError as error:  # not JSON at all
            raise ValidationError(f"the body is not JSON ({error}); send CreateVoice's fields") from None

        def dataset(staging: FsPath) -> dict[str, Any]:
            return _dataset_from_json(services, fields, staging)

    row = await run_in_threadpool(_register, services, fields, dataset)
    if services.voice_runner is not None:
        services.voice_runner.wake()
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
        uploads.check_quota(services.settings, 0)  # what arrived counts now (bodies without a length)
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
        return voice_job_json(row, services)
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


@router.get("/voice-jobs", summary="List custom-voice jobs (voicesmith)")
def list_voice_jobs(services: ServicesDep) -> dict:
    """Every custom voice this server made or is making, newest first, as GetVoice shows each (the
    console's Voices panel; DescribeVoices lists only the voices that can speak)."""
    rows = services.store.list_voice_jobs(0, 200)
    return {"Voices": [voice_job_json(row, services)["Voice"] for row in rows]}


@router.get("/voices/{VoiceId}/log", summary="The training log of a custom voice (voicesmith)")
def get_voice_log(voice_id: VoiceIdPath, services: ServicesDep) -> PlainTextResponse:
    validate_voice_id(voice_id)
    row = services.store.get_voice_job(voice_id)
    if row is None:
        raise ResourceNotFoundError(f"no custom voice job with id {voice_id!r}")
    folder = job_folder(services.settings, voice_id)
    text = tail(folder / LOG_FILE, 200_000)
    backend = services.training_backend
    handle = (row.dataset or {}).get(BACKEND_KEY)
    if not text and backend is not None and handle and handle.get("backend") == backend.name:
        text = backend.log(VoiceJob.from_row(row, services.settings), handle)
    return PlainTextResponse(text)


@router.delete("/voices/{VoiceId}", summary="DeleteVoice")
def delete_voice(voice_id: VoiceIdPath, services: ServicesDep) -> dict:
    """Deletes a voice; one still training has its backend job cancelled and its files removed."""
    validate_voice_id(voice_id)
    row = services.store.get_voice_job(voice_id)
    catalog = services.synthesizer.catalog
    try:
        catalog.get(voice_id)
        catalog.remove(voice_id)
    except VoiceNotFoundError:
        if row is None:
            raise ResourceNotFoundError(f"no custom voice with id {voice_id!r}") from None
    if row is not None:
        if services.training_backend is not None:
            cancel_voice_job(services.store, services.settings, services.training_backend, row)
        else:  # an injected in-process runner cannot be stopped mid-job
            if row.status == TRAINING:
                raise ConflictError(f"voice {voice_id!r} is training; delete it once the job has finished")
            services.store.delete_voice_job(voice_id)
            cleanup_job_files(job_folder(services.settings, voice_id), keep_logs=False)
        if services.shared is not None:
            services.shared.remove_tree(shared_job_folder(voice_id))
    return {}


def make_voice_job_handler(services: Services, runner: VoiceJobRunner) -> Callable[[VoiceJobRow], None]:
    """An injected in-process runner (tests, embedders) as a voice-job handler (the server's own path
    is :class:`~voicesmith.tasks.voice_jobs.VoiceJobWatcher` over a training backend). Adapt it to the task
    pool: it gets a plain :class:`VoiceJob`, and a runner that
    returns without installing the voice fails the job, rather than leave an 'active' voice that cannot
    speak."""

    def handle(row: VoiceJobRow) -> None:
        job = VoiceJob.from_row(row, services.settings)
        if "folder" in job.dataset:  # this node's copy of the uploads (the job may come from another node)
            job.dataset["folder"] = str(job.folder)
        job.folder.mkdir(parents=True, exist_ok=True)
        if services.shared is not None and "folder" in row.dataset and not any(job.folder.iterdir()):
            # uploaded through another node: fetch the recordings from the shared storage
            services.shared.get_tree(shared_job_folder(row.id), job.folder)
        try:
            runner(job)
        except Exception:
            cleanup_job_files(job.folder, keep_logs=True)  # a failed job does not keep its uploads
            raise
        try:
            services.synthesizer.catalog.get(row.id)
        except VoiceNotFoundError:
            raise ValidationError(
                "the voice job finished without installing the voice in the catalog"
            ) from None

    return handle


def shared_job_folder(voice_id: str) -> str:
    """Where a voice job's uploads live in the shared storage (several nodes)."""
    return f"voice-jobs/{validate_voice_id(voice_id)}"
