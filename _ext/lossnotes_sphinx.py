"""Local Sphinx extension for the lossnotes book.

It loads the book's other local extensions, each in its own module in _ext/:
``prerendered_math`` (every formula typeset when the site is built), ``notebook_downloads``
(executed chapters as .ipynb), ``api_links`` (chapter to API reference),
``package_code`` (a package function's code, without its docstring) and
``preexecuted`` (reading chapters as tools/preexecute.py executes them).

Jupyter Book always loads sphinx-thebe.  Under Sphinx 7.4 its inline
``const THEBE_JS_URL = ...`` script is registered again for each batch of
documents read, so a page can carry it twice and the browser reports
"Identifier 'THEBE_JS_URL' has already been declared".  These notes do not use
thebe (there are no launch buttons), so all of it is dropped from every page:
its scripts (which also keeps the page free of the off-site thebe URL), its
stylesheet, and the kernel configuration it appends to each document.

What else every page would download and the notes do not use is left out too:
sphinx-design's stylesheet and script (62 kB) from the pages that have none of
its components, and, by the templates in _ext/templates/ (added to
``templates_path``), Font Awesome's 1.5 MB script and, where there is no search
to run, Sphinx's search scripts and index.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config

TEMPLATES = Path(__file__).parent / "templates"


def _is_thebe(asset: Any) -> bool:
    filename = getattr(asset, "filename", asset) or ""
    body = getattr(asset, "attributes", {}).get("body", "") or ""
    return "thebe" in str(filename) or "THEBE_JS_URL" in body


def _is_sphinx_design(asset: Any) -> bool:
    return any(name in str(getattr(asset, "filename", asset)) for name in ("design-", "-design"))


def _drop_unused_assets(
    app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    # sphinx-design's components all carry sd- classes.
    design = 'class="sd-' in context.get("body", "") or ' sd-' in context.get("body", "")
    for key in ("script_files", "css_files"):
        if context.get(key) is not None:
            context[key] = [
                asset for asset in context[key]
                if not (_is_thebe(asset) or (_is_sphinx_design(asset) and not design))
            ]


def _drop_thebe_config(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """sphinx-thebe's <script type="text/x-thebe-config"> and kernelName, at each page's end."""
    for node in list(doctree.findall(nodes.raw)):
        if "x-thebe-config" in node.astext() or "kernelName = " in node.astext():
            node.parent.remove(node)


def _add_templates(app: Sphinx, config: Config) -> None:
    config.templates_path.append(str(TEMPLATES))


def setup(app: Sphinx) -> dict[str, Any]:
    for extension in (
        "prerendered_math",
        "notebook_downloads",
        "api_links",
        "package_code",
        "preexecuted",
    ):
        app.setup_extension(extension)
    app.connect("config-inited", _add_templates)
    app.connect("html-page-context", _drop_unused_assets)
    # After sphinx-thebe's own handler (priority 500), which appends the configuration.
    app.connect("doctree-resolved", _drop_thebe_config, priority=900)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
