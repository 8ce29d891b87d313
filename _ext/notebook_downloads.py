"""Offer every executed chapter as a downloadable ``.ipynb``, with its outputs.

sphinx-book-theme adds an ``.ipynb`` entry to a page's download menu when the
page context has ``ipynb_source`` (a path under ``_sources/``), but nothing in
Jupyter Book sets it for MyST Markdown notebooks.  For each page myst-nb
executed, this extension reads the chapter the way myst-nb does, merges the
outputs of the matching executed notebook from the jupyter-cache
(``_build/.jupyter_cache``), writes the result to
``_build/html/_sources/<page>.ipynb`` next to the ``.md`` source, and sets
``ipynb_source``.

Why the cache and not ``_build/jupyter_execute/<page>.ipynb``: myst-nb writes
that file from the notebook it parsed, which carries outputs only when the
chapter was executed in this very build; when it came from the cache, the file
has no outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
from jupyter_cache import get_cache
from myst_nb.core.read import create_nb_reader
from myst_nb.sphinx_ import NbMetadataCollector
from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)


def executed_notebook(app: Sphinx, docname: str) -> nbformat.NotebookNode | None:
    """The chapter ``docname`` as a notebook with the outputs of its cached execution."""
    env = app.env
    source = Path(env.doc2path(docname))
    text = source.read_text(encoding="utf-8")
    reader = create_nb_reader(str(source), env.myst_config, env.mystnb_config, text)
    if reader is None:
        return None
    notebook = reader.read(text)
    cache = get_cache(env.mystnb_config.execution_cache_path)
    try:
        _, notebook = cache.merge_match_into_notebook(notebook)
    except KeyError:
        logger.warning(
            "lossnotes: no executed notebook in %s matches %s; its .ipynb download is missing",
            env.mystnb_config.execution_cache_path,
            source,
            location=docname,
        )
        return None
    # myst-nb's map from cells to source lines means nothing outside the build.
    notebook.metadata.pop("source_map", None)
    return notebook


def _add_notebook_download(
    app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    if app.builder.format != "html" or doctree is None:
        return
    if NbMetadataCollector.get_exec_data(app.env, pagename) is None:
        return  # not a notebook, or one without code cells
    if Path(app.env.doc2path(pagename)).suffix == ".ipynb":
        return  # Sphinx already copies an .ipynb source to _sources/
    notebook = executed_notebook(app, pagename)
    if notebook is None:
        return
    relative = f"{pagename}.ipynb"
    target = Path(app.outdir) / "_sources" / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    context["ipynb_source"] = relative


def setup(app: Sphinx) -> dict[str, Any]:
    # Before sphinx-book-theme builds the download menu (its handlers run at 501).
    app.connect("html-page-context", _add_notebook_download, priority=400)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
