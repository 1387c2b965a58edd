"""A local PostgreSQL cluster from Debian's packages, on 127.0.0.1:55432."""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg

from zoomstream.stack.processes import StackError, apt_install, port_open, wait_until

PORT = 55432


def postgres_bin() -> Path:
    """The newest installed server's bin folder, installing Debian's postgresql when missing."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_major)
    if not found:
        apt_install("postgresql")
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_major)
    if not found:
        raise StackError("PostgreSQL's pg_ctl not found after installing postgresql")
    return Path(found[-1]).parent


def _major(path: str) -> int:
    version = Path(path).parent.parent.name
    return int(version) if version.isdigit() else 0


@dataclass(frozen=True)
class LocalPostgres:
    """A cluster this stack owns. As root, PostgreSQL runs as the `postgres` user, with its data
    in a folder that user owns; otherwise in the project's `.stack/postgres`."""

    home: Path
    port: int = PORT
    database: str = "zoomstream"

    @property
    def data(self) -> Path:
        if os.geteuid() == 0:
            tag = hashlib.sha1(str(self.home.resolve()).encode()).hexdigest()[:10]
            return Path("/var/lib/postgresql/zoomstream") / tag
        return self.home / "data"

    @property
    def log_file(self) -> Path:
        return self.data / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, cwd="/")

    def running(self) -> bool:
        pg_ctl = postgres_bin() / "pg_ctl"
        return self._run(str(pg_ctl), "status", "-D", str(self.data)).returncode == 0

    def up(self, timeout: float = 60.0) -> str:
        bin_dir = postgres_bin()
        if not (self.data / "PG_VERSION").exists():
            self._make_data_dir()
            result = self._run(
                str(bin_dir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            )
            if result.returncode != 0:
                raise StackError(f"initdb failed:\n{result.stdout}{result.stderr}")
        if self.running():
            message = f"PostgreSQL already running on 127.0.0.1:{self.port}"
        else:
            if port_open("127.0.0.1", self.port):
                raise StackError(f"port {self.port} is taken by another server")
            options = (
                f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} "
                "-c fsync=on -c max_connections=200 -c shared_buffers=256MB"
            )
            result = self._run(
                str(bin_dir / "pg_ctl"),
                "start",
                "-D",
                str(self.data),
                "-l",
                str(self.log_file),
                "-o",
                options,
                "-w",
                "-t",
                str(int(timeout)),
            )
            if result.returncode != 0:
                raise StackError(f"PostgreSQL did not start:\n{result.stderr}; see {self.log_file}")
            message = f"PostgreSQL started on 127.0.0.1:{self.port}"
        wait_until(lambda: port_open("127.0.0.1", self.port), timeout, "PostgreSQL", self.log_file)
        self._create_database()
        return f"{message} (database {self.database}, log: {self.log_file})"

    def _make_data_dir(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.data.parent, "postgres", "postgres")
            shutil.chown(self.data, "postgres", "postgres")
        self.data.chmod(0o700)

    def _create_database(self) -> None:
        admin = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
            ).fetchone()
            if exists is None:
                conn.execute(f'CREATE DATABASE "{self.database}"')

    def down(self) -> str:
        if not (self.data / "PG_VERSION").exists() or not self.running():
            return "PostgreSQL was not started by this stack"
        self._run(str(postgres_bin() / "pg_ctl"), "stop", "-D", str(self.data), "-m", "fast", "-w")
        return "PostgreSQL stopped"
