"""ZIP archives from outside, opened safely: Word and OpenDocument files, REFI-QDA projects.

Before anything is read, an archive is checked against :class:`~qcode.ingest.limits.Limits`:
the size of the file, the number of members, their total uncompressed size, and the
compression ratio of every member larger than 1 MiB (smaller members cannot cost much memory).
:func:`check_member_names` also refuses names that would escape a folder if the archive were
unpacked (``../``, absolute paths, drive letters, backslashes). Members are only ever read into
memory, never extracted, and :mod:`zipfile` stops at each member's declared size, so an archive
that lies about its sizes fails its CRC check instead of filling the memory.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from pathlib import Path

from qcode.errors import InputError
from qcode.ingest.limits import DEFAULT_LIMITS, Limits

RATIO_FLOOR = 1024 * 1024  # members below this size are not checked for their ratio

_DRIVE_RE = re.compile(r"^[A-Za-z]:")


def open_zip(data: bytes, path: str | Path, kind: str, limits: Limits = DEFAULT_LIMITS, *,
             hint: str | None = None) -> zipfile.ZipFile:
    """Open ``data`` as a ZIP archive after checking it against ``limits``.

    ``kind`` names the format in messages (``Word``, ``REFI-QDA project``); ``hint`` is what
    to say when the bytes are not a ZIP archive at all.
    """
    if len(data) > limits.max_file_bytes:
        raise InputError(f"file too large ({len(data)} bytes, the limit is "
                         f"{limits.max_file_bytes})", path=path)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as exc:
        raise InputError(f"not a readable {kind} (ZIP) file: {exc}", path=path,
                         hint=hint) from None
    if len(infos) > limits.max_zip_members:
        raise InputError(f"refused {kind}: {len(infos)} members in the archive, the limit is "
                         f"{limits.max_zip_members}", path=path)
    total = sum(info.file_size for info in infos)
    if total > limits.max_unzipped_bytes:
        raise InputError(f"refused {kind}: {total} bytes once unzipped, the limit is "
                         f"{limits.max_unzipped_bytes}", path=path)
    for info in infos:
        if info.file_size > RATIO_FLOOR and (
            info.file_size > limits.max_zip_ratio * max(info.compress_size, 1)
        ):
            raise InputError(
                f"refused {kind}: member {info.filename!r} expands {info.file_size} bytes from "
                f"{info.compress_size} (ratio above {limits.max_zip_ratio}), a ZIP bomb?",
                path=path,
            )
    return archive


def unsafe_name(name: str) -> bool:
    """True for a member name that would land outside the folder it is unpacked into."""
    if not name or "\\" in name or "\x00" in name or name.startswith("/") or \
            _DRIVE_RE.match(name):
        return True
    return any(part == ".." for part in name.split("/"))


def check_member_names(archive: zipfile.ZipFile, path: str | Path, kind: str) -> None:
    """Refuse an archive with a member name that escapes its folder (path traversal)."""
    for info in archive.infolist():
        if unsafe_name(info.filename):
            raise InputError(f"refused {kind}: the member {info.filename!r} points outside "
                             "the archive (path traversal)", path=path,
                             hint="the file was made to overwrite other files when unpacked")


def read_member(archive: zipfile.ZipFile, name: str, path: str | Path, kind: str) -> bytes:
    """The bytes of one member; a missing or damaged member is an :class:`InputError`."""
    try:
        return archive.read(name)
    except KeyError:
        raise InputError(f"not a {kind} document: no {name} in the archive", path=path) from None
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError,
            OSError, ValueError) as exc:
        raise InputError(f"damaged {kind}: cannot unzip {name}: {exc}", path=path) from None
