"""A file system that fills up: the storage layer's view of a full disk (ENOSPC), for tests."""

from __future__ import annotations

import errno
import os


class FullDisk:
    """A file system whose files take ``room`` bytes, then fail as a full disk does."""

    def __init__(self, fs, room: int) -> None:
        self._fs, self.room = fs, room

    def __getattr__(self, name):
        return getattr(self._fs, name)

    def open(self, path, mode="rb", **kwargs):
        handle = self._fs.open(path, mode, **kwargs)
        if "w" not in mode:
            return handle
        disk = self

        class Handle:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                handle.close()

            def write(self, data):
                if len(data) > disk.room:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                disk.room -= len(data)
                return handle.write(data)

        return Handle()
