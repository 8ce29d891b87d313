"""Shared fixtures: the built book, and the list of pages the table of contents promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
PDF = ROOT / "_build" / "pdf" / "lossnotes.pdf"
JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"

# The front matter every chapter starts with (jupytext, MyST, the python3 kernel).
NOTEBOOK_HEADER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  name: python3
  display_name: Python 3 (ipykernel)
  language: python
---

"""


def build_command(source: Path, extra: tuple[str, ...] = ()) -> list[str]:
    """The strict build the Makefile runs, on ``source``."""
    return [str(JUPYTER_BOOK), "build", str(source), "-W", "-n", "--keep-going", *extra]


def preexecute(
    book: Path, *build: str, options: tuple[str, ...] = (), **env: str
) -> subprocess.CompletedProcess:
    """Run tools/preexecute.py on ``book`` with its ``options``; with ``build``, a build command
    run alongside, as `make book` runs it; ``env`` added to the environment."""
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "preexecute.py"),
            str(book),
            *options,
            *(("--", *build) if build else ()),
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, **env},
    )


def build_book(source: Path, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Run the strict build the Makefile runs, on ``source``; return the finished process."""
    return subprocess.run(
        build_command(source, extra),
        capture_output=True,
        text=True,
        env={**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"},
        timeout=1800,
    )


def toc_documents() -> list[str]:
    """Every document named in _toc.yml (root, and each part's chapters), without suffix."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    documents = [toc["root"]]
    for part in toc.get("parts", []):
        documents += [chapter["file"] for chapter in part["chapters"]]
    return documents


@pytest.fixture(scope="session")
def built_site() -> Path:
    """The site in _build/html, built once per session as `make book` builds it.

    The changed chapters are executed in parallel into the cache (tools/preexecute.py) while
    the build runs alongside and reads each as it is cached, so the build executes nothing on
    its own; unchanged chapters are not re-executed at all.
    """
    result = preexecute(ROOT, *build_command(ROOT))
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    assert "Executing" not in result.stdout, result.stdout[-5000:]
    return HTML


@pytest.fixture(scope="session")
def built_pdf(built_site: Path) -> Path:
    """The PDF edition, made as `make pdf` makes it, after the site (whose execution cache it
    reads): the book as one page (singlehtml), printed by chromium, and put beside the site's
    pages, which link to it."""
    single = build_book(ROOT, ("--builder", "custom", "--custom-builder", "singlehtml"))
    assert single.returncode == 0, single.stdout[-5000:] + single.stderr[-5000:]
    printed = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "printpdf.py"),
         str(ROOT / "_build" / "singlehtml" / "intro.html"), str(PDF), str(HTML)],
        capture_output=True, text=True, timeout=900,
    )
    assert printed.returncode == 0, printed.stdout + printed.stderr
    return PDF
