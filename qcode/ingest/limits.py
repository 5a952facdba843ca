"""Size limits applied to files from outside (documented in the README; set in qcode.yaml).

A transcript of a two-hour interview is well under 1 MB of text; these limits are generous for
real files and stop absurd or hostile ones (ZIP bombs, gigantic XML) before they cost memory.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    max_file_bytes: int = 50 * 1024 * 1024  # size of a file on disk
    max_unzipped_bytes: int = 200 * 1024 * 1024  # total uncompressed size of a .docx/.odt/.qdpx
    max_zip_ratio: int = 200  # uncompressed/compressed ratio of one ZIP member
    max_zip_members: int = 10_000


DEFAULT_LIMITS = Limits()
