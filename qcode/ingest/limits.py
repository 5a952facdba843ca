"""Size limits applied to files from outside (documented in the README; set in qcode.yaml).

A transcript of a two-hour interview is well under 1 MB of text and a few thousand turns; these
limits are generous for real files and stop absurd or hostile ones (ZIP bombs, gigantic XML, a
million turns) before they cost minutes and gigabytes.

:data:`MAX_TIME_MS` is not a setting but a bound on what a time in a transcript can mean: no
recording lasts 100 hours, and a time beyond it (``99999999:00:00.000``) is a damaged or
hostile file, not an interview.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MAX_TIME_MS = 100 * 3600 * 1000  # 100 hours: a later time in a transcript is refused


@dataclass(frozen=True, slots=True)
class Limits:
    max_file_bytes: int = 50 * 1024 * 1024  # size of a file on disk
    max_unzipped_bytes: int = 200 * 1024 * 1024  # total uncompressed size of a .docx/.odt/.qdpx
    max_zip_ratio: int = 200  # uncompressed/compressed ratio of one ZIP member
    max_zip_members: int = 10_000
    max_turns: int = 100_000  # turns in one transcript


DEFAULT_LIMITS = Limits()


def read_limited(path: Path, limits: Limits, kind: str) -> bytes:
    """The bytes of an outside file named by the user (a ``kind`` such as ".qdc file"), read
    only when it is within ``limits.max_file_bytes``; every failure is one clear error."""
    from qcode.errors import InputError, NotFoundError

    try:
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            raise InputError(f"file too large ({size} bytes, the limit is "
                             f"{limits.max_file_bytes})", path=path,
                             hint="raise limits.max_file_mb in qcode.yaml if it is genuine")
        return path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError("no such file", path=path) from None
    except IsADirectoryError:
        raise InputError(f"a folder, not a {kind}", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", path=path) from None
