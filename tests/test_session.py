"""The interactive coding session (``qcode code``): every input form on a Session object,
then the real command with commands piped on stdin, in a real pseudo-terminal, and killed."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from qcode import coding
from qcode.codebook import Codebook, load_valid
from qcode.codebook_sync import sync
from qcode.project import init
from qcode.project import load as load_project
from qcode.session import Session, complete, completions, find_all, search_pattern
from qcode.store import Store, positions
from tests.conftest import REPO, qcode

CODEBOOK = """\
themes:
  - id: social
    label: Liens
    codes:
      - { id: entraide, label: Entraide, key: e, color: "#59A14F" }
      - { id: santé, label: Santé, color: "#E15759" }
      - { id: récit, label: Récit }
      - { id: mairie, label: Mairie et élus, key: m }
  - id: gouvernance
    label: Gouvernance
    codes:
      - { id: bureau, label: Le bureau, key: bu }
"""

TEXT = (
    "Entretien T1\nDate : 1 mars 2021\n\n"
    "[00:00:05] E : Comment ça a commencé ?\n\n"
    "[00:00:09] Karim : Pendant le confinement. On s’entraide entre voisins. Oui. Et la santé, "
    "c’était dur.\n\n"
    "[00:01:02] E : Bon, d’accord. Et le bureau ?\n\n"
    "[00:01:10] Karim : Oui. Le bureau décide, d’accord. Mais l’été dernier, on a fait la fête "
    "avec la Mairie.\n"
)

WAIT_S = 20.0  # how long to wait for a subprocess's answer: generous, for a loaded machine
TURN2 = "Pendant le confinement. On s’entraide entre voisins. Oui. Et la santé, c’était dur."


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with the codebook and T1 ingested, made once and copied for each test."""
    root = tmp_path_factory.mktemp("session") / "study"
    init(root, name="Session study")
    (root / "codebooks" / "codebook.yaml").write_text(CODEBOOK, encoding="utf-8")
    (root / "transcripts" / "T1.txt").write_text(TEXT, encoding="utf-8")
    result = qcode("ingest", cwd=root)
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture
def root(template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(template, tmp_path / "study"))


@dataclass
class Env:
    root: Path
    store: Store
    book: Codebook

    def session(self, coder: str = "alice", **kw: int) -> Session:
        return Session(self.store, self.book, "T1", coder, **kw)

    def codings(self, coder: str | None = "alice") -> list[tuple[int, str, str]]:
        rows = coding.list_codings(self.store, coders=[coder] if coder else None)
        return [(r["turn"], r["code"], r["quote"]) for r in rows]

    def position(self, coder: str = "alice") -> int | None:
        with self.store.read() as conn:
            return positions.get(conn, coder, "T1")

    def memos(self) -> list[tuple[str, str, str]]:
        return [(m["target_type"], m["target_id"], m["text"])
                for m in coding.list_memos(self.store)]


@pytest.fixture
def env(root: Path) -> Iterator[Env]:
    project = load_project(root)
    store = Store.open(project.store_location)
    book = load_valid(project.root / project.codebook)
    sync(store, book)
    yield Env(root, store, book)
    store.close()


# --- the session object: what is shown -----------------------------------------------------


def test_view_numbers_sentences_and_shows_everyones_codings(env: Env) -> None:
    bob_passage = coding.resolve(env.store, "T1", "2.2-3")
    coding.tag(env.store, env.book, bob_passage, ["santé"], "bob")
    s = env.session()
    assert (s.current, s.resumed) == (1, False)
    assert s.greeting() == "T1: starting, turn 1 of 4; coding as alice; ? for help"
    view = s.view()
    assert ([t.idx for t in view.turns], view.context, view.turn_count) == ([1], None, 4)
    assert (view.current.speaker, view.current.role, view.current.time) == (
        "E", "interviewer", "0:00:05")

    reply = s.handle("e")  # tag the turn with a key
    view = reply.view
    turn = view.current
    assert (turn.idx, turn.speaker, turn.role, turn.time) == (1, "E", "interviewer", "0:00:05")
    reply = s.handle("n")
    turn = reply.view.current
    assert (turn.idx, turn.speaker, turn.role, turn.time, turn.text) == (
        2, "Karim", "participant", "0:00:09", TURN2)
    assert reply.view.context is not None and reply.view.context.idx == 1  # the question
    assert [(n, turn.slice(a, b)) for n, a, b in turn.segments()] == [
        (1, "Pendant le confinement."), (None, " "), (2, "On s’entraide entre voisins."),
        (None, " "), (3, "Oui."), (None, " "), (4, "Et la santé, c’était dur.")]
    s.handle("4 e")
    marks = s.view().current.codings
    assert [(m.code_id, m.coder, m.mine, m.scope, m.sentences, m.color) for m in marks] == [
        ("santé", "bob", False, "sentences 2-3", (2, 3), "#E15759"),
        ("entraide", "alice", True, "sentence 4", (4, 4), "#59A14F")]


def test_page_of_turns_marks_the_current_one(env: Env) -> None:
    s = env.session(page_size=2, turn=3)
    view = s.view()
    assert [(t.idx, t.current) for t in view.turns] == [(3, True), (4, False)]
    assert view.context is None
    assert s.handle("n").view.current.idx == 4
    assert [t.idx for t in s.handle("p").view.turns] == [3, 4]
    assert [t.idx for t in s.handle("p").view.turns] == [1, 2]


# --- the session object: every input form --------------------------------------------------


def test_tag_the_turn_by_id_label_key_several_at_once(env: Env) -> None:
    s = env.session(turn=2)
    reply = s.handle("entraide")
    assert reply.line() == "ok\t2\ttagged turn 2 with entraide"
    assert env.codings() == [(2, "entraide", TURN2)]
    reply = s.handle("Le bureau, récit e")  # a label with a space, an id, a key
    assert reply.message == "tagged turn 2 with bureau, récit; already there: entraide"
    assert env.codings() == [(2, "bureau", TURN2), (2, "entraide", TURN2), (2, "récit", TURN2)]
    assert s.handle("E").message == "already there: entraide on turn 2"
    assert s.handle("+m").message == "tagged turn 2 with mairie"  # + forces a code
    assert len(env.codings()) == 4


def test_tag_sentences(env: Env) -> None:
    s = env.session(turn=2)
    assert s.handle("2-3 santé").message == "tagged sentences 2-3 of turn 2 with santé"
    assert s.handle("4 e").message == "tagged sentence 4 of turn 2 with entraide"
    assert s.handle("récit 1").message == "tagged sentence 1 of turn 2 with récit"  # range last
    assert s.handle("4.3 bu").message == "tagged sentence 3 of turn 4 with bureau"  # other turn
    assert env.codings() == [
        (2, "récit", "Pendant le confinement."),
        (2, "santé", "On s’entraide entre voisins. Oui."),
        (2, "entraide", "Et la santé, c’était dur."),
        (4, "bureau", "Mais l’été dernier, on a fait la fête avec la Mairie.")]
    assert s.current == 2
    for line, message in [
        ("9 santé", "turn 2 of T1 has no sentence 9 (sentences 1 to 4)"),
        ("3", "name at least one code (to go to turn 3, type 'g 3')"),
        ("2 social", "'social' (Liens) is a theme used as a folder; code with one of its codes "
                     "('qcode codebook show --tree')"),
    ]:
        reply = s.handle(line)
        assert (reply.status, reply.message) == ("error", message)
    assert len(env.codings()) == 4


def test_untag_and_undo(env: Env) -> None:
    coding.tag(env.store, env.book, coding.resolve(env.store, "T1", "2"), ["e"], "bob")
    s = env.session(turn=2)
    s.handle("e")
    s.handle("2-3 e")
    s.handle("4 santé")
    assert s.handle("untag e 2-3").message == "removed entraide on sentences 2-3 of turn 2"
    assert env.codings() == [(2, "entraide", TURN2), (2, "santé", "Et la santé, c’était dur.")]
    assert s.handle("u").message == ("undid untag: restored 1 coding(s) "
                                     "(+entraide on sentences 2-3 of turn 2)")
    reply = s.handle("-e")  # every coding of yours with entraide on the turn, one action
    assert reply.message == "removed entraide on turn 2; entraide on sentences 2-3 of turn 2"
    assert env.codings() == [(2, "santé", "Et la santé, c’était dur.")]
    assert env.codings("bob") == [(2, "entraide", TURN2)]  # bob's coding stays
    reply = s.handle("-bu")
    assert (reply.status, reply.message) == (
        "error", "no coding of yours with bureau on turn 2 (yours here: santé (sentence 4))")
    assert s.handle("undo").message.startswith("undid untag: restored 2 coding(s)")
    assert len(env.codings()) == 3
    assert s.handle("u").message == ("undid tag: removed 1 coding(s) "
                                     "(-santé on sentence 4 of turn 2)")
    s.handle("u")
    s.handle("u")
    assert env.codings() == []
    reply = s.handle("u")
    assert (reply.status, reply.message) == ("error", "nothing to undo for coder 'alice'")


def test_memos_on_the_last_coding_else_on_the_transcript(env: Env) -> None:
    s = env.session(turn=2)
    assert s.handle("m Pourquoi « dur » ?").message == "memo on T1 (turn 2)"
    assert env.memos() == [("transcript", "T1", "turn 2: Pourquoi « dur » ?")]
    s.handle("e")
    s.handle("4 santé")
    assert s.handle("memo à relire").message == "memo on your coding santé (sentence 4 of turn 2)"
    santé_id = next(r["id"] for r in coding.list_codings(env.store, codes=["santé"]))
    assert env.memos()[-1] == ("coding", str(santé_id), "à relire")
    memos = s.view().current.memos
    assert [(m.code_id, m.scope, m.text, m.mine) for m in memos] == [
        ("santé", "sentence 4", "à relire", True), (None, "turn", "Pourquoi « dur » ?", True)]
    # 'm' is also the key of 'mairie' here: alone, or with only codes, it codes
    assert s.handle("m").message == "tagged turn 2 with mairie"
    assert s.handle("m bu e").message == "tagged turn 2 with bureau; already there: mairie, " \
                                         "entraide"
    assert s.handle("m bureau à revoir").message.startswith("memo on your coding bureau")
    assert s.handle("u").message == "undid memo: removed the memo"
    assert len(env.memos()) == 2
    reply = s.handle("memo ")
    assert (reply.status, reply.message) == (
        "error", "empty memo (type 'm' then the memo, e.g. 'm à relire')")


def test_moves_are_remembered(env: Env) -> None:
    s = env.session()
    assert env.position() == 1
    reply = s.handle("")  # Enter
    assert reply.line() == ("ok\t2\tturn 2/4 · Karim (participant) · 0:00:09: « Pendant le "
                            "confinement. On s’entraide entre voisins. Oui. E… »")
    assert env.position() == 2
    assert (s.handle("n").turn, env.position()) == (3, 3)
    assert (s.handle("p").turn, env.position()) == (2, 2)
    assert (s.handle("g 4").turn, env.position()) == (4, 4)
    for line, message in [
        ("n", "turn 4 is the last of T1 (q to quit, g 1 to go back to the start)"),
        ("g 9", "T1 has no turn 9 (turns 1 to 4)"),
        ("g x", "g takes a turn number, e.g. 'g 12'"),
    ]:
        reply = s.handle(line)
        assert (reply.status, reply.turn, reply.message) == ("error", 4, message)
    assert (s.handle("g 1").turn, s.handle("p").status) == (1, "error")
    assert env.position() == 1
    assert env.position("bob") is None


def test_search_ignores_case_accents_and_apostrophes(env: Env) -> None:
    s = env.session()
    reply = s.handle("/")
    assert (reply.status, reply.message) == ("error", "no search to repeat (type /word)")
    reply = s.handle("/SANTE")
    assert (reply.status, reply.turn) == ("ok", 2)
    assert reply.message.startswith("« SANTE » in turn 2: …")
    turn = reply.view.current
    assert [turn.slice(a, b) for a, b in turn.highlights] == ["santé"]
    assert env.position() == 2
    assert s.handle("/d'accord").turn == 3  # a straight apostrophe finds « d’accord »
    reply = s.handle("/")
    assert (reply.turn, reply.message.split(":")[0]) == (4, "« d'accord » in turn 4")
    reply = s.handle("/")
    assert (reply.turn, reply.message.split(":")[0]) == (3, "« d'accord » in turn 3 (from the "
                                                            "start)")
    assert s.handle("/l’ETE  dernier").turn == 4
    assert s.handle("p").view.current.highlights == []  # moving on clears the highlight
    reply = s.handle("/zzz")
    assert (reply.status, reply.turn, reply.message) == ("error", 3, "« zzz » is not in T1")
    pattern = search_pattern("oeuvre")
    assert find_all(pattern, "Une Œuvre commune") == [(4, 9)]


def test_help_unknown_codes_and_quit(env: Env) -> None:
    s = env.session(turn=2)
    reply = s.handle("?")
    assert reply.ok and reply.message.startswith("help: ")
    text = "\n".join(reply.detail)
    for form in ("CODE…", "2-3 CODE…", "-CODE…", "u, undo", "m TEXT", "Enter, n", "g 12",
                 "/mot", "?, h", "q "):
        assert form in text
    assert "'m' alone codes with mairie" in text
    assert s.handle("h").detail == reply.detail
    reply = s.handle("entraid récit")
    assert reply.line() == ("error\t2\tno code 'entraid' in the codebook (did you mean "
                            "'entraide' (Entraide)?)")
    assert env.codings() == []  # nothing coded when one code is unknown
    reply = s.handle("q")
    assert (reply.quit, reply.message) == (True, "quit at turn 2; everything you coded is saved")


def test_next_session_resumes_where_this_coder_stopped(env: Env) -> None:
    s = env.session()
    s.handle("g 3")
    again = env.session()
    assert (again.current, again.resumed) == (3, True)
    assert again.greeting().startswith("T1: resuming where you stopped, turn 3 of 4")
    assert env.session("bob").current == 1
    assert env.session(turn=2).current == 2  # an explicit turn wins


# --- the command, piped ------------------------------------------------------------------------


def test_piped_commands_one_result_line_each_then_resume(root: Path) -> None:
    commands = ["", "e", "2-3 santé Le bureau", "-bu", "entraid", "u", "u", "g 4",
                "/DECIDE", "4.1 récit", "?", "m à revoir"]
    result = qcode("code", "T1", "--coder", "claire", cwd=root,
                   stdin="\n".join(commands) + "\n")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split("\t")[:2] for line in lines] == [
        ["ok", "2"], ["ok", "2"], ["ok", "2"], ["ok", "2"], ["error", "2"], ["ok", "2"],
        ["ok", "2"], ["ok", "4"], ["ok", "4"], ["ok", "4"], ["ok", "4"], ["ok", "4"]]
    assert lines[4] == ("error\t2\tno code 'entraid' in the codebook (did you mean 'entraide' "
                        "(Entraide)?)")
    assert "\x1b" not in result.stdout + result.stderr  # no colours, no prompt
    assert result.stderr.startswith("T1: starting, turn 1 of 4; coding as claire; ? for help\n")
    assert "  2-3 CODE…" in result.stderr  # the help screen goes to stderr
    listed = json.loads(qcode("codings", "list", "-f", "json", "--coder", "claire",
                              cwd=root).stdout)
    assert [(r["turn"], r["code"]) for r in listed] == [(2, "entraide"), (4, "récit")]
    memos = json.loads(qcode("memo", "list", "-f", "json", cwd=root).stdout)
    assert [(m["target_type"], m["target_id"], m["coder"], m["text"]) for m in memos] == [
        ("coding", str(listed[1]["id"]), "claire", "à revoir")]

    again = qcode("code", "T1", "--coder", "claire", cwd=root, stdin="")  # EOF: quits, exit 0
    assert (again.returncode, again.stdout) == (0, "")
    assert again.stderr.startswith("T1: resuming where you stopped, turn 4 of 4")
    last = qcode("code", "--coder", "claire", cwd=root, stdin="q\nn\n")  # last transcript
    assert (last.returncode, last.stdout) == (
        0, "ok\t4\tquit at turn 4; everything you coded is saved\n")
    nobody = qcode("code", "--coder", "dan", cwd=root, stdin="")
    assert (nobody.returncode, nobody.stderr) == (
        2, "error: name the transcript to code: dan has not coded any yet ('qcode transcripts "
           "list' shows them)\n")
    unknown = qcode("code", "T10", cwd=root, stdin="")
    assert (unknown.returncode, unknown.stderr) == (
        1, "error: no transcript 'T10' in the store; did you mean 'T1'?\n")


def test_a_script_can_follow_line_by_line_then_interrupt(root: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QCODE_")}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.Popen([sys.executable, "-m", "qcode", "code", "T1", "--coder", "eve"],
                            cwd=root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8")
    try:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        for command, expected in [("n", "ok\t2\tturn 2/4"), ("e", "ok\t2\ttagged turn 2"),
                                  ("zz", "error\t2\tno code 'zz'")]:
            proc.stdin.write(command + "\n")
            proc.stdin.flush()  # the answer comes before the input ends
            assert proc.stdout.readline().startswith(expected)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=WAIT_S) == 130
        assert proc.stderr.read().endswith("interrupted; everything you coded is saved\n")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    rows = json.loads(qcode("codings", "list", "-f", "json", cwd=root).stdout)
    assert [(r["turn"], r["code"], r["coder"]) for r in rows] == [(2, "entraide", "eve")]


# --- the command in a real pseudo-terminal -------------------------------------------------


ANSI = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()][0-9A-B]|[=>])")


class Terminal:
    """``python -m qcode …`` on a pseudo-terminal of 120×40 that owns it as its terminal."""

    def __init__(self, root: Path, *args: str) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        env = {k: v for k, v in os.environ.items() if not k.startswith("QCODE_")}
        env.update(TERM="xterm-256color", INPUTRC="/dev/null", PYTHONPATH=str(REPO),
                   LANG="C.UTF-8", LC_ALL="C.UTF-8")
        for name in ("COLUMNS", "LINES", "NO_COLOR"):
            env.pop(name, None)

        def own_the_terminal() -> None:  # runs in the child: Ctrl-C and hang-ups reach it
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "qcode", *args], stdin=slave, stdout=slave, stderr=slave,
            cwd=root, env=env, preexec_fn=own_the_terminal, close_fds=True)
        os.close(slave)
        self.master: int | None = master
        self.raw = b""
        self.seen = 0  # what was read before the last key, in the screen text

    @property
    def screen(self) -> str:
        return ANSI.sub("", self.raw.decode("utf-8", "replace")).replace("\r", "")

    def _read(self, timeout: float) -> bool:
        assert self.master is not None
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # the child closed the terminal
            return False
        self.raw += chunk
        return bool(chunk)

    def expect(self, text: str) -> str:
        """Wait until ``text`` shows after the last key; the new screen text."""
        deadline = time.monotonic() + WAIT_S
        while text not in self.screen[self.seen:]:
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(min(left, 0.5)):
                if text in self.screen[self.seen:]:
                    break
                raise AssertionError(f"{text!r} not shown; screen:\n{self.screen[self.seen:]}")
        return self.screen[self.seen:]

    def type(self, keys: str) -> None:
        assert self.master is not None
        self.seen = len(self.screen)
        os.write(self.master, keys.encode())

    def wait(self) -> int:
        """Wait for the process to end (reading what it prints) and return its exit code."""
        deadline = time.monotonic() + WAIT_S
        while self.proc.poll() is None and time.monotonic() < deadline:
            if self.master is None:
                time.sleep(0.05)
            elif not self._read(0.2):
                os.close(self.master)
                self.master = None
        return self.proc.wait(timeout=5)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.master is not None:
            os.close(self.master)
            self.master = None


@pytest.fixture
def terminal(env: Env) -> Iterator[list[Terminal]]:
    started: list[Terminal] = []
    yield started
    for t in started:
        t.close()


def _start(env: Env, started: list[Terminal], *args: str) -> Terminal:
    t = Terminal(env.root, "code", "T1", "--coder", "alice", *args)
    started.append(t)
    return t


def test_a_real_terminal_session(env: Env, terminal: list[Terminal]) -> None:
    t = _start(env, terminal)
    screen = t.expect("T1 1/4 ›")
    assert "Comment ça a commencé ?" in screen and "interviewer" in screen
    assert "✓ T1: starting, turn 1 of 4; coding as alice; ? for help" in screen

    t.type("\r")  # Enter: next turn
    screen = t.expect("T1 2/4 ›")
    assert "Karim  participant  0:00:09" in screen
    assert "¹Pendant le confinement. ²On s’entraide entre voisins. ³Oui. ⁴Et la santé" in screen
    assert "1 E: Comment ça a commencé ?" in screen  # the question above the answer
    assert env.position() == 2

    t.type("e\r")
    screen = t.expect("✓ tagged turn 2 with entraide")
    assert re.search(r"whole turn +you +■ Entraide \[e\]", screen)
    assert env.codings() == [(2, "entraide", TURN2)]

    t.type("2-3 santé\r")
    t.expect("✓ tagged sentences 2-3 of turn 2 with santé")
    assert env.codings()[1] == (2, "santé", "On s’entraide entre voisins. Oui.")

    t.type("u\r")
    t.expect("✓ undid tag: removed 1 coding(s) (-santé on sentences 2-3 of turn 2)")
    assert env.codings() == [(2, "entraide", TURN2)]

    t.type("entraid\r")
    t.expect("✗ no code 'entraid' in the codebook (did you mean 'entraide' (Entraide)?)")

    t.type("g 4\r")
    t.expect("T1 4/4 ›")
    t.type("bur\t\r")  # Tab completes the code id
    t.expect("✓ tagged turn 4 with bureau")
    assert env.codings()[-1][:2] == (4, "bureau")

    t.type("/SANTE\r")
    screen = t.expect("T1 2/4 ›")
    assert "« SANTE » in turn 2 (from the start)" in screen
    assert env.position() == 2

    t.type("\x03")  # Ctrl-C
    t.expect("interrupted; everything you coded is saved")
    assert t.wait() == 130
    assert env.codings() == [(2, "entraide", TURN2),
                             (4, "bureau", coding.resolve(env.store, "T1", "4").text)]


def test_end_of_input_and_quit_in_a_terminal(env: Env, terminal: list[Terminal]) -> None:
    t = _start(env, terminal, "--page", "2")
    screen = t.expect("T1 1/4 ›")
    assert "▶   1 E" in screen and "    2 Karim" in screen  # a page of two turns
    t.type("\x04")  # Ctrl-D
    assert t.wait() == 0
    t = _start(env, terminal)
    t.expect("T1 1/4 ›")
    t.type("?\r")
    screen = t.expect("T1 1/4 ›")
    assert "2-3 CODE…          code sentences 2 to 3" in screen
    t.type("q\r")
    t.expect("quit at turn 1; everything you coded is saved")
    assert t.wait() == 0


def test_killed_or_hung_up_sessions_lose_nothing(env: Env, terminal: list[Terminal]) -> None:
    t = _start(env, terminal)
    t.expect("T1 1/4 ›")
    for keys, shown in [("n\r", "T1 2/4 ›"), ("e\r", "✓ tagged turn 2 with entraide"),
                        ("4 santé\r", "✓ tagged sentence 4 of turn 2 with santé"),
                        ("g 4\r", "T1 4/4 ›"), ("2 bu\r", "✓ tagged sentence 2 of turn 4")]:
        t.type(keys)
        t.expect(shown)
    t.type("3 récit\r")  # typed, then killed at once: done entirely or not at all
    os.kill(t.proc.pid, signal.SIGKILL)
    assert t.wait() == -signal.SIGKILL
    done = env.codings()
    assert done[:3] == [(2, "entraide", TURN2), (2, "santé", "Et la santé, c’était dur."),
                        (4, "bureau", "Le bureau décide, d’accord.")]
    assert done[3:] in ([], [(4, "récit", "Mais l’été dernier, on a fait la fête avec la "
                                          "Mairie.")])
    with env.store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    assert env.position() == 4

    t = _start(env, terminal)  # the next session resumes there; then its terminal closes
    t.expect("T1 4/4 ›")
    t.type("3 e\r")
    t.expect("✓ tagged sentence 3 of turn 4 with entraide")
    assert t.master is not None
    os.close(t.master)  # the terminal window is closed: SIGHUP
    t.master = None
    assert t.wait() == 129
    assert env.codings()[-1] == (4, "entraide", "Mais l’été dernier, on a fait la fête avec la "
                                                "Mairie.")


def test_completion_prefers_ids_and_keys_then_labels(env: Env) -> None:
    tiers = completions(env.book)
    assert complete(tiers, "ent") == ["entraide"]
    assert complete(tiers, "-sant") == ["-santé"]  # accents ignored, the sign kept
    assert complete(tiers, "Le b") == ["Le bureau"]  # no id or key: the labels
    assert complete(tiers, "unt") == ["untag"]
    assert "social" not in complete(tiers, "")  # themes are not codable
