"""The bundled study ingests completely: 40 interviews, speakers, interviewers, attributes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, qcode


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository's study project (the repo's own store is left alone)."""
    root = tmp_path_factory.mktemp("study")
    shutil.copy(REPO / "qcode.yaml", root / "qcode.yaml")
    shutil.copytree(REPO / "transcripts", root / "transcripts")
    shutil.copytree(REPO / "codebooks", root / "codebooks")
    result = qcode("run", "--format", "json", cwd=root)
    assert result.returncode == 0, result.stderr
    return root


def test_main_job_summary(study: Path) -> None:
    result = qcode("run", "--format", "json", cwd=study)
    summary = json.loads(result.stdout)
    assert summary["errors"] == []
    assert summary["totals"][0]["transcripts"] == 40
    assert summary["transcripts_without_interviewer"] == []
    initiatives = {g["value"]: g["transcripts"] for g in summary["by_attribute"]
                   if g["group"] == "initiative"}
    assert initiatives == {"amicale-glycines": 10, "amis-de-la-cour": 10, "les-ailes": 10,
                           "republique-voisins": 10}
    themes = {t["theme"]: t for t in summary["codebook"]}
    assert list(themes) == ["initial-aim", "values", "method-communication", "governance",
                            "economic-model", "public-space", "institutions",
                            "social-production", "resilience-factors"]
    assert 30 <= sum(t["codes"] for t in themes.values()) <= 50
    assert summary["accept_score"] == 0.5 and summary["accepted_suggestions"] == 0  # a re-run
    assert [Path(p).name for p in summary["exports"]] == ["quotes.md", "quotes.csv",
                                                          "digest.md", "digest.html"]
    assert all(Path(p).parent == study / "exports" and Path(p).stat().st_size > 10_000
               for p in summary["exports"])
    assert all(t["codings"] > 0 for t in themes.values())


def test_main_job_codings_are_keyword_codings_told_apart(study: Path) -> None:
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(
        qcode("codings", "list", "-f", "csv", cwd=study).stdout)))
    assert len(rows) > 1000
    assert {(r["coder"], r["origin"]) for r in rows} == {("qcode-keywords", "keyword")}
    pending = json.loads(qcode("suggestions", "list", "-f", "json", cwd=study).stdout)
    assert all(p["score"] < 0.5 for p in pending)


def test_study_codebook_is_valid_and_complete() -> None:
    from qcode.codebook import load_valid

    book = load_valid(REPO / "codebooks" / "voisinage-resilience.yaml")
    assert book.warnings == []
    for code in book.walk():
        if code.depth == 0:
            assert not code.codable and code.description and code.color
            continue
        assert code.description and code.include and code.exclude, code.id
        assert code.examples and len(code.keywords) >= 8, code.id
    keys = [c.key for c in book.codes.values() if c.key]
    assert len(keys) == len(set(keys)) >= 20


def test_every_transcript_has_speakers_interviewer_and_attributes(study: Path) -> None:
    rows = json.loads(qcode("transcripts", "list", "-f", "json", cwd=study).stdout)
    assert len(rows) == 40
    formats = {r["format"] for r in rows}
    assert formats == {"txt", "md", "docx", "odt", "vtt", "srt", "trs", "otter"}
    for r in rows:
        assert r["speakers"] >= 2, r
        assert r["interviewer"], r
        assert 800 <= r["words"] <= 2500, r
        assert {"initiative", "role", "interviewer", "date"} <= set(r["attributes"]), r


@pytest.mark.parametrize("tid", ["HV01", "AI04", "AI05", "GL05", "GL06", "HV09", "AC03", "AI10"])
def test_turns_alternate_and_point_into_the_text(study: Path, tid: str) -> None:
    view = json.loads(qcode("transcripts", "show", tid, "-f", "json", cwd=study).stdout)
    assert view["warnings"] == [] or all("interviewer" in w for w in view["warnings"])
    roles = [t["role"] for t in view["turns"]]
    assert roles.count("interviewer") >= 5 and roles.count("participant") >= 5
    for t in view["turns"]:
        assert t["text"] == view["text"][t["start"]:t["end"]]
        assert t["text"].strip() == t["text"] and t["text"]
    assert any(ch in view["text"] for ch in "éèàç")
    assert "Ã" not in view["text"]  # no mojibake


def test_header_blocks_are_metadata(study: Path) -> None:
    view = json.loads(qcode("transcripts", "show", "GL01", "-f", "json", cwd=study).stdout)
    assert view["metadata"]["enqueteur"] == "Claire Morel"
    assert "Date" not in view["turns"][0]["text"]
