"""A real, throw-away PostgreSQL server for the tests (and the benches).

The server runs from the machine's PostgreSQL binaries (``initdb``/``pg_ctl`` on PATH or in
``/usr/lib/postgresql/*/bin``), in a temporary folder, on a free port of 127.0.0.1, trusting
local connections, tuned for speed rather than durability (``fsync=off``). Each test gets its
own database from :meth:`PgServer.new_database`.

PostgreSQL refuses to run as root: as root the server runs as the ``postgres`` user (created
by Debian's package), through ``runuser``.

``QCODE_TEST_PG_URL`` (a server URL whose user may create databases) makes the tests use that
server instead of starting one.

Run as a script to try it: ``python3 -m tests.pgserver`` starts a server, prints its URL and
stops it on Enter.
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
from dataclasses import dataclass, field
from pathlib import Path

ADMIN_USER = "qcode"


class PgUnavailable(RuntimeError):
    """No PostgreSQL server could be started or reached; the message says why."""


def _bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class PgServer:
    """A running server: ``url`` connects as a user that may create databases."""

    url: str
    _stop: list[str] = field(default_factory=list)
    _tmp: Path | None = None

    def admin(self) -> object:
        import psycopg

        return psycopg.connect(self.url.replace("postgresql+psycopg://", "postgresql://"),
                               autocommit=True)

    def new_database(self, prefix: str = "qcode_test") -> str:
        """Create an empty database and return its URL (``postgresql://…``)."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        conn = self.admin()
        try:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[attr-defined]
        finally:
            conn.close()  # type: ignore[attr-defined]
        base, _, _ = self.url.rpartition("/")
        return f"{base}/{name}"

    def drop_database(self, url: str) -> None:
        name = url.rpartition("/")[2]
        conn = self.admin()
        try:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]
        finally:
            conn.close()  # type: ignore[attr-defined]

    def stop(self) -> None:
        if self._stop:
            subprocess.run(self._stop, capture_output=True, check=False, timeout=60)
            self._stop = []
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


def start() -> PgServer:
    """Start a server (or use ``QCODE_TEST_PG_URL``); raise :class:`PgUnavailable` if none."""
    given = os.environ.get("QCODE_TEST_PG_URL")
    if given:
        server = PgServer(url=given)
        try:
            server.admin().close()  # type: ignore[attr-defined]
        except Exception as exc:
            raise PgUnavailable(f"QCODE_TEST_PG_URL={given}: {exc}") from None
        return server
    bindir = _bindir()
    if bindir is None:
        raise PgUnavailable("no PostgreSQL binaries (pg_ctl, initdb) on this machine")
    run_as: list[str] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise PgUnavailable("running as root and there is no 'postgres' user to run "
                                "the server as") from None
        runuser = shutil.which("runuser")
        if runuser is None:
            raise PgUnavailable("running as root and 'runuser' is missing")
        run_as = [runuser, "-u", "postgres", "--"]
    tmp = Path(tempfile.mkdtemp(prefix="qcode-pg-"))
    data, sockets, log = tmp / "data", tmp / "sock", tmp / "server.log"
    sockets.mkdir()
    if owner is not None:
        os.chmod(tmp, 0o755)
        for path in (tmp, sockets):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    port = _free_port()

    def run(*args: str) -> None:
        done = subprocess.run([*run_as, *args], capture_output=True, text=True, check=False,
                              timeout=120, cwd=tmp)
        if done.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise PgUnavailable(f"{Path(args[0]).name} failed: "
                                f"{detail[-1] if detail else done.returncode}")

    run(str(bindir / "initdb"), "-D", str(data), "-U", ADMIN_USER, "-A", "trust",
        "-E", "UTF8", "--no-sync")
    options = (f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
               "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
    run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w",
        "-t", "60", "start")
    stop = [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
    return PgServer(url=f"postgresql://{ADMIN_USER}@127.0.0.1:{port}/postgres", _stop=stop,
                    _tmp=tmp)


if __name__ == "__main__":
    server = start()
    try:
        print(server.url, flush=True)
        input("PostgreSQL is running; press Enter to stop it. ")
    finally:
        server.stop()
