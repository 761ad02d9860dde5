"""A throwaway PostgreSQL cluster for the tests: Debian's server binaries, run as the ``postgres`` user.

``make test`` installs Debian's ``postgresql``; the cluster lives in a temp folder, listens on loopback
on a port of its own, with its socket in that folder, and is stopped when the session ends. Each test
gets a fresh database (``CREATE DATABASE`` from template0 is a few tens of milliseconds with fsync off).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path


def _binary(name: str) -> str:
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version_key, reverse=True)
    found = candidates[0] if candidates else shutil.which(name)
    if not found:
        raise RuntimeError(
            f"PostgreSQL's {name} was not found: install Debian's 'postgresql' (make test does, via "
            "DEB_TEST_PACKAGES)"
        )
    return found


def _version_key(path: str) -> int:
    try:
        return int(Path(path).parts[-3])
    except ValueError:
        return 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresCluster:
    """``initdb`` + ``pg_ctl start`` in ``root``; ``url(db)`` gives a psycopg 3 SQLAlchemy URL."""

    def __init__(self, root: Path | None = None) -> None:
        # Not under pytest's 0700 temp tree: the postgres user must be able to reach it.
        self.root = root or Path(tempfile.mkdtemp(prefix="voicesmith-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "socket"
        self.port = _free_port()
        self.user = "postgres"
        # As root, the server runs as the postgres user (it refuses to run as root); otherwise as us.
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if not self._as:
            self.user = pwd.getpwuid(os.geteuid()).pw_name

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if self._as:
            owner = pwd.getpwnam("postgres")
            for path in (self.root, self.socket_dir):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        self._run(
            _binary("initdb"), "-D", str(self.data), "-U", self.user, "-A", "trust", "-E", "UTF8", "--no-sync"
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.socket_dir} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            _binary("pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        try:
            self._run(_binary("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def socket_url(self, url: str) -> str:
        """``url`` over the cluster's Unix socket (for processes in another network namespace)."""
        database = url.rsplit("/", 1)[1]
        return f"postgresql+psycopg://{self.user}@/{database}?host={self.socket_dir}&port={self.port}"

    def create_database(self) -> str:
        """A new empty database; its SQLAlchemy URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres") as conn:
            conn.autocommit = True
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)
