"""``qcode code``: the interactive coding session, on a terminal or fed by a script.

The session itself (what each line does) is :mod:`qcode.session`; this module reads lines and
shows replies.

- On a terminal (stdin and stdout both TTYs): the screen is redrawn after each line with rich —
  the turn (or page), its numbered sentences, the codings and memos on it — then the result in
  one line and a prompt with line editing, history and Tab completion of commands and code ids,
  keys and labels (readline).
- Otherwise (piped, redirected): no prompt, no colours, no screen; each line read gives exactly
  one result line on stdout, ``ok|error<TAB>turn<TAB>message``, flushed at once so a script can
  follow; the greeting and the help text go to stderr.

Every action is committed before its result is shown. ``q`` or end of input quits (exit 0);
Ctrl-C quits with "interrupted; everything you coded is saved" (exit 130); a closed terminal
(SIGHUP) ends the process cleanly (exit 129) — nothing committed is lost in any case.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from qcode.cli.boundary import command
from qcode.cli.coding import CoderOpt
from qcode.cli.common import ProjectOpt, open_project, open_store
from qcode.cli.output import info
from qcode.errors import ExitCode

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from qcode.session import Session, TurnView, View

INTERRUPTED = "interrupted; everything you coded is saved"
SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def code(
    ctx: typer.Context,
    transcript: Annotated[str | None, typer.Argument(
        help="Transcript id (default: the one you coded last).", show_default=False,
        metavar="[TRANSCRIPT]")] = None,
    page: Annotated[int, typer.Option(
        "--page", min=1, metavar="N",
        help="Show a page of N turns; the codes go to the marked turn.")] = 1,
    turn: Annotated[int | None, typer.Option(
        "--turn", "-t", min=1, metavar="N",
        help="Start at this turn (default: where you stopped).",
        show_default=False)] = None,
    coder: CoderOpt = None,
    project: ProjectOpt = None,
) -> None:
    """Code a transcript turn by turn, interactively (or from commands piped on stdin).

    At the prompt: CODE… codes the turn (ids, labels or keys); 2-3 CODE… codes sentences 2 to
    3; -CODE removes your coding; u undoes; m TEXT writes a memo; Enter or n next turn, p
    previous, g 12 go to turn 12, /word search, ? help, q quit. Every action is saved at once;
    the next session resumes where you stopped. Piped, each command prints one line on stdout:
    ok|error, the turn, a message, separated by tabs.
    """
    from qcode.codebook_sync import open_synced
    from qcode.coders import resolve_coder
    from qcode.session import Session, last_transcript

    proj = open_project(ctx, project)
    store = open_store(proj)
    book, _ = open_synced(proj, store)
    who = resolve_coder(coder, proj)
    session = Session(store, book, transcript or last_transcript(store, who), who,
                      page_size=page, turn=turn)
    _exit_cleanly_on_hangup()
    try:
        if sys.stdin.isatty() and sys.stdout.isatty():
            _interactive(session)
        else:
            _piped(session)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        info(INTERRUPTED)
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except OSError as exc:
        if exc.errno in (errno.EIO, errno.ENXIO):  # the terminal went away
            _terminal_gone()
        raise
    finally:
        store.close()


HANGUP_EXIT = 129  # 128 + SIGHUP, as a shell reports a hung-up process


def _terminal_gone() -> NoReturn:
    """The terminal is closed: nothing more can be shown, and everything is saved; exit
    without the errors that writing to a dead terminal would raise on the way out."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    raise SystemExit(HANGUP_EXIT)


def _exit_cleanly_on_hangup() -> None:
    """On SIGHUP (the terminal closed), unwind and exit: an open transaction rolls back, every
    committed action stays. Left alone when SIGHUP is ignored (nohup)."""
    if not hasattr(signal, "SIGHUP") or signal.getsignal(signal.SIGHUP) is not signal.SIG_DFL:
        return

    def hangup(_signum: int, _frame: FrameType | None) -> None:
        _terminal_gone()

    signal.signal(signal.SIGHUP, hangup)


# --- piped -------------------------------------------------------------------------------------


def _piped(session: Session) -> None:
    info(session.greeting())
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        reply = session.handle(line.rstrip("\r\n"))
        print(reply.line(), flush=True)
        if reply.detail:
            info("\n".join(reply.detail))
        if reply.quit:
            return


# --- on a terminal -----------------------------------------------------------------------------


def _interactive(session: Session) -> None:
    from rich.console import Console

    console = Console(highlight=False)
    _setup_readline(session)
    view = session.view()
    status, message = "ok", session.greeting()
    detail: list[str] = []
    while True:
        console.clear()
        _render(console, view)
        for line in detail:
            console.print(line, markup=False, style="cyan")
        if message:
            console.print(("✓ " if status == "ok" else "✗ ") + message, markup=False,
                          style="green" if status == "ok" else "bold red")
        try:
            line = input(_prompt(view))
        except EOFError:
            print()
            return
        reply = session.handle(line)
        if reply.quit:
            console.print(reply.message, markup=False)
            return
        view, status, detail = reply.view, reply.status, reply.detail
        if reply.action == "help":
            detail = [*detail, "  Tab completes commands and code ids, keys and labels."]
        message = "" if reply.ok and reply.action in ("move", "help") else reply.message


def _prompt(view: View) -> str:
    # \001 and \002 tell readline that the escape sequences take no room on the line
    return (f"\001\033[2m\002{view.transcript_id} {view.turn}/{view.turn_count}"
            "\001\033[0m\002 › ")


def _setup_readline(session: Session) -> None:
    try:
        import readline
    except ImportError:  # pragma: no cover - Windows without pyreadline
        return
    from qcode.session import complete, completions

    tiers = completions(session.book)
    matches: list[str] = []

    def completer(text: str, state: int) -> str | None:
        if state == 0:
            matches[:] = complete(tiers, text)
        return matches[state] if state < len(matches) else None

    readline.set_completer_delims(" \t\n,")
    readline.set_completer(completer)
    if "libedit" in (readline.__doc__ or ""):
        readline.parse_and_bind("bind ^I rl_complete")
    else:
        readline.parse_and_bind("tab: complete")


def _render(console: Console, view: View) -> None:
    from rich.padding import Padding
    from rich.rule import Rule
    from rich.text import Text

    about = ", ".join(view.attributes[k] for k in ("role", "initiative")
                      if view.attributes.get(k))
    title = f"{view.transcript_id}{f' ({about})' if about else ''} · turn {view.turn} of " \
            f"{view.turn_count} · {view.coder}"
    console.print(Rule(Text(title, style="bold"), style="dim", align="left"))
    if view.context is not None:
        ctx = view.context
        line = " ".join(ctx.text.split())
        width = max(20, console.width - len(ctx.speaker) - 12)
        if len(line) > width:
            line = line[:width - 1] + "…"
        console.print(f"  {ctx.idx:>3} {ctx.speaker}: {line}", style="dim", markup=False,
                      no_wrap=True, overflow="ellipsis")
    for tv in view.turns:
        console.print()
        console.print(_heading(tv, len(view.turns) > 1))
        console.print(Padding(_body(tv), (0, 0, 0, 6)))
        extra = _codings(tv)
        if extra is not None:
            console.print(Padding(extra, (1, 0, 0, 6)))
    console.print()


def _heading(tv: TurnView, page: bool) -> Text:
    from rich.text import Text

    interviewer = tv.role == "interviewer"
    out = Text()
    out.append("▶ " if tv.current and page else "  ", style="bold yellow")
    out.append(f"{tv.idx:>3} ", style="bold")
    out.append(tv.speaker, style="dim italic" if interviewer else "bold")
    out.append(f"  {tv.role}", style="dim")
    if tv.time:
        out.append(f"  {tv.time}", style="dim")
    return out


def _body(tv: TurnView) -> Text:
    from rich.text import Text

    base = "dim" if tv.role == "interviewer" else ""
    out = Text()
    for number, start, end in tv.segments():
        if number is not None:
            out.append(str(number).translate(SUPERSCRIPT), style="bold cyan")
        _append_highlighted(out, tv, start, end, base)
    return out


def _append_highlighted(out: Text, tv: TurnView, start: int, end: int, base: str) -> None:
    pos = start
    for a, b in tv.highlights:
        a, b = max(a, start), min(b, end)
        if a >= b:
            continue
        if a > pos:
            out.append(tv.slice(pos, a), style=base)
        out.append(tv.slice(a, b), style="black on yellow")
        pos = b
    if pos < end:
        out.append(tv.slice(pos, end), style=base)


def _codings(tv: TurnView) -> Any:
    """One row per coding and memo: what it covers, whose it is, the code (wrapped if long)."""
    from rich.table import Table
    from rich.text import Text

    from qcode.codebook import fold

    if not tv.codings and not tv.memos:
        return None
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True, style="cyan")
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for m in tv.codings:
        name = Text()
        name.append("■ ", style=m.color or "white")
        name.append(m.label, style="bold" if m.mine else "")
        if fold(m.label) != fold(m.code_id):
            name.append(f" {m.code_id}", style="dim")
        if m.key:
            name.append(f" [{m.key}]", style="dim")
        who = "you" if m.mine else m.coder
        if m.origin != "manual":
            who += f" ({m.origin})"
        grid.add_row(m.scope, Text(who, style="bold green" if m.mine else "dim"), name)
    for memo in tv.memos:
        text = Text("✎ ", style="magenta")
        text.append(f"memo on {memo.code_id}: " if memo.code_id else "memo: ", style="dim")
        text.append(memo.text, style="italic")
        grid.add_row(memo.scope, Text("you" if memo.mine else memo.coder,
                                      style="bold green" if memo.mine else "dim"), text)
    return grid


def register(app: typer.Typer) -> None:
    app.command()(command(code))
