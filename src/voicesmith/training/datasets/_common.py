"""The common record every dataset reader produces, and the helpers the readers share."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from voicesmith.emotion.labels import SPOKEN_EMOTIONS, corpus_emotion
from voicesmith.errors import DatasetError

_LOGGER = logging.getLogger(__name__)

EmotionAs = Literal["speaker", "style"]

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")

EMOTION_LABELS = tuple(str(emotion) for emotion in SPOKEN_EMOTIONS)
"""voicesmith's emotion labels; a dataset's own names are mapped onto these."""


def normalize_emotion(name: str) -> str | None:
    """A dataset's emotion name as one of :data:`EMOTION_LABELS`, or None when there is no match
    (the vocabulary is the emotion package's: :func:`~voicesmith.emotion.labels.corpus_emotion`)."""
    emotion = corpus_emotion(name)
    return None if emotion is None else emotion.value


@dataclass(frozen=True)
class Utterance:
    """One recording and what is said in it."""

    id: str
    """Unique inside the dataset; safe as a file name."""
    audio_path: Path
    text: str
    speaker: str
    """Speaker name; for emotion datasets read with ``emotion_as="speaker"``, ``{speaker}_{emotion}``."""
    emotion: str | None = None
    """One of :data:`EMOTION_LABELS`, or None when the dataset has no emotion labels."""
    source_emotion: str | None = None
    """The dataset's own emotion name (e.g. EmoV-DB's ``sleepiness``) before mapping."""


@dataclass(frozen=True)
class DatasetIssue:
    """A problem found while reading the metadata that does not stop the others from being read."""

    kind: Literal["missing_audio", "missing_text", "malformed", "duplicate_id", "unlisted_audio"]
    message: str
    path: Path
    line: int | None = None
    utterance_id: str | None = None

    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line is not None else str(self.path)


@dataclass
class Dataset:
    """Utterances read from one dataset directory."""

    utterances: list[Utterance]
    format: str
    root: Path
    issues: list[DatasetIssue] = field(default_factory=list)

    @property
    def speakers(self) -> list[str]:
        """Speaker names, sorted; a speaker's index here is its speaker id."""
        return sorted({utterance.speaker for utterance in self.utterances})

    @property
    def emotions(self) -> list[str]:
        return sorted({u.emotion for u in self.utterances if u.emotion is not None})

    def __len__(self) -> int:
        return len(self.utterances)


_UNSAFE_ID = re.compile(r"[^A-Za-z0-9._-]+")


def safe_id(*parts: str) -> str:
    """An id made of ``parts`` that is safe as a file name on every system."""
    joined = "_".join(part for part in parts if part)
    return _UNSAFE_ID.sub("_", joined).strip("._") or "utt"


def pseudo_speaker(speaker: str, source_emotion: str | None, emotion_as: EmotionAs) -> str:
    if emotion_as == "speaker" and source_emotion:
        return f"{speaker}_{source_emotion.lower()}"
    return speaker


def read_text_file(path: Path, encodings: Iterable[str] = ("utf-8-sig",), expect: str | None = None) -> str:
    """The text of ``path`` in the first of ``encodings`` that decodes it (and contains ``expect``)."""
    data = path.read_bytes()
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if expect is not None and expect not in text:
            continue
        if encoding != "utf-8-sig":
            _LOGGER.debug("%s: read as %s", path, encoding)
        return text
    raise DatasetError(
        f"cannot decode the file as any of {', '.join(encodings)}: save it as UTF-8",
        path=path,
    )


def dedupe(utterances: list[Utterance], issues: list[DatasetIssue]) -> list[Utterance]:
    """Drops utterances whose id was seen before, recording an issue for each."""
    seen: dict[str, Utterance] = {}
    kept: list[Utterance] = []
    for utterance in utterances:
        first = seen.get(utterance.id)
        if first is not None:
            issues.append(
                DatasetIssue(
                    "duplicate_id",
                    f"id {utterance.id!r} is used twice ({first.audio_path} and {utterance.audio_path});"
                    " the second is ignored",
                    utterance.audio_path,
                    utterance_id=utterance.id,
                )
            )
            continue
        seen[utterance.id] = utterance
        kept.append(utterance)
    return kept
