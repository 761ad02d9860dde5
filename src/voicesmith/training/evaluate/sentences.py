"""What the voice is asked to say: a built-in list, or the held-out texts of a reference dataset."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

from voicesmith.errors import DatasetError

_LOGGER = logging.getLogger(__name__)

HELD_OUT_FRACTION = 0.1
"""Share of a raw dataset's utterances (its last ones, in dataset order) taken as held out."""

BUILTIN_SENTENCES: tuple[str, ...] = (
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.",
    "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.",
    "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.",
    "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.",
    "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.",
    "The girl at the booth sold fifty bonds.",
    "Thick glasses helped him read the print.",
)
"""Harvard sentences (IEEE 1969, lists 1 and 2): phonetically balanced, short, public domain."""


@dataclass(frozen=True)
class EvalSentence:
    """A text to synthesise and, against a reference dataset, the recording of it."""

    id: str
    text: str
    reference_audio: Path | None = None


def builtin_sentences(count: int) -> list[EvalSentence]:
    """The first ``count`` built-in sentences."""
    return [
        EvalSentence(f"builtin{number:02d}", text) for number, text in enumerate(BUILTIN_SENTENCES[:count], 1)
    ]


def reference_sentences(path: str | Path, count: int, format: str | None = None) -> list[EvalSentence]:
    """Up to ``count`` held-out utterances of the dataset at ``path``.

    A prepared dataset (a folder with ``manifest.jsonl``) gives its validation split; any other dataset
    layout that :func:`~voicesmith.training.datasets.load_dataset` reads gives its last ~10 % of
    utterances (at least one), which a voice trained with the usual split has not seen either.
    ``format`` names the raw layout (detected when None).
    """
    root = Path(path).expanduser()
    manifest = root / "manifest.jsonl"
    if format is None and root.is_dir() and manifest.is_file():
        held_out = _manifest_val(manifest)
    else:
        from voicesmith.training.datasets import load_dataset

        utterances = load_dataset(root, format).utterances
        if not utterances:
            raise DatasetError("no usable utterances (audio with a transcript) in the dataset", path=root)
        first = len(utterances) - max(1, math.ceil(len(utterances) * HELD_OUT_FRACTION))
        held_out = [EvalSentence(u.id, u.text, u.audio_path) for u in utterances[first:]]
    _LOGGER.info("%s: %d held-out utterances, evaluating %d", root, len(held_out), min(count, len(held_out)))
    return held_out[:count]


def _manifest_val(manifest: Path) -> list[EvalSentence]:
    rows = []
    try:
        with manifest.open(encoding="utf-8") as stream:
            for number, line in enumerate(stream, 1):
                if line.strip():
                    rows.append((number, json.loads(line)))
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"cannot read the manifest: {error}", path=manifest) from error
    except json.JSONDecodeError as error:
        raise DatasetError(f"not JSON: {error.msg}", path=manifest, line=number) from error
    sentences = []
    for number, row in rows:
        if not isinstance(row, dict) or not {"id", "audio", "text"} <= row.keys():
            raise DatasetError("expected an object with id, audio and text", path=manifest, line=number)
        if row.get("split") == "val":
            sentences.append(EvalSentence(str(row["id"]), str(row["text"]), manifest.parent / row["audio"]))
    if not sentences:
        raise DatasetError(
            "the prepared dataset has no validation utterances (split 'val'); prepare it again with more "
            "than one utterance, or pass the raw recording folder",
            path=manifest,
        )
    return sentences
