"""Finding, loading, validating and creating projects."""

from __future__ import annotations

from pathlib import Path

import pytest

from qcode.errors import ProjectError, ValidationError
from qcode.project import find_root, init, load


def test_init_writes_config_and_folders(tmp_path: Path) -> None:
    config = init(tmp_path / "etude", name="Étude « voisins »")
    root = config.parent
    assert config.name == "qcode.yaml"
    for sub in ("codebooks", "transcripts", "exports"):
        assert (root / sub).is_dir()
    project = load(root)
    assert project.name == "Étude « voisins »"
    assert project.language == "fr"
    assert project.coding_unit == "sentence"
    assert project.speakers.role_of("Enquêtrice", "x") == "interviewer"
    assert project.speakers.role_of("enq.", "x") == "interviewer"
    assert project.speakers.role_of("Karim", "x") is None


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    init(tmp_path)
    with pytest.raises(ProjectError, match="already exists"):
        init(tmp_path)


def test_find_root_walks_up(project_dir: Path) -> None:
    deep = project_dir / "transcripts" / "a" / "b"
    deep.mkdir(parents=True)
    assert find_root(deep) == project_dir.resolve()


def test_find_root_explicit_and_env(project_dir: Path, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert find_root(elsewhere, explicit=project_dir) == project_dir.resolve()
    monkeypatch.setenv("QCODE_PROJECT", str(project_dir))
    assert find_root(elsewhere) == project_dir.resolve()
    monkeypatch.setenv("QCODE_PROJECT", str(elsewhere))
    with pytest.raises(ProjectError, match=r"no qcode\.yaml in"):
        find_root(elsewhere)


def test_outside_any_project(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="not inside a qcode project"):
        find_root(tmp_path)


def test_speaker_map_per_transcript(tmp_path: Path) -> None:
    (tmp_path / "qcode.yaml").write_text(
        "speakers:\n  interviewer: [E, Claire]\n  other: [Traductrice]\n"
        "  transcripts:\n    T1: {SPEAKER_00: interviewer, E: participant}\n",
        encoding="utf-8")
    smap = load(tmp_path).speakers
    assert smap.role_of("SPEAKER_00", "T1") == "interviewer"
    assert smap.role_of("SPEAKER_00", "T2") is None
    assert smap.role_of("E", "T1") == "participant"
    assert smap.role_of("e", "T2") == "interviewer"
    assert smap.role_of("traductrice", "T2") == "other"


def test_every_problem_is_reported_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "qcode.yaml").write_text(
        "name: ok\n"
        "langauge: fr\n"
        "coding_unit: paragraph\n"
        "speakers:\n"
        "  interviewer: E\n"
        "  transcripts:\n"
        "    T1: {X: boss}\n"
        "limits:\n"
        "  max_file_mb: -1\n",
        encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        load(tmp_path)
    problems = info.value.problems
    cfg = tmp_path / "qcode.yaml"
    assert problems == [
        f"{cfg}:2:1: langauge: unknown setting (known: attributes, codebook, coder, coding_unit, "
        "export, exports, ignore, language, limits, name, speakers, store, suggest, transcripts)",
        f"{cfg}:3:14: coding_unit: must be one of sentence, turn",
        f"{cfg}:5:16: speakers.interviewer: must be a list of speaker labels",
        f"{cfg}:7:13: speakers.transcripts.T1.X: unknown role 'boss' (use interviewer, "
        "participant, other)",
        f"{cfg}:9:16: limits.max_file_mb: must be a positive number of megabytes",
    ]
    assert info.value.exit_code == 3


def test_invalid_yaml_names_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "qcode.yaml").write_text("name: [unclosed\nlanguage: fr\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"qcode\.yaml:\d+:\d+: invalid YAML"):
        load(tmp_path)


@pytest.mark.sqlite_only  # about the SQLite file
def test_database_url_from_environment(project_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = load(project_dir)
    assert project.store_location == str(project_dir / ".qcode" / "qcode.db")
    monkeypatch.setenv("QCODE_DB", "postgresql://localhost/qcode")
    assert project.store_location == "postgresql://localhost/qcode"


def test_every_limit_can_be_set_in_the_project(tmp_path: Path) -> None:
    (tmp_path / "qcode.yaml").write_text(
        "name: ok\nlimits:\n  max_file_mb: 2\n  max_unzipped_mb: 0.5\n  max_zip_members: 40\n"
        "  max_zip_ratio: 50\n  max_turns: 900\n", encoding="utf-8")
    limits = load(tmp_path).limits
    assert (limits.max_file_bytes, limits.max_unzipped_bytes, limits.max_zip_members,
            limits.max_zip_ratio, limits.max_turns) == (2 * 1024 * 1024, 512 * 1024, 40, 50,
                                                        900)
    (tmp_path / "qcode.yaml").write_text(
        "name: ok\nlimits:\n  max_turns: 1.5\n  max_zip_ratio: true\n  max_pages: 3\n",
        encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        load(tmp_path)
    cfg = tmp_path / "qcode.yaml"
    assert info.value.problems[:2] == [
        f"{cfg}:3:14: limits.max_turns: must be a positive whole number",
        f"{cfg}:4:18: limits.max_zip_ratio: must be a positive whole number"]


def test_the_turn_limit_of_the_project_applies_at_ingest(project_dir: Path) -> None:
    from tests.conftest import qcode

    config = project_dir / "qcode.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        "max_turns: 100000", "max_turns: 3"), encoding="utf-8")
    (project_dir / "transcripts" / "T1.txt").write_text(
        "".join(f"{'E' if n % 2 else 'Ana'} : Phrase {n}.\n\n" for n in range(1, 6)),
        encoding="utf-8")
    done = qcode("ingest", cwd=project_dir)
    assert done.returncode == 1
    assert "refused: 5 turns, the limit is 3" in done.stderr
