"""The voice catalog shared by several nodes: a ``voices`` table in the database + files in shared storage.

With ``shared_storage_url`` set, a voice installed (or trained) through any node is written to
``<shared>/voices/<id>/`` (model, config, style table) and then recorded in the database's ``voices``
table with the model's SHA-256; every node lists the table, and fetches a voice's files into its own
``<data dir>/voices/<id>/`` (a cache) the first time it speaks with it, or again when the digest changed.
Rows are read through a short-lived cache (:data:`ROW_TTL_SECONDS`) so a synthesis call does not query
the database three times; an unknown id always asks the database, so a new voice is usable at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any

_LOGGER = logging.getLogger(__name__)

ROW_TTL_SECONDS = 2.0
"""How long a node trusts a voice row it read (a removed voice may be spoken this long on other nodes)."""
VOICE_FILES = ("model.onnx", "model.onnx.json", "model.onnx.styles.npy")
DIGEST_FILE = ".digest"


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_INSTANCES: dict[tuple, SharedVoices] = {}
_INSTANCES_LOCK = threading.Lock()


class SharedVoices:
    """Rows in the store, files under ``<root_url>/voices/``."""

    def __init__(
        self, store: Any, root_url: str, s3_endpoint_url: str | None = None, s3_region: str | None = None
    ):
        from fsspec.core import url_to_fs

        from voicesmith.tasks.storage import fs_options

        self.store = store
        self.fs, root = url_to_fs(root_url, **fs_options(root_url, s3_endpoint_url, s3_region))
        self.root = root.rstrip("/")
        self._rows: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any) -> SharedVoices | None:
        """The shared catalog of ``settings``, or None where no shared storage is configured. One per
        database and storage URL in a process (catalogs made per voice job share its connections)."""
        if not settings.shared_storage_url:
            return None
        key = (
            settings.database_url,
            settings.shared_storage_url,
            settings.s3_endpoint_url,
            settings.s3_region,
        )
        with _INSTANCES_LOCK:
            shared = _INSTANCES.get(key)
            if shared is None:
                from voicesmith.tasks.store import Store

                settings.data_dir.mkdir(parents=True, exist_ok=True)
                shared = _INSTANCES[key] = cls(Store(settings.database_url), *key[1:])
            return shared

    def _remote(self, voice_id: str, name: str = "") -> str:
        return f"{self.root}/voices/{voice_id}/{name}".rstrip("/")

    # -- rows ------------------------------------------------------------------------------------------

    def list(self) -> list[Any]:
        rows = self.store.list_voices()
        now = time.monotonic()
        with self._lock:
            self._rows = {row.id: (now, row) for row in rows}
        return rows

    def get(self, voice_id: str) -> Any | None:
        with self._lock:
            cached = self._rows.get(voice_id)
        if cached is not None and time.monotonic() - cached[0] < ROW_TTL_SECONDS:
            return cached[1]
        row = self.store.get_voice(voice_id)
        with self._lock:
            if row is None:
                self._rows.pop(voice_id, None)
            else:
                self._rows[voice_id] = (time.monotonic(), row)
        return row

    # -- files -----------------------------------------------------------------------------------------

    def publish(self, voice_id: str, folder: Path, info: dict[str, Any], digest: str) -> None:
        """Upload an installed voice folder's files, then record the voice (so a listed voice has files)."""
        for name in VOICE_FILES:
            if (folder / name).is_file():
                self.fs.put_file(str(folder / name), self._remote(voice_id, name))
        self.store.put_voice(voice_id, info, digest)
        with self._lock:
            self._rows.pop(voice_id, None)
        _LOGGER.info("voice %s published to the shared catalog (%s)", voice_id, digest[:12])

    def unpublish(self, voice_id: str) -> None:
        self.store.delete_voice(voice_id)
        with self._lock:
            self._rows.pop(voice_id, None)
        try:
            self.fs.rm(self._remote(voice_id), recursive=True)
        except FileNotFoundError:
            pass

    def fetch(self, voice_id: str, digest: str, info: dict[str, Any], folder: Path) -> None:
        """Make ``folder`` a copy of the shared voice with model digest ``digest`` (no-op if it is one)."""
        marker = folder / DIGEST_FILE
        if marker.is_file() and marker.read_text().strip() == digest:
            return
        staging = folder.parent / f".{voice_id}.fetch-{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
        try:
            for name in VOICE_FILES:
                remote = self._remote(voice_id, name)
                if name != VOICE_FILES[2] or self.fs.exists(remote):
                    self.fs.get_file(remote, str(staging / name))
            found = file_digest(staging / VOICE_FILES[0])
            if found != digest:
                raise OSError(
                    f"voice {voice_id}: the shared model's digest is {found[:12]}, not {digest[:12]}"
                )
            (staging / "voice.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
            (staging / DIGEST_FILE).write_text(digest)
            shutil.rmtree(folder, ignore_errors=True)
            try:
                os.replace(staging, folder)
            except OSError:  # another process of this node fetched it at the same moment
                if not (marker.is_file() and marker.read_text().strip() == digest):
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _LOGGER.info("voice %s fetched from the shared catalog into %s", voice_id, folder)
