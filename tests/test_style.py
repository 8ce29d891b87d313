"""The repository passes its linter, and the code the book shows fits its text column."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jupytext
from conftest import ROOT, toc_documents

RUFF = Path(sys.executable).parent / "ruff"
# What fits the text column of a 1280 px window (see _static/lossnotes.css).
COLUMNS = 79


def _ruff(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(RUFF), *arguments], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_ruff_finds_nothing() -> None:
    result = _ruff("check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_package_is_formatted_to_its_columns() -> None:
    # lossnotes/ruff.toml sets the line length; the chapters show this source.
    result = _ruff("format", "--check", "lossnotes")
    assert result.returncode == 0, result.stdout + result.stderr


def test_chapter_code_cells_fit_the_text_column() -> None:
    long_lines = [
        f"{document}.md: {line}"
        for document in toc_documents()
        if (ROOT / f"{document}.md").is_file()
        for cell in jupytext.read(ROOT / f"{document}.md").cells
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if len(line) > COLUMNS
    ]
    assert not long_lines, "\n".join(long_lines)
