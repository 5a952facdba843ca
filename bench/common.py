"""What several benches share: a copy of the bundled study, its main job, a target's verdict."""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def copy_study(root: Path) -> Path:
    """A copy of the repository's study project in ``root`` (made; the repo is left alone)."""
    root.mkdir(parents=True)
    shutil.copy2(REPO / "qcode.yaml", root / "qcode.yaml")
    for folder in ("transcripts", "codebooks"):
        shutil.copytree(REPO / folder, root / folder)
    return root


def run_main_job(root: Path) -> int:
    """``qcode run`` in-process on the project at ``root``; the keyword codings it accepted."""
    from qcode import mainjob
    from qcode.project import load
    from qcode.store import Store

    project = load(root)
    store = Store.open(project.store_location)
    try:
        return mainjob.run(project, store).accepted
    finally:
        store.close()


def status(value: float, target: float) -> str:
    return "ok" if value < target else "over"
