"""Print the book's single-page HTML build to a PDF with Debian's chromium.

Usage: ``python tools/printpdf.py _build/singlehtml/intro.html _build/pdf/lossnotes.pdf [SITE]``

``make pdf`` builds the book with Sphinx's ``singlehtml`` builder (every page in one document,
with the site's chapter, section, figure and equation numbers) and then runs this script, which
opens the page in the same headless chromium the browser tests use, waits until every image and
font has loaded, refuses to print if any formula is not typeset (the build typesets them all,
_ext/prerendered_math.py, so there is no MathJax to wait for), starts each chapter on a new
page, and prints with a PDF outline of the chapters and sections (the page itself opens with
the book's table of contents).  Nothing is downloaded: the math's fonts are the site's own.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SETTLE_SECONDS = 120

# For print only: the page without the site's navigation, each chapter on a new page, and the
# hidden plotting code left hidden (its figure is printed).
PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm; }
.bd-header, .bd-header-article, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-footer,
.bd-footer-article, .bd-footer-content, .prev-next-area, .header-article, .headerlink,
.search-button-field, .theme-switch-button, .sidebar-toggle, .dropdown-download-buttons,
#pst-back-to-top, .skip-link, .article-header-buttons { display: none !important; }
.bd-main, .bd-content, .bd-article-container, .bd-article, .bd-page-width {
  max-width: none !important; width: 100% !important; padding: 0 !important; margin: 0 !important;
}
body { font-size: 10.5pt; }
.lossnotes-chapter { break-before: page; }
pre, .cell_output, figure, table, .math { break-inside: avoid; }
pre { white-space: pre-wrap !important; }
"""

SETTLE = """
async (seconds) => {
  const settle = async () => {
    for (const image of document.images) image.loading = "eager";
    await Promise.all(Array.from(document.images, (image) => image.complete ? null :
      new Promise((done) => {
        image.addEventListener("load", done);
        image.addEventListener("error", done);
      })));
    await document.fonts.ready;
    return true;
  };
  const settled = await Promise.race([
    settle(), new Promise((done) => setTimeout(() => done(false), seconds * 1000))]);
  const untypeset = Array.from(document.querySelectorAll(".math"))
    .filter((node) => !node.querySelector("mjx-container"))
    .map((node) => node.textContent.trim().slice(0, 60));
  return {
    settled,
    untypeset,
    errors: Array.from(document.querySelectorAll("mjx-merror"), (node) => node.textContent),
    brokenImages: Array.from(document.images).filter((image) => image.naturalWidth === 0)
      .map((image) => image.src),
  };
}
"""

# The single page opens with the book's table of contents (the root's toctree, with the part
# captions and the numbered chapters), then the introduction's sections, then the chapters: each
# chapter (an <h2> section, from the first numbered one on) starts a new page.
PAGINATE = """
() => {
  const sections = Array.from(document.querySelectorAll("section > h2"), (h) => h.parentElement);
  const first = sections.findIndex((s) => s.querySelector(":scope > h2 .section-number"));
  const chapters = first < 0 ? [] : sections.slice(first);
  for (const section of chapters) section.classList.add("lossnotes-chapter");
  return chapters.length;
}
"""


def print_pdf(page_path: Path, pdf_path: Path) -> int:
    from playwright.sync_api import sync_playwright

    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1400})
            # A 6 MB page: give its loading the time the settling has, not playwright's 30 s.
            page.goto(page_path.resolve().as_uri(), wait_until="load",
                      timeout=SETTLE_SECONDS * 1000)
            report = page.evaluate(SETTLE, SETTLE_SECONDS)
            problems = []
            if not report["settled"]:
                problems.append(f"the page did not settle within {SETTLE_SECONDS} s")
            if report["untypeset"]:
                problems.append(f"{len(report['untypeset'])} formulas left as TeX, "
                                f"e.g. {report['untypeset'][:3]}")
            if report["errors"]:
                problems.append(f"MathJax errors: {report['errors'][:3]}")
            if report["brokenImages"]:
                problems.append(f"images that did not load: {report['brokenImages'][:3]}")
            if problems:
                print("printpdf: not printed: " + "; ".join(problems), file=sys.stderr)
                return 1
            chapters = page.evaluate(PAGINATE)
            page.add_style_tag(content=PRINT_CSS)
            page.emulate_media(media="print")
            page.pdf(
                path=str(pdf_path),
                format="A4",
                print_background=True,
                outline=True,
                tagged=True,
                display_header_footer=True,
                header_template="<span></span>",
                footer_template=(
                    '<div style="font-size:8pt;width:100%;text-align:center;color:#666">'
                    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
                ),
            )
        finally:
            browser.close()
    print(f"printpdf: wrote {pdf_path} ({chapters} chapters and appendix pages)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("page", type=Path, help="the singlehtml page (…/intro.html)")
    parser.add_argument("pdf", type=Path, help="where to write the PDF")
    parser.add_argument("site", type=Path, nargs="?",
                        help="the built site (_build/html), to put a copy beside its pages")
    options = parser.parse_args(argv)
    status = print_pdf(options.page, options.pdf)
    if status == 0 and options.site is not None:
        # The introduction and the citation page link to lossnotes.pdf at the site's root.
        shutil.copyfile(options.pdf, options.site / options.pdf.name)
    return status


if __name__ == "__main__":
    sys.exit(main())
