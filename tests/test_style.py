"""The repository passes its linter, and the code the book shows fits its text column."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, toc_documents

RUFF = Path(sys.executable).parent / "ruff"
# What fits the text column of a 1280 px window (see _static/lossnotes.css).
COLUMNS = 79
CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```$", re.MULTILINE | re.DOTALL)


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
        for cell in CODE_CELL.findall((ROOT / f"{document}.md").read_text())
        for line in cell.splitlines()
        if len(line) > COLUMNS
    ]
    assert not long_lines, "\n".join(long_lines)


def test_the_code_cell_pattern_finds_the_cells() -> None:
    source = (ROOT / "chapters" / "regression" / "l1_loss.md").read_text()
    cells = CODE_CELL.findall(source)
    assert len(cells) == source.count("```{code-cell}") and len(cells) > 5
