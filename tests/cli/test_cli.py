"""The qcode command as users and scripts meet it: exit codes, stdout, stderr."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.conftest import qcode

GOOD = (
    "Entretien T1\nDate : 1 mars 2021\n\n"
    "E : Comment ça a commencé ?\n\nKarim : Avec les voisins, pendant le confinement.\n\n"
    "E : Et après ?\n\nKarim : On a créé l’association. On s’entraide.\n"
)


@pytest.fixture
def ingested(project_dir: Path) -> Path:
    tr = project_dir / "transcripts"
    (tr / "T1.txt").write_text(GOOD, encoding="utf-8")
    (tr / "T2.md").write_text(GOOD.replace("Karim", "**Agnès**").replace("E :", "**E :**"),
                              encoding="utf-8")
    (tr / "attributes.csv").write_text("id,initiative,role\nT1,amis-de-la-cour,porteur\n"
                                       "T2,les-ailes,membre\n", encoding="utf-8")
    result = qcode("ingest", cwd=project_dir)
    assert result.returncode == 0, result.stderr
    return project_dir


def test_version() -> None:
    result = qcode("--version")
    assert (result.returncode, result.stdout, result.stderr) == (0, "qcode 0.1.0\n", "")


def test_outside_a_project_is_exit_1_with_one_line(tmp_path: Path) -> None:
    result = qcode("transcripts", "list", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "error: not inside a qcode project (no qcode.yaml here or in any parent folder) "
        "(run 'qcode init' to create one, or pass --project DIR)\n")


def test_usage_error_is_exit_2(ingested: Path) -> None:
    result = qcode("transcripts", "show", cwd=ingested)
    assert result.returncode == 2
    assert "Missing argument" in result.stderr
    result = qcode("transcripts", "list", "--format", "xml", cwd=ingested)
    assert result.returncode == 2


def test_invalid_config_is_exit_3_listing_every_problem(project_dir: Path) -> None:
    cfg = project_dir / "qcode.yaml"
    cfg.write_text("name: x\nlanguage: french\ncoding_unit: page\n", encoding="utf-8")
    result = qcode("transcripts", "list", cwd=project_dir)
    assert result.returncode == 3
    assert result.stderr.splitlines() == [
        f"error: {cfg}:2:11: language: must be a language code such as fr, en, de",
        f"error: {cfg}:3:14: coding_unit: must be one of sentence, turn",
        f"error: {cfg}: 2 problem(s) in qcode.yaml",
    ]


def test_init_then_init_again(tmp_path: Path) -> None:
    result = qcode("init", "etude", "--name", "Étude", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout == ""
    assert result.stderr == (f"created {tmp_path / 'etude' / 'qcode.yaml'}\n"
                             "next: put transcripts in transcripts/ and run 'qcode ingest'\n")
    again = qcode("init", "etude", cwd=tmp_path)
    assert again.returncode == 1
    assert "already exists" in again.stderr


def test_ingest_reports_on_stderr_and_reingest_is_a_noop(ingested: Path) -> None:
    result = qcode("ingest", cwd=ingested)
    assert result.returncode == 0
    assert result.stdout == ""
    assert result.stderr == "unchanged T1\nunchanged T2\ningest: 2 unchanged\n"


def test_ingest_json_report_for_scripts(ingested: Path) -> None:
    (ingested / "transcripts" / "bad.txt").write_bytes(b"")
    result = qcode("ingest", "--format", "json", cwd=ingested)
    assert result.returncode == 1
    report = {r["transcript_id"]: r for r in json.loads(result.stdout)}
    assert report["T1"]["status"] == "unchanged"
    assert report["bad"]["status"] == "failed"
    assert report["bad"]["message"].endswith("bad.txt: empty file: nothing to ingest")
    assert result.stderr.splitlines()[-2:] == [
        f"error: {ingested / 'transcripts' / 'bad.txt'}: empty file: nothing to ingest",
        "ingest: 2 unchanged, 1 failed",
    ]


def test_list_json(ingested: Path) -> None:
    result = qcode("transcripts", "list", "--format", "json", cwd=ingested)
    assert result.returncode == 0 and result.stderr == ""
    rows = json.loads(result.stdout)
    assert [(r["id"], r["format"], r["turns"], r["speakers"], r["interviewer"]) for r in rows] == [
        ("T1", "txt", 4, 2, "E"), ("T2", "md", 4, 2, "E")]
    assert rows[0]["attributes"] == {"initiative": "amis-de-la-cour", "role": "porteur"}
    assert rows[0]["file"] == "transcripts/T1.txt"


def test_list_csv_has_one_column_per_attribute(ingested: Path) -> None:
    result = qcode("transcripts", "list", "--format", "csv", cwd=ingested)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["id", "file", "format", "turns", "speakers", "words", "version",
                             "interviewer", "initiative", "role"]
    assert rows[1]["initiative"] == "les-ailes"


def test_list_table(ingested: Path) -> None:
    result = qcode("transcripts", "list", cwd=ingested)
    assert result.returncode == 0
    assert "T1" in result.stdout and "initiative=amis-de-la-cour" in result.stdout


def test_show_json_offsets_are_exact(ingested: Path) -> None:
    result = qcode("transcripts", "show", "T2", "--format", "json", cwd=ingested)
    view = json.loads(result.stdout)
    assert view["text"].startswith("Entretien T1\n")
    assert [(t["turn"], t["speaker"], t["role"]) for t in view["turns"]] == [
        (1, "E", "interviewer"), (2, "Agnès", "participant"), (3, "E", "interviewer"),
        (4, "Agnès", "participant")]
    for t in view["turns"]:
        assert t["text"] == view["text"][t["start"]:t["end"]]
        for s in t["sentences"]:
            assert t["start"] <= s["start"] < s["end"] <= t["end"]


def test_show_a_range_of_turns(ingested: Path) -> None:
    result = qcode("transcripts", "show", "T1", "--turns", "2-3", "-f", "csv", cwd=ingested)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["turn"] for r in rows] == ["2", "3"]
    assert rows[0]["text"] == "Avec les voisins, pendant le confinement."


def test_show_table_wraps_but_keeps_text(ingested: Path) -> None:
    result = qcode("transcripts", "show", "T1", cwd=ingested)
    assert result.returncode == 0
    assert "confinement" in result.stdout


@pytest.mark.parametrize(("turns", "message"), [
    ("9", "error: turn 9 does not exist (the transcript has 4 turns)\n"),
    ("3-1", "error: invalid turn range '3-1' (turns are numbered from 1)\n"),
    ("x", "error: invalid turn range 'x' (use 12, 10-20 or 10-)\n"),
])
def test_show_bad_turn_range_is_usage_error(ingested: Path, turns: str, message: str) -> None:
    result = qcode("transcripts", "show", "T1", "--turns", turns, cwd=ingested)
    assert (result.returncode, result.stderr) == (2, message)


def test_show_unknown_id_suggests(ingested: Path) -> None:
    result = qcode("transcripts", "show", "t1", cwd=ingested)
    assert result.returncode == 1
    assert result.stderr == "error: no transcript 't1' in the store; did you mean 'T1'?\n"


def test_speakers(ingested: Path) -> None:
    result = qcode("transcripts", "speakers", "-f", "json", cwd=ingested)
    assert json.loads(result.stdout) == [
        {"speaker": "E", "role": "interviewer", "turns": 4, "transcripts": 2},
        {"speaker": "Agnès", "role": "participant", "turns": 2, "transcripts": 1},
        {"speaker": "Karim", "role": "participant", "turns": 2, "transcripts": 1},
    ]


def test_remove(ingested: Path) -> None:
    result = qcode("transcripts", "remove", "T2", cwd=ingested)
    assert (result.returncode, result.stderr) == (0, "removed T2\n")
    listed = json.loads(qcode("transcripts", "list", "-f", "json", cwd=ingested).stdout)
    assert [r["id"] for r in listed] == ["T1"]
    result = qcode("transcripts", "remove", "T1", "T9", cwd=ingested)
    assert result.returncode == 1
    listed = json.loads(qcode("transcripts", "list", "-f", "json", cwd=ingested).stdout)
    assert [r["id"] for r in listed] == ["T1"]  # all or nothing


def test_project_option_and_environment(ingested: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args, env in [(("--project", str(ingested), "transcripts", "list"), None),
                      (("transcripts", "list", "--project", str(ingested)), None),
                      (("transcripts", "list"), {"QCODE_PROJECT": str(ingested)})]:
        result = qcode(*args, "-f", "json", cwd=elsewhere, env=env)
        assert result.returncode == 0, result.stderr
        assert len(json.loads(result.stdout)) == 2


def test_never_prompts_without_a_terminal(ingested: Path) -> None:
    result = qcode("transcripts", "remove", "T1", cwd=ingested, stdin="")
    assert result.returncode == 0


def test_warnings_are_one_line_each(project_dir: Path) -> None:
    (project_dir / "transcripts" / "T1.txt").write_text(
        GOOD.replace("E :", "Yanis :"), encoding="utf-8")
    result = qcode("ingest", cwd=project_dir)
    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        "added     T1: 4 turns, 18 words",
        "warning: T1: speaker 'Yanis' taken as the interviewer (2 of 2 turns are questions); "
        "map it in qcode.yaml 'speakers' to be sure",
        "ingest: 1 added",
    ]
