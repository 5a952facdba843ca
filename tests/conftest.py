"""Shared fixtures: a fresh project in a temporary folder, the CLI runner, the corpora."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"
FIXTURES = REPO / "tests" / "fixtures"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's QCODE_* settings."""
    for name in list(os.environ):
        if name.startswith("QCODE_"):
            monkeypatch.delenv(name)


# --- the store's two engines ------------------------------------------------------------------
#
# Every test that uses a project runs twice: with the project's SQLite file and with a fresh
# database on a real PostgreSQL server (started once per session, see tests/pgserver.py).
# Tests about SQLite itself (the file, WAL, permissions, online backup) carry the
# ``sqlite_only`` marker. Outside CI the PostgreSQL runs skip when no server can be started;
# in CI (CI=true) that is a failure.

BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if ("project_dir" in metafunc.fixturenames
            and metafunc.definition.get_closest_marker("sqlite_only") is None):
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The store engine of this run of the test (``sqlite`` when not parametrised)."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    """A real PostgreSQL server for the session, or the reason there is none."""
    from tests import pgserver

    try:
        server = pgserver.start()
    except pgserver.PgUnavailable as exc:
        yield exc
        return
    try:
        yield server
    finally:
        server.stop()


def new_pg_database(request: pytest.FixtureRequest) -> str:
    """A new, empty PostgreSQL database (for fixtures of any scope); skipped when no server
    can be started, except in CI. It is dropped with the server at the end of the session."""
    from tests import pgserver

    server = request.getfixturevalue("pg_server")
    if isinstance(server, pgserver.PgUnavailable):
        if os.environ.get("CI"):
            pytest.fail(f"CI must test PostgreSQL, but no server could be started: {server}")
        pytest.skip(f"no PostgreSQL server: {server}")
    assert isinstance(server, pgserver.PgServer)
    return server.new_database()


@pytest.fixture
def pg_url(request: pytest.FixtureRequest, pg_server: object) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped after the test."""
    from tests import pgserver

    url = new_pg_database(request)
    yield url
    assert isinstance(pg_server, pgserver.PgServer)
    pg_server.drop_database(url)


@pytest.fixture
def project_dir(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A new, empty qcode project, its store in SQLite or PostgreSQL (see ``backend``)."""
    from qcode.project import init

    store = request.getfixturevalue("pg_url") if backend == "postgresql" else None
    init(tmp_path / "study", name="Test study", store=store)
    yield tmp_path / "study"


def corpora_dir(name: str) -> Path:
    path = CORPORA / name
    if not path.is_dir():
        pytest.skip(f"real corpora not present ({path})")
    return path


def qcode(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
          stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real ``qcode`` command in a subprocess (as a user or a script would)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("QCODE_")}
    full_env.update(env or {})
    full_env.setdefault("COLUMNS", "200")
    # the code under test, whichever checkout the installed 'qcode' points to
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO),
                                                            full_env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "qcode", *args],
        cwd=cwd, env=full_env, input=stdin if stdin is not None else "",
        capture_output=True, text=True, timeout=timeout, check=False,
    )
