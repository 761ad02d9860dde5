"""Training datasets: read a recording folder in any supported layout into one common record.

Layouts (``format``):

``ljspeech``  ``metadata.csv`` (``id|text[|normalized text]``) and ``wavs/{id}.wav``; one speaker.
``folder``    ``x.wav`` + ``x.txt`` pairs anywhere under the folder; one speaker.
``csv``       a CSV/TSV file with a header row ``path,text[,speaker,emotion]`` (see :data:`CSV_COLUMNS`).
``vctk``      ``txt/pXXX/*.txt`` + ``wav48*/pXXX/*.wav|flac`` (mic1 preferred); one speaker per folder.
``esd``       ``{spk}/{Emotion}/{spk}_{num}.wav`` + ``{spk}/{spk}.txt``.
``emovdb``    EmoV-DB wavs + the CMU ARCTIC prompts file ``cmuarctic.data``.

Emotion datasets (ESD, EmoV-DB, a CSV with an emotion column) become one pseudo-speaker per
(speaker, emotion) by default (``emotion_as="speaker"``: ``0011_angry``, ``bea_sleepiness``), or keep
the speaker and carry the emotion as a style (``emotion_as="style"``). Either way every utterance
records its emotion as a voicesmith label (:data:`EMOTION_LABELS`): ESD's names map one to one;
EmoV-DB's amused -> happy, anger -> angry, disgust -> angry, sleepiness -> neutral, neutral -> neutral.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from voicesmith.errors import DatasetError

from ._common import (
    EMOTION_LABELS,
    Dataset,
    DatasetIssue,
    EmotionAs,
    Utterance,
    dedupe,
    normalize_emotion,
)
from .corpora import esd_speakers, find_arctic_prompts, read_emovdb, read_esd, read_vctk, vctk_audio_dir
from .simple import CSV_COLUMNS, find_csv, read_csv, read_folder, read_ljspeech

__all__ = [
    "CSV_COLUMNS",
    "EMOTION_LABELS",
    "FORMATS",
    "Dataset",
    "DatasetIssue",
    "EmotionAs",
    "Utterance",
    "detect_format",
    "load_dataset",
    "normalize_emotion",
]

_LOGGER = logging.getLogger(__name__)

_READERS: dict[str, Callable[[Path, EmotionAs], Dataset]] = {
    "ljspeech": read_ljspeech,
    "folder": read_folder,
    "csv": read_csv,
    "vctk": read_vctk,
    "esd": read_esd,
    "emovdb": read_emovdb,
}
FORMATS: tuple[str, ...] = tuple(_READERS)


def detect_format(path: Path) -> str:
    """The layout of the dataset at ``path`` (a folder, or a CSV file)."""
    if path.is_file():
        if path.name == "metadata.csv" and find_csv(path) is None:
            return "ljspeech"
        if find_csv(path) is not None:
            return "csv"
        raise DatasetError(
            "not a dataset: expected a folder, or a CSV file with a path,text header", path=path
        )
    if (path / "metadata.csv").is_file() and find_csv(path / "metadata.csv") is None:
        return "ljspeech"
    if vctk_audio_dir(path) is not None:
        return "vctk"
    if find_arctic_prompts(path) is not None and any(path.rglob("*_[0-9][0-9][0-9][0-9].wav")):
        return "emovdb"
    if esd_speakers(path):
        return "esd"
    if find_csv(path) is not None:
        return "csv"
    if any(audio.with_suffix(".txt").is_file() for audio in path.rglob("*.wav")):
        return "folder"
    raise DatasetError(
        "cannot tell the dataset layout; pass --format with one of "
        f"{', '.join(FORMATS)} (an LJSpeech metadata.csv, x.wav + x.txt pairs, a CSV with a path,text "
        "header, VCTK txt/ + wav48/, ESD speaker folders, or EmoV-DB wavs + cmuarctic.data)",
        path=path,
    )


def load_dataset(
    path: str | Path,
    format: str | None = None,
    *,
    emotion_as: EmotionAs = "speaker",
    strict: bool = True,
) -> Dataset:
    """Reads the dataset at ``path``; ``format`` None detects the layout.

    Missing audio or transcripts are recorded in ``Dataset.issues`` and the utterance left out.
    Malformed metadata lines raise :class:`DatasetError` naming the file and line when ``strict``
    (the default); otherwise they are recorded as issues too (``dataset check`` reads that way).
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise DatasetError("no such file or folder", path=root)
    if emotion_as not in ("speaker", "style"):
        raise DatasetError(f"emotion_as must be 'speaker' or 'style', not {emotion_as!r}")
    if format is None:
        format = detect_format(root)
        _LOGGER.info("%s: detected layout %s", root, format)
    elif format not in _READERS:
        raise DatasetError(f"unknown dataset format {format!r}; use one of {', '.join(FORMATS)}")
    dataset = _READERS[format](root, emotion_as)
    dataset.utterances = dedupe(dataset.utterances, dataset.issues)
    if strict:
        malformed = [issue for issue in dataset.issues if issue.kind == "malformed"]
        if malformed:
            first = malformed[0]
            more = f" ({len(malformed) - 1} more malformed lines)" if len(malformed) > 1 else ""
            raise DatasetError(f"{first.message}{more}", path=first.path, line=first.line)
    for issue in dataset.issues:
        _LOGGER.debug("%s: %s", issue.where(), issue.message)
    return dataset
