"""The voice catalog: the bundled voice plus the voices installed in ``<data dir>/voices/<id>/``.

An installed voice is a folder holding the Piper model (``model.onnx``), its config
(``model.onnx.json``) and our ``voice.json`` (id, name, language, gender, sample rate, speakers, styles,
origin, created, digest). The catalog is the one source of truth for which voices exist; loaded models
are shared by every caller and loaded once, on first use.

With ``shared_storage_url`` set (several nodes), the installed voices are those of the shared catalog
(engine/shared_voices.py: a database table + files in shared storage) and ``<data dir>/voices/`` is this
node's cache of their files. ``voice_memory_budget_mb`` bounds the memory of loaded voices: past it, the
least recently used ones are dropped (and loaded again on their next use).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import shutil
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from voicesmith.engine import bundled
from voicesmith.engine.bundled import BUNDLED_VOICE_ID
from voicesmith.engine.shared_voices import DIGEST_FILE, file_digest
from voicesmith.engine.voice import PiperModel
from voicesmith.engine.voice_json import INFO_FILE, VoiceJson, style_speakers
from voicesmith.errors import InvalidVoiceError, ValidationError, VoiceExistsError, VoiceNotFoundError
from voicesmith.settings import Settings

_LOGGER = logging.getLogger(__name__)

VOICE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MODEL_FILE = "model.onnx"
CONFIG_FILE = "model.onnx.json"


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
    digest: str = ""
    """SHA-256 of the model file (changes when a voice is replaced: caches key on it)."""
    model_path: Path = Path()
    config_path: Path = Path()

    def voice_json(self) -> VoiceJson:
        """Its ``voice.json`` (engine/voice_json.py: the one schema of that file)."""
        data = asdict(self)
        data.pop("model_path")
        data.pop("config_path")
        return VoiceJson.model_validate(data)

    def to_json(self) -> dict:
        """The installed ``voice.json`` shape (also what the voices API shows)."""
        return self.voice_json().installed_json()


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
    config = _read_config(bundled.config_path())
    return VoiceInfo(
        id=BUNDLED_VOICE_ID,
        name=bundled.BUNDLED_VOICE_NAME,
        language=_language_of(config),
        gender="Male",
        sample_rate=config["audio"]["sample_rate"],
        origin="bundled",
        digest=f"bundled-{bundled.model_path().stat().st_size}-{bundled.package_version()}",
        model_path=bundled.model_path(),
        config_path=bundled.config_path(),
    )


@dataclass
class LoadedVoice:
    """A voice in memory: what it cost to load, and when it was last used."""

    model: PiperModel
    digest: str
    bytes: int
    """Resident memory it added when it was loaded (at least the model file's size)."""
    load_seconds: float
    last_used: float


def _resident_bytes() -> int:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class VoiceCatalog:
    """Lists, installs, removes and loads voices."""

    def __init__(self, settings: Settings | None = None, shared: object | None = None) -> None:
        self.settings = settings or Settings()
        if shared is None:
            from voicesmith.engine.shared_voices import SharedVoices

            shared = SharedVoices.from_settings(self.settings)
        self.shared = shared
        """The shared catalog (several nodes), or None: voices are this node's folders."""
        self._models: OrderedDict[str, LoadedVoice] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}
        self.on_load = None
        """Called as ``on_load(voice_id, seconds, bytes)`` after a voice is loaded (metrics)."""

    @property
    def voices_dir(self) -> Path:
        return self.settings.voices_dir

    # -- listing -------------------------------------------------------------------------------------------

    def list(self) -> list[VoiceInfo]:
        voices = [_bundled_voice()]
        if self.shared is not None:
            return voices + [self._from_row(row) for row in self.shared.list()]
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
        if self.shared is not None:
            row = self.shared.get(voice_id)
            if row is None:
                known = ", ".join(v.id for v in self.list())
                raise VoiceNotFoundError(f"no voice {voice_id!r}; available: {known}")
            return self._from_row(row)
        folder = self.voices_dir / voice_id
        if not (folder / INFO_FILE).is_file():
            known = ", ".join(v.id for v in self.list())
            raise VoiceNotFoundError(f"no voice {voice_id!r}; available: {known}")
        return self._read_installed(folder)

    def _from_row(self, row: object) -> VoiceInfo:
        folder = self.voices_dir / row.id  # type: ignore[attr-defined]
        return self._info(dict(row.info, digest=row.digest), folder)  # type: ignore[attr-defined]

    def _read_installed(self, folder: Path) -> VoiceInfo:
        meta = VoiceJson.read(folder / INFO_FILE)
        if not meta.digest:  # installed before digests were recorded
            model = folder / MODEL_FILE
            stat = model.stat() if model.is_file() else None
            meta.digest = f"local-{stat.st_size}-{stat.st_mtime_ns}" if stat else ""
        return self._info(meta, folder)

    def _info(self, data: dict | VoiceJson, folder: Path) -> VoiceInfo:
        """The entry of an installed voice from its voice.json (either shape: engine/voice_json.py)."""
        meta = data if isinstance(data, VoiceJson) else VoiceJson.parse(data, folder / INFO_FILE)
        if meta.sample_rate is None:
            raise InvalidVoiceError(f"{folder / INFO_FILE}: unreadable voice metadata (no sample_rate)")
        return VoiceInfo(
            id=meta.id,
            name=meta.name,
            language=meta.language or "und",
            gender=meta.gender,
            sample_rate=meta.sample_rate,
            speakers=dict(meta.speakers),
            styles=dict(meta.styles),
            origin=meta.origin,
            created=meta.created,
            digest=meta.digest,
            model_path=folder / MODEL_FILE,
            config_path=folder / CONFIG_FILE,
        )

    def _exists(self, voice_id: str) -> bool:
        if voice_id == BUNDLED_VOICE_ID:
            return True
        if self.shared is not None:
            return self.shared.get(voice_id) is not None
        return (self.voices_dir / voice_id).exists()

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
        if self._exists(voice_id):
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
        digest = file_digest(staging / MODEL_FILE)
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
            digest=digest,
        )
        info.voice_json().write(staging)
        if self.shared is not None:
            (staging / DIGEST_FILE).write_text(digest)
            self.shared.publish(voice_id, staging, info.to_json(), digest)
        shutil.rmtree(self.voices_dir / voice_id, ignore_errors=True)  # a stale cached copy
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
            meta = VoiceJson.read(folder / INFO_FILE)
        except InvalidVoiceError as error:
            raise InvalidVoiceError(f"{folder}: not an exported voice folder ({error.message})") from error
        voice_id = meta.id
        model = folder / f"{voice_id}.onnx"
        style_model = folder / f"{voice_id}.style.onnx"
        if style_model.is_file():  # takes a style vector: speakers by id and emotions at any intensity
            model = style_model
        config = _read_config(Path(f"{model}.json"))
        speakers = {str(k): int(v) for k, v in config.get("speaker_id_map", {}).items()}
        if replace and self._exists(voice_id):
            self.remove(voice_id)
        return self.add(
            model,
            voice_id=voice_id,
            config_path=Path(f"{model}.json"),
            name=meta.name,
            gender=meta.gender,
            language=meta.language,
            styles=style_speakers(meta.emotions, speakers),  # the model's speakers, not the file's list
            origin="trained",
        )

    def remove(self, voice_id: str) -> None:
        info = self.get(voice_id)
        if info.origin == "bundled":
            raise ValidationError(f"voice {voice_id!r} is bundled with voicesmith and cannot be removed")
        if self.shared is not None:
            self.shared.unpublish(voice_id)
        with self._lock:
            self._models.pop(voice_id, None)
        shutil.rmtree(self.voices_dir / voice_id, ignore_errors=self.shared is not None)

    # -- loading -------------------------------------------------------------------------------------------

    def load(self, voice_id: str) -> PiperModel:
        """The loaded model of a voice, shared by all callers; loaded (and fetched) on first use."""
        info = self.get(voice_id)
        with self._lock:
            loaded = self._models.get(voice_id)
            if loaded is not None and loaded.digest == info.digest:
                return self._touch(voice_id, loaded)
            lock = self._loading.setdefault(voice_id, threading.Lock())
        with lock:
            with self._lock:
                loaded = self._models.get(voice_id)
                if loaded is not None and loaded.digest == info.digest:
                    return self._touch(voice_id, loaded)
            started, before = time.perf_counter(), _resident_bytes()
            if self.shared is not None and info.origin != "bundled":
                self.shared.fetch(voice_id, info.digest, info.to_json(), self.voices_dir / voice_id)
            model = PiperModel(
                info.model_path,
                info.config_path,
                self.settings.cache_dir,
                self.threads,
                low_memory=self.settings.low_memory,
            )
            seconds = time.perf_counter() - started
            size = max(_resident_bytes() - before, info.model_path.stat().st_size)
            with self._lock:
                self._models[voice_id] = LoadedVoice(model, info.digest, size, seconds, time.monotonic())
                self._models.move_to_end(voice_id)
                self._evict(keep=voice_id)
            _LOGGER.info("loaded voice %s in %.2f s (~%d MB)", voice_id, seconds, size >> 20)
            if self.on_load is not None:
                self.on_load(voice_id, seconds, size)
            return model

    def _touch(self, voice_id: str, loaded: LoadedVoice) -> PiperModel:
        loaded.last_used = time.monotonic()
        self._models.move_to_end(voice_id)
        return loaded.model

    def _evict(self, keep: str) -> None:
        """Drop least recently used voices while the loaded ones are over the memory budget (lock held).
        A synthesis still using a dropped model keeps it alive until it ends."""
        budget = self.settings.voice_memory_budget_mb << 20
        if not budget:
            return
        while sum(v.bytes for v in self._models.values()) > budget and len(self._models) > 1:
            victim = next(iter(self._models))
            if victim == keep:
                break
            dropped = self._models.pop(victim)
            _LOGGER.info(
                "dropped idle voice %s (~%d MB) to stay under the memory budget", victim, dropped.bytes >> 20
            )

    def loaded(self) -> dict[str, LoadedVoice]:
        """The voices in memory now (a copy)."""
        with self._lock:
            return dict(self._models)

    @property
    def threads(self) -> int:
        configured = self.settings.intra_op_threads
        return configured or min(os.cpu_count() or 1, 4)
