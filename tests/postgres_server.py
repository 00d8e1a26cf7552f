"""A real PostgreSQL server for the tests, started by the suite itself and gone when it ends.

The machine's server binaries (Debian's ``postgresql-15``: ``/usr/lib/postgresql/15/bin``, or
``$MXGUARD_PG_BIN``) make a throwaway cluster in a temporary folder, listening on a free loopback
port only. ``initdb`` and ``pg_ctl`` refuse to run as root, so as root (CI) they run as the
``postgres`` user through ``runuser``. libfaketime is kept away from the server (the clock moved
ahead is the test process's, not the database's).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from sandbox.server import free_port

BIN_ENV = "MXGUARD_PG_BIN"
DEFAULT_BIN = Path("/usr/lib/postgresql/15/bin")
SERVER_USER = "postgres"
START_TIMEOUT_S = 60


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL server binaries here (install Debian's postgresql-15)."""


def _server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FAKETIME", "LD_PRELOAD"))}
    env["LC_ALL"] = "C"
    return env


class PostgresServer:
    """``with PostgresServer() as pg:`` then ``pg.dsn("name")`` for a fresh database."""

    def __init__(self, bin_dir: Path | None = None) -> None:
        self.bin = bin_dir or Path(os.environ.get(BIN_ENV, DEFAULT_BIN))
        if not (self.bin / "initdb").exists():
            raise PostgresUnavailableError(
                f"no PostgreSQL server binaries in {self.bin}: install Debian's postgresql-15 "
                f"(.ci/run does) or set {BIN_ENV}"
            )
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="mxguard-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self._as_root = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._as_root:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        done = subprocess.run(
            command, env=_server_env(), capture_output=True, text=True, timeout=START_TIMEOUT_S
        )
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stdout}{done.stderr}")

    def start(self) -> PostgresServer:
        self.sockets.mkdir(parents=True)
        if self._as_root:
            shutil.chown(self.root, SERVER_USER)
            shutil.chown(self.sockets, SERVER_USER)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.sockets} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w",
            "start",
        )  # fmt: skip
        return self

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; its DSN."""
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def stop(self) -> None:
        if self.data.exists():
            with contextlib.suppress(RuntimeError):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
