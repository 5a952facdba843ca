"""Writing files so that a reader never sees half of one.

:func:`write_atomic` writes to a temporary file in the target's folder, flushes it to disk and
renames it over the target (``os.replace``, atomic on POSIX and Windows): after a crash or a
kill the target is either the previous file or the new one, never a truncated mix, and no
temporary file is left behind by an error.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: str | Path, data: str | bytes, *, mode: int = 0o600) -> Path:
    """Write ``data`` (text is encoded as UTF-8, byte for byte) to ``path`` atomically.

    The parent folder is created when missing. The file gets ``mode`` (owner-only by default:
    exports hold quotes from interviews, which are personal data). Returns the path written.
    """
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                    suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _sync_folder(target.parent)
    return target


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
