"""CreateVoice's data on arrival: uploads checked and stored, server-side folders only where allowed.

Every recording (and the consent recording) must decode as audio (libsndfile, via soundfile) and last
between ``min_recording_seconds`` and ``max_recording_seconds``; there may be at most
``max_recordings``; a transcript must be UTF-8 text. A bad file is refused at once with a
ValidationException naming it, instead of failing the job later. All voice-job folders together may
hold ``max_upload_storage_bytes`` (ServiceQuotaExceededException beyond it).

A ``DatasetLocation`` on the server is accepted only under a folder in ``dataset_allowed_folders``
(none by default), after resolving symlinks and ``..``; a missing folder and a forbidden one get the
same answer, so the errors never tell which paths exist.
"""

from __future__ import annotations

import base64
import binascii
import re
import shutil
from pathlib import Path
from typing import Any, BinaryIO

import soundfile

from voicesmith.errors import DatasetError, ServiceQuotaExceededError, ValidationError
from voicesmith.settings import Settings
from voicesmith.tasks.voice_jobs import upload_bytes

RECORDING_FORMATS = ("wav", "flac", "ogg_vorbis", "mp3")
MAX_RECORDING_BYTES = 5 * 1024 * 1024
"""Polly's limit on one recording passed as Bytes."""
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_file_name(name: str | None, fallback: str) -> str:
    base = _SAFE_NAME.sub("_", Path(name or "").name).lstrip("._")
    return base[:100] or fallback


def allowed_location(settings: Settings, location: str) -> str:
    """``location`` if it is an ``s3://`` URL or a folder under an allowed one (resolved), else one
    ValidationException for missing and forbidden alike."""
    if location.startswith("s3://"):
        if len(location) <= len("s3://") or "/" in location[5:6]:
            raise ValidationError(f"DatasetLocation {location[:200]!r} is not an s3://bucket/prefix URL")
        return location
    refused = ValidationError(
        f"DatasetLocation {location[:200]!r} is not a dataset folder this server may read: upload the "
        "recordings, give an s3:// URL, or ask the operator which folders are allowed"
    )
    path = Path(location)
    if not path.is_absolute() or "\x00" in location:
        raise refused
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise refused from None
    for allowed in settings.dataset_allowed_folders:
        try:
            root = Path(allowed).resolve(strict=True)
        except (OSError, RuntimeError):
            continue
        if resolved.is_relative_to(root) and resolved.is_dir():
            return str(resolved)
    raise refused


def check_quota(settings: Settings, incoming: int) -> None:
    """Refuse an upload that would put the voice-job folders over ``max_upload_storage_bytes``."""
    used = upload_bytes(settings)
    if used + incoming > settings.max_upload_storage_bytes:
        raise ServiceQuotaExceededError(
            f"upload storage for custom voices is full ({used} of {settings.max_upload_storage_bytes} bytes "
            "in use): delete voices you no longer need or ask the operator to raise "
            "VOICESMITH_MAX_UPLOAD_STORAGE_BYTES"
        )


def check_recording(settings: Settings, path: Path, label: str) -> None:
    """A recording must decode as audio and last a sensible time (typed error naming ``label``)."""
    if path.stat().st_size == 0:
        raise DatasetError("the recording is empty (0 bytes)", path=label)
    try:
        info = soundfile.info(str(path))
        frames, rate = info.frames, info.samplerate
    except (RuntimeError, soundfile.LibsndfileError, ValueError):
        raise DatasetError(
            "not a recording: it does not decode as wav, flac, ogg or mp3 audio", path=label
        ) from None
    if rate <= 0 or frames <= 0:
        raise DatasetError("the recording holds no audio", path=label)
    seconds = frames / rate
    if seconds < settings.min_recording_seconds:
        raise DatasetError(
            f"the recording lasts {seconds:.2f} s; recordings need at least "
            f"{settings.min_recording_seconds} s of speech",
            path=label,
        )
    if seconds > settings.max_recording_seconds:
        raise DatasetError(
            f"the recording lasts {seconds:.0f} s; split it into clips of at most "
            f"{settings.max_recording_seconds:.0f} s, one sentence or a few each",
            path=label,
        )


def check_count(settings: Settings, count: int) -> None:
    if count > settings.max_recordings:
        raise ValidationError(
            f"{count} recordings is over this server's limit of {settings.max_recordings} per voice"
        )


def check_transcript(path: Path, label: str) -> None:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DatasetError(
            f"the transcript is not UTF-8 text (byte {error.start}): save it as UTF-8", path=label
        ) from None
    if not text.strip():
        raise DatasetError("the transcript is empty: give one 'file|text' line per recording", path=label)
    if "\x00" in text:
        raise DatasetError("the transcript is not text (it holds NUL bytes)", path=label)


def save_stream(source: BinaryIO, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as handle:
        shutil.copyfileobj(source, handle, 1 << 20)


def decode_bytes(value: object, label: str) -> bytes:
    """A base64 field of a JSON body (boto3 sends blobs base64-encoded), within Polly's 5 MB."""
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{label} needs S3Url or Bytes")
    if len(value) > MAX_RECORDING_BYTES * 4 // 3 + 8:
        raise ValidationError(f"{label} is over {MAX_RECORDING_BYTES} bytes; pass larger audio by S3Url")
    try:
        audio = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(f"{label} is not base64") from None
    if not audio:
        raise ValidationError(f"{label} needs S3Url or Bytes")
    return audio


def recordings_from_json(settings: Settings, recordings: Any, folder: Path) -> dict[str, Any]:
    """boto3's ``VoiceCreationData.Recordings`` -> files in ``folder/recordings``, each checked."""
    if not isinstance(recordings, list) or not recordings:
        raise ValidationError(
            "give the recordings: DatasetLocation, VoiceCreationData.Recordings, or a multipart upload"
        )
    check_count(settings, len(recordings))
    names, urls = [], []
    for index, recording in enumerate(recordings):
        label = f"Recordings[{index}]"
        fmt = recording.get("Format") if isinstance(recording, dict) else None
        data = recording.get("Data") if isinstance(recording, dict) else None
        if fmt not in RECORDING_FORMATS or not isinstance(data, dict):
            raise ValidationError(f"{label} needs Format (one of {', '.join(RECORDING_FORMATS)}) and Data")
        if data.get("S3Url"):
            url = str(data["S3Url"])
            if not url.startswith("s3://") or len(url) > 1024:
                raise ValidationError(f"{label}.Data.S3Url {url[:100]!r} is not an s3://bucket/key URL")
            urls.append(url)
            continue
        audio = decode_bytes(data.get("Bytes"), f"{label}.Data.Bytes")
        name = f"recording{index:03d}.{'ogg' if fmt == 'ogg_vorbis' else fmt}"
        path = folder / "recordings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(audio)
        check_recording(settings, path, label)
        names.append(name)
    return {"folder": str(folder), "recordings": names, "urls": urls}


def consent_from_json(settings: Settings, consent: Any, folder: Path) -> str:
    """``ConsentRecording``: base64 audio (or ``{"Format", "Data": {"Bytes"}}``) -> the stored name."""
    if isinstance(consent, dict):
        consent = (consent.get("Data") or {}).get("Bytes") if isinstance(consent.get("Data"), dict) else None
    audio = decode_bytes(consent, "ConsentRecording")
    path = folder / "recordings" / "consent.audio"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(audio)
    check_recording(settings, path, "ConsentRecording")
    return path.name
