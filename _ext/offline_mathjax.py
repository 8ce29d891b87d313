"""Serve MathJax from the site itself.

The book's ``package.json`` declares MathJax and ``package-lock.json`` pins its
version; ``make mathjax`` (``npm ci``) installs it into ``node_modules/``.  This
extension copies the browser build (``es5/``) into ``_static/mathjax/`` of the
HTML output, where ``mathjax_path: mathjax/tex-chtml.js`` in ``_config.yml``
points (Sphinx resolves a relative ``mathjax_path`` against ``_static/``).

The files are copied by the extension rather than listed in
``html_static_path``: Jupyter Book adds a ``<script>`` to every page for each
``.js`` file it finds under a static path whenever the book has a ``_static/``
folder, and MathJax ships about a hundred of them.  Only the entry component
named by ``mathjax_path`` is copied from the top level of ``es5/`` (the other
top-level files are alternative bundles); the subfolders are what the entry
component loads on demand: fonts, TeX extensions, the accessibility menu.
"""

from __future__ import annotations

import json
import posixpath
import shutil
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

PACKAGE = "mathjax"
STATIC_FOLDER = "mathjax"


def _locked_version(srcdir: Path) -> str | None:
    """The MathJax version package-lock.json pins, or None if the book declares none."""
    lock = srcdir / "package-lock.json"
    if not lock.is_file():
        return None
    packages = json.loads(lock.read_text(encoding="utf-8")).get("packages", {})
    return packages.get(f"node_modules/{PACKAGE}", {}).get("version")


def _installed_version(package_dir: Path) -> str | None:
    manifest = package_dir / "package.json"
    if not manifest.is_file():
        return None
    return json.loads(manifest.read_text(encoding="utf-8")).get("version")


def _entry_component(srcdir: Path, mathjax_path: str) -> Path | None:
    """The MathJax file ``mathjax_path`` names in node_modules, or None if MathJax is remote.

    Raises ExtensionError, with the fix, when the pages would load a file that is missing.
    """
    if "://" in mathjax_path:
        return None
    locked = _locked_version(srcdir)
    if locked is None:
        # A book without package-lock.json (the test suite's throwaway books) has
        # nothing to serve; its pages are never opened in a browser.
        return None
    package_dir = srcdir / "node_modules" / PACKAGE
    installed = _installed_version(package_dir)
    if installed != locked:
        found = f"found {installed}" if installed else "not installed"
        raise ExtensionError(
            f"MathJax {locked} (package-lock.json) is {found} in node_modules/: "
            "run `make mathjax` (npm ci)"
        )
    prefix = STATIC_FOLDER + "/"
    if not mathjax_path.startswith(prefix):
        raise ExtensionError(f"mathjax_path must start with {prefix!r}, not {mathjax_path!r}")
    entry = package_dir / "es5" / mathjax_path.removeprefix(prefix)
    if not entry.is_file():
        raise ExtensionError(f"mathjax_path names {entry}, which MathJax {locked} does not ship")
    return entry


def _check_config(app: Sphinx, config: Config) -> None:
    """Fail before reading anything if the pages would load a MathJax that is missing."""
    _entry_component(Path(app.srcdir), config.mathjax_path)


def _copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    entry = _entry_component(Path(app.srcdir), app.config.mathjax_path)
    if entry is None:
        return
    destination = Path(app.outdir) / "_static" / STATIC_FOLDER
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy2(entry, destination / entry.name)
    for folder in entry.parent.iterdir():
        if folder.is_dir():
            shutil.copytree(folder, destination / folder.name, dirs_exist_ok=True)
    logger.info("lossnotes: MathJax copied to %s", posixpath.join("_static", STATIC_FOLDER))


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", _check_config)
    app.connect("build-finished", _copy_mathjax)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
