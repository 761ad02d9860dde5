"""``voice.json``: what voicesmith records about a voice beside its Piper files. One schema, written by
training export and by the catalog, read by the catalog.

Two kinds of folder hold one, with the same fields in two shapes:

===========  ======================================  ==============================================
field        installed (``<data dir>/voices/<id>/``)  exported (``voicesmith export``)
===========  ======================================  ==============================================
speakers     ``{name: speaker id}``                  names, in speaker-id order
styles       ``{emotion: speaker that speaks it}``   the emotions the voice was trained with
origin       ``bundled``, ``installed``, ``trained``  ``{"kind": "trained", "base", "run",
                                                     "checkpoint", "steps"}`` (how it was trained)
===========  ======================================  ==============================================

The installed shape is what the catalog, the shared catalog's table and the voices API show; the exported
one keeps what only training knows (the emotions as the dataset named them, the run it came from).
:meth:`VoiceJson.parse` reads either shape, so the catalog reads an exported file as well;
:meth:`~VoiceJson.installed_json` and :meth:`~VoiceJson.exported_json` write them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from voicesmith.errors import InvalidVoiceError

INFO_FILE = "voice.json"
GENDERS = ("Female", "Male", "Neutral")
ORIGINS = ("bundled", "installed", "trained")


def style_speakers(emotions: list[str], speakers: dict[str, int]) -> dict[str, str]:
    """Emotion -> the speaker that speaks it, for a voice trained on emotional data: the pseudo-speaker
    ``<speaker>_<emotion>`` (or ``<emotion>``) of the dataset, the first by speaker id. An emotion
    without such a speaker has no style."""
    styles: dict[str, str] = {}
    for emotion in emotions:
        match = [
            name
            for name in sorted(speakers, key=speakers.__getitem__)
            if name == emotion or name.endswith(f"_{emotion}")
        ]
        if match:
            styles[str(emotion)] = match[0]
    return styles


class TrainedFrom(BaseModel):
    """How a trained voice was made (the exported ``origin``, less its ``kind``)."""

    model_config = ConfigDict(extra="allow")

    base: str | None = None
    run: str | None = None
    checkpoint: str | None = None
    steps: int | None = None


class VoiceJson(BaseModel):
    """A voice's ``voice.json``, in either shape (see the module docstring)."""

    model_config = ConfigDict(extra="ignore")

    id: str
    name: str = ""
    """Shown in voice lists; the id when none is given."""
    language: str | None = None
    """BCP-47 (``en-US``; ``en_US`` is read as ``en-US``). None: not given (an exported file may leave
    it to the Piper config); an installed voice always has one (``und`` when unknown)."""
    gender: str = "Neutral"
    """One of :data:`GENDERS` (any case is read; anything else, or none, is ``Neutral``)."""
    sample_rate: int | None = None
    """The model's rate; an exported file may leave it to the Piper config."""
    speakers: dict[str, int] = Field(default_factory=dict)
    styles: dict[str, str] = Field(default_factory=dict)
    """Emotion -> speaker name that speaks it."""
    emotions: list[str] = Field(default_factory=list)
    """The emotions the voice was trained with, as the dataset named them (exported ``styles``); for an
    installed file, the emotions of :attr:`styles`."""
    origin: str = "installed"
    trained_from: TrainedFrom | None = None
    created: str = ""
    digest: str = ""
    """SHA-256 of the model file (installed voices; caches key on it)."""

    @model_validator(mode="before")
    @classmethod
    def _either_shape(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        speakers = data.get("speakers")
        if isinstance(speakers, list):  # exported: names in speaker-id order
            data["speakers"] = speakers = {str(name): index for index, name in enumerate(speakers)}
        styles = data.get("styles")
        if isinstance(styles, list):  # exported: the emotions
            data.setdefault("emotions", styles)
            data["styles"] = style_speakers([str(e) for e in styles], speakers or {})
        elif isinstance(styles, dict):
            data.setdefault("emotions", list(styles))
        origin = data.get("origin")
        if isinstance(origin, dict):  # exported: kind + how it was trained
            data["origin"] = origin.get("kind", "trained")
            data.setdefault("trained_from", {k: v for k, v in origin.items() if k != "kind"})
        for key in ("name", "gender", "created", "digest"):
            if data.get(key) is None:
                data.pop(key, None)
        return data

    @model_validator(mode="after")
    def _defaults(self) -> VoiceJson:
        if not self.name:
            self.name = self.id
        return self

    @field_validator("gender")
    @classmethod
    def _gender(cls, value: str) -> str:
        value = str(value).capitalize()
        return value if value in GENDERS else "Neutral"

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        return None if value is None else str(value).replace("_", "-")

    @classmethod
    def parse(cls, data: object, where: str | Path = INFO_FILE) -> VoiceJson:
        """``data`` (a decoded voice.json) checked; InvalidVoiceError names ``where`` and the problem."""
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in item['loc']) or 'file'}: {item['msg']}" for item in error.errors()
            )
            raise InvalidVoiceError(f"{where}: unreadable voice metadata ({problems})") from None

    @classmethod
    def read(cls, path: Path) -> VoiceJson:
        """The voice.json at ``path``."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise InvalidVoiceError(f"{path}: unreadable voice metadata ({error})") from error
        return cls.parse(data, path)

    def installed_json(self) -> dict[str, Any]:
        """The installed shape (the catalog's files and table, the voices API)."""
        return {
            "id": self.id,
            "name": self.name,
            "language": self.language or "und",
            "gender": self.gender,
            "sample_rate": self.sample_rate,
            "speakers": dict(self.speakers),
            "styles": dict(self.styles),
            "origin": self.origin,
            "created": self.created,
            "digest": self.digest,
        }

    def exported_json(self) -> dict[str, Any]:
        """The exported shape (``voicesmith export``'s folder)."""
        trained = self.trained_from.model_dump() if self.trained_from is not None else {}
        return {
            "id": self.id,
            "name": self.name,
            "language": self.language,
            "gender": self.gender,
            "sample_rate": self.sample_rate,
            "speakers": sorted(self.speakers, key=self.speakers.__getitem__),
            "styles": list(self.emotions),
            "origin": {"kind": self.origin, **trained},
            "created": self.created,
        }

    def write(self, folder: Path, *, exported: bool = False) -> Path:
        """Write ``folder/voice.json`` in the installed (default) or exported shape."""
        path = Path(folder) / INFO_FILE
        data = self.exported_json() if exported else self.installed_json()
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
        return path
