"""Interviews are personal data: qcode never opens a network connection, and its files are
readable by their owner only.

The commands run as real processes with an audit hook (``sitecustomize``) that records and
refuses every attempt to resolve a host name, connect an Internet socket or send on one; a
control run shows that the hook does catch them. (Binding a socket is allowed: a library that
spaCy imports probes whether the machine has IPv6 by binding to ``::1``, which sends nothing.)
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

GUARD = """
import socket, sys

_LOG = {log!r}
_NET = (socket.AF_INET, socket.AF_INET6)


def _refuse(what):
    with open(_LOG, "a", encoding="utf-8") as handle:
        handle.write(" ".join(sys.argv) + " -> " + what + "\\n")
    raise OSError("network access refused by the privacy test: " + what)


def _hook(event, args):
    if event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr",
                 "urllib.Request", "http.client.connect"):
        _refuse(f"{{event}} {{args[0]!r}}")
    elif event in ("socket.connect", "socket.sendto", "socket.sendmsg") and \\
            getattr(args[0], "family", None) in _NET:
        _refuse(f"{{event}} {{args[1]!r}}")


sys.addaudithook(_hook)
"""


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    """A copy of the study, and an environment whose Python refuses network access."""
    base = tmp_path_factory.mktemp("privacy")
    hook_dir, log = base / "hook", base / "network.log"
    hook_dir.mkdir()
    (hook_dir / "sitecustomize.py").write_text(GUARD.format(log=str(log)), encoding="utf-8")
    root = base / "study"
    root.mkdir()
    shutil.copy(REPO / "qcode.yaml", root / "qcode.yaml")
    shutil.copytree(REPO / "transcripts", root / "transcripts")
    shutil.copytree(REPO / "codebooks", root / "codebooks")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QCODE_")}
    env["PYTHONPATH"] = os.pathsep.join([str(hook_dir), str(REPO)])
    env["COLUMNS"] = "200"
    return root, log, env


def _run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600, check=False)


def test_the_guard_catches_a_connection(guarded: tuple[Path, Path, dict[str, str]]) -> None:
    root, log, env = guarded
    done = _run(env, root, "-c", "import socket; socket.create_connection(('127.0.0.1', 9))")
    assert done.returncode != 0 and "network access refused" in done.stderr
    assert "socket.getaddrinfo '127.0.0.1'" in log.read_text(encoding="utf-8")
    log.unlink()
    done = _run(env, root, "-c", "import socket; s = socket.socket(); s.connect(('127.0.0.1', 9))")
    assert done.returncode != 0 and "socket.connect ('127.0.0.1', 9)" in log.read_text(
        encoding="utf-8")
    log.unlink()


MAIN_COMMANDS = [
    ("run",),  # ingest, codebook sync, the language model, suggestions, exports, digests
    ("transcripts", "list"),
    ("tag", "HV01", "3", "entraide", "--coder", "ana"),
    ("memo", "add", "--code", "entraide", "souvent lié au confinement", "--coder", "ana"),
    ("suggest",),
    ("review", "--accept", "--min-score", "0.9"),
    ("codings", "list", "-f", "csv"),
    ("export", "quotes", "--format", "csv", "--excel"),
    ("digest", "--format", "html"),
    ("search", "voisins"),
    ("stats",),
    ("codebook", "export", "--format", "qdc"),
    ("undo", "--coder", "ana"),
]


@pytest.mark.slow
def test_main_commands_open_no_network_connection_and_write_owner_only_files(
        guarded: tuple[Path, Path, dict[str, str]]) -> None:
    root, log, env = guarded
    for command in MAIN_COMMANDS:
        done = _run(env, root, "-m", "qcode", *command)
        assert done.returncode == 0, (command, done.stderr)
        assert "network access refused" not in done.stderr, command
    assert not log.exists(), log.read_text(encoding="utf-8")
    store = root / ".qcode" / "qcode.db"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.parent.stat().st_mode) == 0o700
    exports = [p for p in (root / "exports").iterdir() if p.is_file()]
    assert len(exports) >= 5
    for path in exports:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
