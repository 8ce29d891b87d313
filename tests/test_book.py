"""The book builds strictly, every page exists, and a broken chapter fails the build."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import NOTEBOOK_HEADER, ROOT, build_book, toc_documents

pytestmark = pytest.mark.book

def test_every_page_in_the_toc_is_built(built_site: Path) -> None:
    documents = toc_documents()
    assert len(documents) >= 6
    for document in documents:
        page = built_site / f"{document}.html"
        assert page.is_file(), f"{document} has no page"
        assert "Traceback" not in page.read_text(), f"{document} shows a traceback"


def test_every_figure_is_an_image(built_site: Path) -> None:
    # A glued figure whose PNG was lost renders as its text, "<Figure size ... with 2 Axes>".
    figures = 0
    for document in toc_documents():
        page = (built_site / f"{document}.html").read_text()
        for figure in re.findall(r"<figure.*?</figure>", page, flags=re.DOTALL):
            figures += 1
            assert "<img" in figure and "Figure size" not in figure, f"{document}: {figure[:300]}"
    assert figures >= 4  # one per regression chapter at least


def test_every_chapter_is_a_clean_myst_notebook() -> None:
    chapters = [d for d in toc_documents() if d.startswith("chapters/")]
    assert chapters
    for document in chapters:
        source = (ROOT / f"{document}.md").read_text()
        assert source.startswith("---\njupytext:"), f"{document} lacks the jupytext header"
        assert "name: python3" in source
        assert not (ROOT / f"{document}.ipynb").exists()


def test_chapter_titles_name_the_torch_class(built_site: Path) -> None:
    """Each loss chapter (chapters/<family>/<stem>.md, Foundations aside) is titled with its
    torch.nn class, and every loss class of torch.nn has its chapter."""
    import torch

    titles = set()
    for document in toc_documents():
        if document.count("/") != 2 or not document.startswith("chapters/"):
            continue  # the introduction, and the book's own pages (choosing a loss, errata)
        if "/basics/" in document:
            continue
        title = (ROOT / f"{document}.md").read_text().split("\n# ", 1)[1].split("\n", 1)[0]
        assert hasattr(torch.nn, title), f"{document}: title {title!r} is not a torch.nn class"
        titles.add(title)
    losses = {name for name in dir(torch.nn) if name.endswith(("Loss", "WithLoss"))}
    assert titles == losses, f"no chapter for {sorted(losses - titles)}"


@pytest.fixture()
def tiny_book(tmp_path: Path) -> Path:
    """A two-page copy of the book's configuration, to break on purpose."""
    for name in ("_config.yml", "references.bib"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "_ext", tmp_path / "_ext")
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\n"
        "parts:\n  - caption: Test\n    chapters:\n      - file: page\n"
    )
    (tmp_path / "intro.md").write_text("# Intro\n\nSee {doc}`page`.\n")
    return tmp_path


def _write_page(book: Path, body: str) -> None:
    (book / "page.md").write_text(NOTEBOOK_HEADER + "# Page\n\n" + body)


def test_a_failing_cell_fails_the_build_and_the_cached_rebuild(tiny_book: Path) -> None:
    _write_page(
        tiny_book, "```{code-cell} ipython3\nraise RuntimeError('chapter is broken')\n```\n"
    )
    first = build_book(tiny_book)
    assert first.returncode != 0
    assert "chapter is broken" in first.stdout + first.stderr
    # The trap: without nb_execution_raise_on_error an unchanged rebuild would now pass.
    second = build_book(tiny_book)
    assert second.returncode != 0


def test_a_broken_reference_fails_the_build(tiny_book: Path) -> None:
    _write_page(tiny_book, "See {eq}`page:nowhere` and {doc}`missing`.\n")
    result = build_book(tiny_book)
    assert result.returncode != 0
    assert "page:nowhere" in result.stdout + result.stderr


def test_an_unchanged_rebuild_executes_nothing(tiny_book: Path) -> None:
    _write_page(tiny_book, "```{code-cell} ipython3\nprint(6 * 7)\n```\n")
    first = build_book(tiny_book)
    assert first.returncode == 0, first.stdout[-3000:]
    assert "Executing" in first.stdout
    second = build_book(tiny_book)
    assert second.returncode == 0
    assert "Executing" not in second.stdout, second.stdout[-3000:]


def test_a_tex_error_fails_the_build_naming_the_page_and_formula(tiny_book: Path) -> None:
    """The build typesets every formula (_ext/prerendered_math.py): one MathJax cannot read
    stops it, where the browser would have shown the reader the error in red."""
    (tiny_book / "node_modules").symlink_to(ROOT / "node_modules")
    shutil.copy(ROOT / "package-lock.json", tiny_book)
    _write_page(tiny_book, "Fine: $x^2$.\n\nBroken: $\\frac{1}{2$ and $\\nosuchmacro x$.\n")
    result = build_book(tiny_book)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    for expected in ("page.md:", r"\(\frac{1}{2\)", r"\(\nosuchmacro x\)"):
        assert expected in output, output[-3000:]
