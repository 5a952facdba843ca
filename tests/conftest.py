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


@pytest.fixture
def project_dir(tmp_path: Path) -> Iterator[Path]:
    """A new, empty qcode project."""
    from qcode.project import init

    init(tmp_path / "study", name="Test study")
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
