"""Local Sphinx extension for the lossnotes book.

It loads the book's other local extensions, each in its own module in _ext/:
``prerendered_math`` (every formula typeset when the site is built), ``notebook_downloads``
(executed chapters as .ipynb), ``api_links`` (chapter to API reference) and
``preexecuted`` (reading chapters as tools/preexecute.py executes them).

Jupyter Book always loads sphinx-thebe.  Under Sphinx 7.4 its inline
``const THEBE_JS_URL = ...`` script is registered again for each batch of
documents read, so a page can carry it twice and the browser reports
"Identifier 'THEBE_JS_URL' has already been declared".  These notes do not use
thebe (there are no launch buttons), so its scripts are dropped from every
page; that also keeps the page free of the off-site thebe URL.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def _is_thebe(script: Any) -> bool:
    filename = getattr(script, "filename", script) or ""
    body = getattr(script, "attributes", {}).get("body", "") or ""
    return "thebe" in str(filename) or "THEBE_JS_URL" in body


def _drop_thebe_scripts(
    app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    scripts = context.get("script_files")
    if scripts is not None:
        context["script_files"] = [s for s in scripts if not _is_thebe(s)]


def setup(app: Sphinx) -> dict[str, Any]:
    for extension in ("prerendered_math", "notebook_downloads", "api_links", "preexecuted"):
        app.setup_extension(extension)
    app.connect("html-page-context", _drop_thebe_scripts)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
