"""Where task output goes: Polly's bucket + key prefix, mapped onto an fsspec URL.

``OutputS3BucketName`` and ``OutputS3KeyPrefix`` name a folder under the storage root: with the default
``file://<data_dir>/output`` a task writes ``<data_dir>/output/<bucket>/<prefix><TaskId>.<ext>``; with
``s3://`` (optionally an S3-compatible endpoint) it writes ``s3://<bucket>/<prefix><TaskId>.<ext>``.
Bucket names and prefixes are checked against Polly's patterns and may not climb out of the root.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

import fsspec
from fsspec.core import url_to_fs

from voicesmith.errors import InvalidS3BucketError, InvalidS3KeyError, StorageError

_LOGGER = logging.getLogger(__name__)

_BUCKET = re.compile(r"[a-z0-9][.\-a-z0-9]{1,61}[a-z0-9]")
_PREFIX = re.compile(r"[0-9a-zA-Z/!\-_.*'():;$@=+,?&]{0,800}")


def check_bucket(bucket: str) -> str:
    if not isinstance(bucket, str) or not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise InvalidS3BucketError(
            f"OutputS3BucketName {bucket!r} is not a valid bucket name: use 3-63 characters from a-z, 0-9, "
            "'.' and '-', starting and ending with a letter or digit"
        )
    return bucket


def check_prefix(prefix: str) -> str:
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise InvalidS3KeyError(
            f"OutputS3KeyPrefix {prefix[:80]!r} has characters an S3 key prefix may not have here "
            "(allowed: letters, digits and /!-_.*'():;$@=+,?&; at most 800)"
        )
    parts = prefix.split("/")
    if prefix.startswith("/") or any(part in (".", "..") for part in parts) or "//" in prefix:
        raise InvalidS3KeyError(
            f"OutputS3KeyPrefix {prefix[:80]!r} may not start with '/', nor hold empty, '.' or '..' segments"
        )
    return prefix


class OutputStorage:
    """Writes task output under one fsspec root."""

    def __init__(self, root_url: str, s3_endpoint_url: str | None = None) -> None:
        self.root_url = root_url.rstrip("/")
        self.s3_endpoint_url = s3_endpoint_url
        options: dict[str, Any] = {}
        protocol = fsspec.utils.get_protocol(root_url)
        if protocol in ("s3", "s3a") and s3_endpoint_url:
            options["client_kwargs"] = {"endpoint_url": s3_endpoint_url}
        if protocol in ("file", "local"):
            options["auto_mkdir"] = True
        self.fs, self._root_path = url_to_fs(root_url, **options)
        self._root_path = self._root_path.rstrip("/")

    def key(self, bucket: str, prefix: str, name: str) -> str:
        """The object path (bucket/key) of a task's output, after validating bucket and prefix."""
        return f"{check_bucket(bucket)}/{check_prefix(prefix)}{name}"

    def _path(self, key: str) -> str:
        return f"{self._root_path}/{key}" if self._root_path else key

    def uri(self, key: str) -> str:
        """The ``OutputUri`` a client is told: a file:// URL, an s3:// URL, or the endpoint's https URL."""
        path = self._path(key)
        if self.fs.protocol in ("file", "local") or "file" in self.fs.protocol:
            return f"file://{path}"
        if self.s3_endpoint_url and not self._root_path:
            return f"{self.s3_endpoint_url.rstrip('/')}/{key}"
        protocol = self.fs.protocol[0] if isinstance(self.fs.protocol, tuple) else self.fs.protocol
        return f"{protocol}://{path}"

    def write(self, key: str, data: Iterable[bytes]) -> int:
        """Stream ``data`` to ``key``; the object appears whole or not at all (written aside, then moved).

        Blocks go to storage as they come (memory holds one block and the file system's buffer, never
        the whole output). Whatever stops the write (a full disk, the data's own error, a cancel), the
        ``.partial`` object is removed, so a failed task leaves nothing behind to fill the disk. A
        storage failure is a :class:`StorageError` naming the object. Returns the bytes written.
        """
        path = self._path(key)
        partial = f"{path}.partial"
        total = 0
        try:
            with self.fs.open(partial, "wb") as handle:
                for block in data:
                    if block:
                        handle.write(block)
                        total += len(block)
            self.fs.mv(partial, path)
        except BaseException as error:
            self._remove(partial)
            if isinstance(error, OSError):
                raise StorageError(
                    f"writing {self.uri(key)} failed after {total} bytes ({error.strerror or error}); "
                    "free space (or fix the storage) and start the task again"
                ) from error
            raise
        _LOGGER.info("wrote %d bytes to %s", total, self.uri(key))
        return total

    def discard_partial(self, key: str) -> None:
        """Remove what an interrupted write of ``key`` left (a worker killed mid-write cannot)."""
        self._remove(f"{self._path(key)}.partial")

    def _remove(self, path: str) -> None:
        try:
            if self.fs.exists(path):
                self.fs.rm(path)
        except Exception:  # noqa: BLE001 - cleanup after a failure must not hide that failure
            _LOGGER.warning("could not remove %s after a failed write", path, exc_info=True)

    def check(self) -> None:
        """Write, read back and remove a small probe object (readiness); StorageError if that fails."""
        key = ".voicesmith-ready-probe"
        try:
            if not self._root_path:  # s3:// with buckets from the requests: can the store be listed?
                self.fs.ls("")
                return
            self.write(key, [b"ok"])
            if self.read(key) != b"ok":
                raise OSError("the probe object read back differs")
            self.fs.rm(self._path(key))
        except Exception as error:  # noqa: BLE001 - any store failure (s3fs raises its own types)
            cause = error.__cause__ if isinstance(error, StorageError) and error.__cause__ else error
            raise StorageError(f"the output storage {self.root_url} is not writable: {cause}") from error

    def read(self, key: str) -> bytes:
        with self.fs.open(self._path(key), "rb") as handle:
            return handle.read()

    def exists(self, key: str) -> bool:
        return self.fs.exists(self._path(key))
