"""tools/preexecute.py fills the execution cache with exactly what the build looks up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, build_book

pytestmark = pytest.mark.book

HEADER = """---
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

CONFIG = """title: tiny
only_build_toc_files: true
execute:
  execute_notebooks: cache
  raise_on_error: true
  show_tb: true
parse:
  myst_enable_extensions: [colon_fence, dollarmath]
"""


def _preexecute(book: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "tools" / "preexecute.py"), str(book)],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture()
def book(tmp_path: Path) -> Path:
    """Two notebooks and a plain page."""
    (tmp_path / "_config.yml").write_text(CONFIG)
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n  - file: one\n  - file: two\n  - file: plain\n"
    )
    (tmp_path / "intro.md").write_text("# Intro\n")
    (tmp_path / "one.md").write_text(
        HEADER + "# One\n\n```{code-cell} ipython3\nprint(6 * 7)\n```\n\n:::{note}\nA fence.\n:::\n"
    )
    (tmp_path / "two.md").write_text(HEADER + "# Two\n\n```{code-cell} ipython3\n1 + 1\n```\n")
    (tmp_path / "plain.md").write_text("# Plain\n\nNo code.\n")
    return tmp_path


def test_the_build_executes_nothing_after_preexecute(book: Path) -> None:
    first = _preexecute(book)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "executing 2 notebook(s)" in first.stdout
    build = build_book(book)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert "Executing" not in build.stdout, build.stdout[-3000:]
    assert build.stdout.count("Using cached notebook") == 2
    assert "42" in (book / "_build" / "html" / "one.html").read_text()


def test_nothing_changed_means_nothing_executed(book: Path) -> None:
    assert _preexecute(book).returncode == 0
    again = _preexecute(book)
    assert again.returncode == 0
    assert again.stdout == ""
    (book / "two.md").write_text(HEADER + "# Two\n\n```{code-cell} ipython3\n2 + 2\n```\n")
    changed = _preexecute(book)
    assert "executing 1 notebook(s)" in changed.stdout


def test_a_failing_chapter_fails_with_its_traceback(book: Path) -> None:
    (book / "two.md").write_text(
        HEADER + "# Two\n\n```{code-cell} ipython3\nraise RuntimeError('chapter is broken')\n```\n"
    )
    result = _preexecute(book)
    assert result.returncode == 1
    assert "two.md failed" in result.stderr
    assert "RuntimeError" in result.stderr and "chapter is broken" in result.stderr
    # The chapter that works is cached all the same.
    assert "one.md in" in result.stdout
