"""Reports and exports: quotes per theme, IRaMuTeQ corpora, digests.

Templates are jinja2 files shipped in ``qcode/reports/templates/``; :func:`environment` loads
them with ``StrictUndefined`` and autoescaping for HTML and XML templates only (a Markdown
template escapes its values itself, through the filters its module passes in).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jinja2


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The jinja2 environment of qcode's report templates."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("qcode.reports", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "htm", "xml", "html.j2", "htm.j2", "xml.j2"),
            default_for_string=False, default=False),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
