"""The PDF edition: every chapter, figure and equation of the site, numbered as on the site.

``make pdf`` builds the book as one page (Sphinx's singlehtml builder) and prints it with
Debian's chromium (tools/printpdf.py); the ``built_pdf`` fixture (conftest.py) does the same,
after the site fixture has filled the execution cache, and these tests read the PDF back: its
outline and images with pypdf, its text with poppler's pdftotext (which .ci/run installs).
"""

from __future__ import annotations

import re
import subprocess
import unicodedata
from pathlib import Path

import pytest
from conftest import toc_documents

pytestmark = [pytest.mark.book, pytest.mark.browser]

# What a formula left untypeset looks like in print: the delimiters Sphinx writes around TeX
# (TeX itself, \begin{cases} and the like, is printed legitimately in the docstrings' source).
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$")


@pytest.fixture(scope="module")
def pdf_text(built_pdf: Path) -> dict[str, object]:
    import pypdf

    reader = pypdf.PdfReader(built_pdf)
    # poppler's pdftotext reads the 400 pages in a second or two, pypdf's extract_text in half a
    # minute; pages come separated by form feeds.  NFKC undoes the ligatures ("ﬂ" for "fl").
    text = subprocess.run(
        ["pdftotext", str(built_pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    pages = [unicodedata.normalize("NFKC", page) for page in text.split("\f")]

    def titles(outline: list) -> list[str]:
        found = []
        for entry in outline:
            found += titles(entry) if isinstance(entry, list) else [entry.title]
        return found

    def images(page: pypdf.PageObject) -> int:
        # Counted from the page's resources, without decoding them.
        objects = page.get("/Resources", {}).get("/XObject", {})
        return sum(1 for xobject in objects.values()
                   if xobject.get_object().get("/Subtype") == "/Image")

    return {
        "pages": pages,
        "text": re.sub(r"\s+", " ", " ".join(pages)),
        "outline": titles(reader.outline),
        "images": sum(images(page) for page in reader.pages),
    }


def _site_page(built_site: Path, document: str) -> str:
    return (built_site / f"{document}.html").read_text(encoding="utf-8")


def _numbered_title(page: str) -> str:
    """A page's <h1> as the site shows it: "6. SoftMarginLoss" (or an unnumbered title)."""
    # The article's <h1> (the one with a permalink; the page header has another).
    heading = re.search(r'<h1>((?:(?!</h1>).)*?)<a class="headerlink"', page, flags=re.DOTALL)
    heading = heading.group(1)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", heading)).strip()


def test_every_chapter_is_in_the_outline_with_its_site_number(
    built_site: Path, pdf_text: dict
) -> None:
    outline = [re.sub(r"\s+", " ", title).strip() for title in pdf_text["outline"]]
    for document in toc_documents()[1:]:
        title = _numbered_title(_site_page(built_site, document))
        assert title in outline, f"{document}: {title!r} is not in the PDF's outline"
        assert title.split(". ", 1)[-1] in pdf_text["text"], f"{title!r} is not printed"


def test_every_figure_and_equation_is_printed_with_its_site_number(
    built_site: Path, pdf_text: dict
) -> None:
    figures, equations = set(), set()
    for document in toc_documents():
        page = _site_page(built_site, document)
        figures |= set(re.findall(r'caption-number">(Fig\. [\d.]+)', page))
        equations |= set(re.findall(r'class="eqno">(\([\d.]+\))', page))
    assert figures and equations
    text = pdf_text["text"]
    missing = sorted(f for f in figures if f not in text)
    assert not missing, f"figures not in the PDF: {missing}"
    assert pdf_text["images"] >= len(figures)
    missing = sorted(e for e in equations if e not in text)
    assert not missing, f"equation numbers not in the PDF: {missing}"


def test_no_page_shows_raw_tex(pdf_text: dict) -> None:
    for number, page in enumerate(pdf_text["pages"], start=1):
        match = RAW_TEX.search(page)
        assert match is None, f"page {number}: {page[max(0, match.start() - 80):match.end() + 80]}"
