"""Where task output goes: Polly's bucket + key prefix, mapped onto an fsspec URL.

``OutputS3BucketName`` and ``OutputS3KeyPrefix`` name a folder under the storage root: with the default
``file://<data_dir>/output`` a task writes ``<data_dir>/output/<bucket>/<prefix><TaskId>.<ext>``; with
``s3://`` (AWS, or an S3-compatible store at ``s3_endpoint_url``: MinIO, Ceph, ...) it writes the object
``<prefix><TaskId>.<ext>`` in the real bucket ``<bucket>``, and ``OutputUri`` is the object's path-style
https URL, as Polly returns it (``https://s3.<region>.amazonaws.com/<bucket>/<key>``, or
``<endpoint>/<bucket>/<key>``), which the AWS examples split into bucket and key for ``download_fileobj``.
Bucket names and prefixes are checked against Polly's patterns and may not climb out of the root.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import fsspec
from fsspec.core import url_to_fs

from voicesmith.errors import InvalidS3BucketError, InvalidS3KeyError, StorageError

_LOGGER = logging.getLogger(__name__)

S3_PROTOCOLS = ("s3", "s3a")
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


def fs_options(url: str, s3_endpoint_url: str | None = None, s3_region: str | None = None) -> dict[str, Any]:
    """fsspec options for ``url``: the S3 endpoint and region for s3://, folders made on demand for file://."""
    options: dict[str, Any] = {}
    protocol = fsspec.utils.get_protocol(url)
    if protocol in S3_PROTOCOLS:
        client: dict[str, Any] = {}
        if s3_endpoint_url:
            client["endpoint_url"] = s3_endpoint_url
        if s3_region:
            client["region_name"] = s3_region
        if client:
            options["client_kwargs"] = client
    if protocol in ("file", "local"):
        options["auto_mkdir"] = True
    return options


def _write_blocks(handle: Any, data: Iterable[bytes], written: list[int]) -> None:
    """Write the blocks as they come, counting bytes in ``written[0]``."""
    for block in data:
        if block:
            handle.write(block)
            written[0] += len(block)


def _upload(handle: Any, data: Iterable[bytes], written: list[int]) -> None:
    """Write and commit an S3 object; on any failure abort the (multipart) upload, so nothing appears."""
    try:
        _write_blocks(handle, data, written)
    except BaseException:
        handle.discard()
        handle.closed = True  # discarded: closing would upload what was buffered
        raise
    handle.close()


class OutputStorage:
    """Writes task output under one fsspec root."""

    def __init__(
        self, root_url: str, s3_endpoint_url: str | None = None, s3_region: str | None = None
    ) -> None:
        self.root_url = root_url.rstrip("/")
        self.s3_endpoint_url = s3_endpoint_url
        self.s3_region = s3_region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        self.fs, self._root_path = url_to_fs(
            root_url, **fs_options(root_url, s3_endpoint_url, self.s3_region)
        )
        self._root_path = self._root_path.rstrip("/")
        self._is_s3 = fsspec.utils.get_protocol(root_url) in S3_PROTOCOLS

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
        if self._is_s3 and not self._root_path:  # real buckets: the object's URL, as Polly gives it
            if self.s3_endpoint_url:
                return f"{self.s3_endpoint_url.rstrip('/')}/{key}"
            return f"https://s3.{self.s3_region or 'us-east-1'}.amazonaws.com/{key}"
        protocol = self.fs.protocol[0] if isinstance(self.fs.protocol, tuple) else self.fs.protocol
        return f"{protocol}://{path}"

    def write(self, key: str, data: Iterable[bytes]) -> int:
        """Stream ``data`` to ``key``; the object appears whole or not at all (written aside, then moved).

        Blocks go to storage as they come (memory holds one block and the file system's buffer, never
        the whole output). Whatever stops the write (a full disk, the data's own error, a cancel), the
        ``.partial`` object is removed, so a failed task leaves nothing behind to fill the disk. A
        storage failure is a :class:`StorageError` naming the object. Returns the bytes written. On S3
        the object is uploaded under its name directly: an upload appears only once complete, and a
        failed one is aborted.
        """
        path = self._path(key)
        written = [0]
        try:
            if self._is_s3:  # an S3 upload is whole-or-nothing already: it is aborted on failure
                _upload(self.fs.open(path, "wb"), data, written)
            else:
                partial = f"{path}.partial"
                try:
                    with self.fs.open(partial, "wb") as handle:
                        _write_blocks(handle, data, written)
                    self.fs.mv(partial, path)
                except BaseException:
                    self._remove(partial)
                    raise
        except OSError as error:
            raise StorageError(
                f"writing {self.uri(key)} failed after {written[0]} bytes ({error.strerror or error}); "
                "free space (or fix the storage) and start the task again"
            ) from error
        total = written[0]
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


class SharedFolder:
    """A folder every node can read and write (``shared_storage_url``): whole trees in and out.

    Used for what one node receives and another may need: the uploaded recordings of a voice job
    (``voice-jobs/<id>/``), run by whichever node claims the job.
    """

    def __init__(self, url: str, s3_endpoint_url: str | None = None, s3_region: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.fs, root = url_to_fs(url, **fs_options(url, s3_endpoint_url, s3_region))
        self.root = root.rstrip("/")

    def _remote(self, name: str) -> str:
        check_prefix(name)
        return f"{self.root}/{name}"

    def put_tree(self, local: Path, name: str) -> int:
        """Copy the files under ``local`` to ``name``; the number of files."""
        count = 0
        for path in sorted(p for p in local.rglob("*") if p.is_file()):
            self.fs.put_file(str(path), f"{self._remote(name)}/{path.relative_to(local).as_posix()}")
            count += 1
        return count

    def get_tree(self, name: str, local: Path) -> int:
        """Copy the files under ``name`` into ``local`` (made if missing); the number of files."""
        remote = self._remote(name)
        count = 0
        for path in self.fs.find(remote):
            relative = path[len(remote) :].lstrip("/")
            if not relative or ".." in relative.split("/"):
                continue
            target = local / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            self.fs.get_file(path, str(target))
            count += 1
        return count

    def remove_tree(self, name: str) -> None:
        try:
            self.fs.rm(self._remote(name), recursive=True)
        except FileNotFoundError:
            pass
