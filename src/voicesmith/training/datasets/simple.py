"""Readers for the layouts a customer makes by hand: LJSpeech, a folder of pairs, a CSV file."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from voicesmith.errors import DatasetError

from ._common import (
    AUDIO_EXTENSIONS,
    Dataset,
    DatasetIssue,
    EmotionAs,
    Utterance,
    normalize_emotion,
    pseudo_speaker,
    read_text_file,
    safe_id,
)

CSV_COLUMNS = ("path", "text", "speaker", "emotion")
"""CSV layout: a header row naming the columns. ``path`` (audio file, relative to the CSV file's folder)
and ``text`` are required; ``speaker`` (any name) and ``emotion`` (neutral, angry, happy, sad,
surprise) are optional. Columns are separated by commas, tabs, ``|`` or ``;`` (found from the header);
quote a field that holds the separator."""

_CSV_DELIMITERS = (",", "\t", "|", ";")


def read_ljspeech(root: Path, emotion_as: EmotionAs = "speaker") -> Dataset:
    """LJSpeech: ``metadata.csv`` with lines ``id|text[|normalized text]`` and ``wavs/{id}.wav``.

    The normalised text (third column) is used where it is present and not empty. The speaker is
    named after the dataset folder.
    """
    metadata = root / "metadata.csv"
    speaker = safe_id(root.resolve().name)
    utterances: list[Utterance] = []
    issues: list[DatasetIssue] = []
    text = read_text_file(metadata)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("|")
        utt_id = fields[0].strip()
        if len(fields) < 2 or not utt_id:
            issues.append(
                DatasetIssue("malformed", "expected 'id|text' or 'id|text|normalized text'", metadata, number)
            )
            continue
        normalized = fields[2].strip() if len(fields) > 2 else ""
        transcript = normalized or fields[1].strip()
        stem = utt_id[:-4] if utt_id.lower().endswith(".wav") else utt_id
        audio = root / "wavs" / f"{stem}.wav"
        if not audio.is_file():
            issues.append(
                DatasetIssue("missing_audio", f"audio file {audio} is missing", metadata, number, stem)
            )
            continue
        utterances.append(Utterance(safe_id(stem), audio, transcript, speaker))
    _note_unlisted(root / "wavs", utterances, issues)
    return Dataset(utterances, "ljspeech", root, issues)


def read_folder(root: Path, emotion_as: EmotionAs = "speaker") -> Dataset:
    """A folder (searched recursively) of ``x.wav`` + ``x.txt`` pairs; one speaker named after the folder."""
    speaker = safe_id(root.resolve().name)
    utterances: list[Utterance] = []
    issues: list[DatasetIssue] = []
    for audio in _audio_files(root):
        transcript_path = audio.with_suffix(".txt")
        relative = audio.relative_to(root).with_suffix("")
        utt_id = safe_id(*relative.parts)
        if not transcript_path.is_file():
            issues.append(
                DatasetIssue(
                    "missing_text", f"no transcript {transcript_path.name} beside it", audio, None, utt_id
                )
            )
            continue
        transcript = " ".join(read_text_file(transcript_path).split())
        utterances.append(Utterance(utt_id, audio, transcript, speaker))
    return Dataset(utterances, "folder", root, issues)


def find_csv(path: Path) -> Path | None:
    """``path`` itself, or the CSV/TSV file in the folder ``path`` whose header names path and text.

    Raises :class:`DatasetError` when the folder holds several such files.
    """
    candidates = [path] if path.is_file() else sorted(path.glob("*.csv")) + sorted(path.glob("*.tsv"))
    found = [candidate for candidate in candidates if _csv_header(candidate) is not None]
    if len(found) > 1:
        names = ", ".join(candidate.name for candidate in found)
        raise DatasetError(
            f"several CSV files with a path,text header ({names}): pass the one to use", path=path
        )
    return found[0] if found else None


def read_csv(path: Path, emotion_as: EmotionAs = "speaker") -> Dataset:
    """A CSV file with a header row; see :data:`CSV_COLUMNS` for the columns."""
    csv_path = find_csv(path) if path.is_dir() else path
    root = path if path.is_dir() else path.parent
    utterances: list[Utterance] = []
    issues: list[DatasetIssue] = []
    if csv_path is None or (delimiter := _csv_header(csv_path)) is None:
        where = csv_path or path
        issues.append(
            DatasetIssue(
                "malformed", "expected a header row naming the columns path,text[,speaker,emotion]", where, 1
            )
        )
        return Dataset(utterances, "csv", root, issues)
    base = csv_path.parent
    default_speaker = safe_id(base.resolve().name)
    reader = csv.DictReader(io.StringIO(read_text_file(csv_path)), delimiter=delimiter)
    reader.fieldnames = [name.strip().lower() for name in reader.fieldnames or []]
    for row in reader:
        number = reader.line_num
        audio_name = (row.get("path") or "").strip()
        transcript = (row.get("text") or "").strip()
        if not audio_name:
            issues.append(DatasetIssue("malformed", "the path column is empty", csv_path, number))
            continue
        source_emotion = (row.get("emotion") or "").strip() or None
        emotion = normalize_emotion(source_emotion) if source_emotion else None
        if source_emotion and emotion is None:
            issues.append(
                DatasetIssue(
                    "malformed",
                    f"emotion {source_emotion!r} is not one of neutral, angry, happy, sad, surprise",
                    csv_path,
                    number,
                )
            )
            continue
        speaker_name = (row.get("speaker") or "").strip()
        speaker = safe_id(speaker_name) if speaker_name else default_speaker
        audio = (base / audio_name).resolve() if not Path(audio_name).is_absolute() else Path(audio_name)
        utt_id = safe_id(speaker, Path(audio_name).with_suffix("").as_posix())
        if not audio.is_file():
            issues.append(
                DatasetIssue("missing_audio", f"audio file {audio} is missing", csv_path, number, utt_id)
            )
            continue
        speaker = pseudo_speaker(speaker, source_emotion, emotion_as)
        utterances.append(Utterance(utt_id, audio, transcript, speaker, emotion, source_emotion))
    return Dataset(utterances, "csv", root, issues)


def _csv_header(path: Path) -> str | None:
    """The delimiter of ``path`` when its first line is a header naming ``path`` and ``text``."""
    if path.suffix.lower() not in (".csv", ".tsv") or not path.is_file():
        return None
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as stream:
            first = stream.readline()
    except OSError:
        return None
    for delimiter in _CSV_DELIMITERS:
        names = {name.strip().lower() for name in first.split(delimiter)}
        if {"path", "text"} <= names:
            return delimiter
    return None


def _audio_files(root: Path) -> list[Path]:
    return sorted(
        path for path in root.rglob("*") if path.suffix.lower() in AUDIO_EXTENSIONS and path.is_file()
    )


def _note_unlisted(folder: Path, utterances: list[Utterance], issues: list[DatasetIssue]) -> None:
    listed = {utterance.audio_path.resolve() for utterance in utterances}
    listed |= {(folder / f"{issue.utterance_id}.wav").resolve() for issue in issues if issue.utterance_id}
    if not folder.is_dir():
        return
    for audio in _audio_files(folder):
        if audio.resolve() not in listed:
            issues.append(
                DatasetIssue("unlisted_audio", "audio file not listed in the metadata; ignored", audio)
            )
