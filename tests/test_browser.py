"""The built site in a real browser, and the notebooks a reader downloads from it.

Every page of _build/html is opened in headless Debian chromium, driven by
Playwright, from a server on 127.0.0.1.  The pages are found by walking the
built site, so a new chapter is checked without editing this file.  Each page
must hold its math already typeset (the build typesets every formula,
_ext/prerendered_math.py, so no page loads MathJax), load every image, log no
console error, load nothing that fails and nothing from another host, and link
only to files and anchors that exist.  With JavaScript off, as some readers
have it, every formula must still show, and no TeX delimiter be left in the
text.  A full-page screenshot of each page is written to _build/screenshots/
for a person to look at.
"""

from __future__ import annotations

import functools
import re
import shutil
import sys
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from conftest import ROOT, toc_documents

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "_build" / "screenshots"
LOCAL_HOST = "127.0.0.1"

# Runs in the page once it has loaded: waits for images and fonts (at most SETTLE_SECONDS:
# Playwright puts no time limit on evaluate), then reports.
SETTLE_SECONDS = 30
SETTLE_AND_REPORT = """
async (seconds) => {
  const settle = async () => {
    // Images below the fold may be lazy; every image is checked, so load them all.
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
  return {
    settled,
    mathjaxLoaded: Boolean(window.MathJax),
    ...MATH_REPORT(),
    brokenImages: Array.from(document.images).filter((image) => image.naturalWidth === 0)
      .map((image) => image.currentSrc || image.src),
    links: Array.from(document.querySelectorAll("a[href]"), (anchor) => anchor.href),
    // Tables, code and outputs that the reader would have to scroll sideways.
    tooWide: Array.from(document.querySelectorAll("article table, article pre"))
      .map((box) => [box, box.tagName === "TABLE" ? box.parentElement : box])
      .filter(([box, frame]) => box.scrollWidth > frame.clientWidth + 1)
      .map(([box, frame]) => `${box.tagName.toLowerCase()} of ${box.scrollWidth} px in `
        + `${frame.clientWidth} px: ${box.textContent.trim().slice(0, 60)}`),
    equations: Array.from(document.querySelectorAll('div.math[id^="equation-"]'), (math) => {
      const number = math.querySelector(".eqno");
      return {
        id: math.id,
        number: number ? number.firstChild.textContent.trim() : null,
        visible: number ? number.getBoundingClientRect().width > 0 : false,
      };
    }),
  };
}
"""


# The math of a page as it shows: .math elements (Sphinx's) without MathJax's typeset output in
# them, or whose output has no size (its stylesheet missing), MathJax's error boxes, and the TeX
# delimiters left in the text the reader sees (code and outputs aside, which may print TeX).
MATH_REPORT = r"""() => {
  const maths = Array.from(document.querySelectorAll(".math"));
  const shown = (math) => {
    const box = math.querySelector("mjx-container");
    return box && box.getBoundingClientRect().width > 0;
  };
  // (No filter callback: with JavaScript off, the page cannot call one back.)
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const rawTex = [];
  for (let text = walker.nextNode(); text; text = walker.nextNode()) {
    if (text.parentElement.closest("pre, code, script, style, mjx-assistive-mml")) continue;
    const match = /\\\(|\\\)|\\\[|\\\]|\\begin\{|\$/.exec(text.data);
    if (match) rawTex.push(text.data.slice(Math.max(0, match.index - 30), match.index + 40));
  }
  return {
    mathNodes: maths.length,
    notShown: maths.filter((math) => !shown(math)).map((math) => math.textContent.slice(0, 60)),
    mathErrors: Array.from(document.querySelectorAll("mjx-merror"), (node) => node.textContent),
    rawTex,
  };
}"""
SETTLE_AND_REPORT = SETTLE_AND_REPORT.replace("MATH_REPORT", f"({MATH_REPORT})")


def site_pages(html: Path) -> list[str]:
    """Every page of the built site, as a path relative to its root.

    Folders whose names start with an underscore hold no pages: _static has the
    theme's template fragments, _sources and _images the downloads and figures.
    Hidden folders hold none either (a .pytest_cache rendered by an old build).
    """
    pages = []
    for path in html.rglob("*.html"):
        relative = path.relative_to(html)
        if not any(part.startswith(("_", ".")) for part in relative.parts):
            pages.append(relative.as_posix())
    return sorted(pages)


REFRESH = re.compile(r'<meta http-equiv="refresh" content="0; url=([^"]+)"', re.IGNORECASE)


def redirect_target(page: Path) -> str | None:
    """Where ``page`` sends the reader, if it is only a redirect (Jupyter Book's index.html)."""
    match = REFRESH.match(page.read_text(encoding="utf-8").strip())
    return match.group(1) if match else None


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and (name == "id" or (tag == "a" and name == "name")):
                self.ids.add(value)


@functools.cache
def anchors(page: Path) -> frozenset[str]:
    """The ids (and <a name>s) a fragment can point to in ``page``."""
    parser = _Ids()
    parser.feed(page.read_text(encoding="utf-8"))
    return frozenset(parser.ids)


def broken_internal_links(html: Path, base_url: str, links: list[str]) -> list[str]:
    """The links of a page into the site whose file or anchor does not exist."""
    broken = []
    for link in sorted(set(links)):
        if not link.startswith(base_url):
            continue  # another host (doi.org, ...) or javascript:
        parts = urlsplit(link)
        relative = unquote(parts.path).removeprefix(urlsplit(base_url).path)
        target = html / relative
        if relative == "" or relative.endswith("/"):
            target = target / "index.html"
        if not target.is_file():
            broken.append(f"{link}: no file {target.relative_to(html)}")
        elif parts.fragment and target.suffix == ".html":
            if unquote(parts.fragment) not in anchors(target):
                broken.append(f"{link}: no anchor #{parts.fragment}")
    return broken


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        # The browser drops connections it no longer needs when a page closes.
        if not isinstance(sys.exception(), ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture(scope="module")
def site_url(built_site: Path) -> Iterator[str]:
    """The built site, served over HTTP on 127.0.0.1 from a thread."""
    handler = functools.partial(_QuietHandler, directory=str(built_site))
    server = _QuietServer((LOCAL_HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{LOCAL_HOST}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless chromium for the whole module."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def math_problems(report: dict) -> list[str]:
    """What MATH_REPORT found wrong with a page's math."""
    problems = [f"formula not typeset or not shown: {tex}" for tex in report["notShown"]]
    problems += [f"MathJax error: {error}" for error in report["mathErrors"]]
    problems += [f"TeX in the text: {text!r}" for text in report["rawTex"]]
    return problems


def open_and_check(
    context, url: str, screenshot: Path, ready_selector: str | None = None
) -> tuple[list[str], dict]:
    """Open ``url``; return what went wrong, and the page's report (SETTLE_AND_REPORT).

    ``ready_selector`` names an element that scripts add to the page, to wait for.
    """
    problems: list[str] = []
    page = context.new_page()

    def keep_local(route, request) -> None:
        if urlsplit(request.url).hostname == LOCAL_HOST:
            route.continue_()
        else:
            problems.append(f"request to another host: {request.url}")
            route.abort()

    page.route("**/*", keep_local)
    page.on("console", lambda message: message.type == "error"
            and problems.append(f"console error: {message.text}"))
    page.on("pageerror", lambda error: problems.append(f"uncaught exception: {error}"))
    page.on("requestfailed", lambda request: problems.append(
        f"request failed: {request.url} ({request.failure})"))
    page.on("response", lambda response: response.status >= 400
            and problems.append(f"HTTP {response.status}: {response.url}"))
    try:
        page.goto(url, wait_until="load")
        if ready_selector:
            page.wait_for_selector(ready_selector)
        report = page.evaluate(SETTLE_AND_REPORT, SETTLE_SECONDS)
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)
    finally:
        page.close()

    if not report["settled"]:
        problems.append(f"images or fonts still loading after {SETTLE_SECONDS} s")
    if report["mathjaxLoaded"]:
        problems.append("the page loads MathJax: its math should be typeset by the build")
    problems += math_problems(report)
    problems += [f"image did not load: {source}" for source in report["brokenImages"]]
    problems += [f"wider than the page: {box}" for box in report["tooWide"]]
    for equation in report["equations"]:
        number = equation["number"] or ""
        if not (re.fullmatch(r"\(\d+(\.\d+)*\)", number) and equation["visible"]):
            problems.append(f"equation {equation['id']} shows no number (found {number!r})")
    return problems, report


@pytest.mark.browser
def test_every_page_renders_offline_in_chromium(
    built_site: Path, built_pdf: Path, site_url: str, browser
) -> None:
    # built_pdf: the introduction and the citation page link to the PDF edition.
    pages = site_pages(built_site)
    missing = {f"{document}.html" for document in toc_documents()} - set(pages)
    assert not missing, f"the walk of {built_site} missed {sorted(missing)}"
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)

    failures: dict[str, list[str]] = {}
    numbered_equations = 0
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(SETTLE_SECONDS * 1000)
    try:
        for page in pages:
            target = redirect_target(built_site / page)
            if target is not None:
                # Opening it would only show the page it redirects to, which is checked.
                if not (built_site / page).parent.joinpath(target).is_file():
                    failures[page] = [f"redirects to {target}, which does not exist"]
                continue
            screenshot = SCREENSHOTS / page.replace(".html", ".png")
            problems, report = open_and_check(context, site_url + page, screenshot)
            problems += broken_internal_links(built_site, site_url, report["links"])
            numbered_equations += len(report["equations"])
            if problems:
                failures[page] = problems
    finally:
        context.close()

    assert not failures, "\n".join(
        f"{page}:\n  " + "\n  ".join(problems) for page, problems in failures.items()
    )
    assert numbered_equations, "no page has a numbered equation: is math_numfig on?"


# Runs in a settled page at phone width: how far the page itself scrolls sideways, and the
# outermost elements that stick out of the viewport without a scrolling box of their own to
# contain them (a box with overflow-x auto or scroll may be wide inside; the page may not).
SIDEWAYS = """
() => {
  const root = document.scrollingElement || document.documentElement;
  const width = root.clientWidth;
  const scrolls = (node) => {
    for (let up = node.parentElement; up; up = up.parentElement) {
      const overflow = getComputedStyle(up).overflowX;
      if ((overflow === "auto" || overflow === "scroll" || overflow === "hidden")
          && up !== root && up !== document.body) return true;
    }
    return false;
  };
  const culprits = [];
  for (const node of document.querySelectorAll("article *")) {
    const box = node.getBoundingClientRect();
    if (box.width === 0 || box.right <= width + 1 || scrolls(node)) continue;
    if (culprits.some((outer) => outer.contains(node))) continue;
    culprits.push(node);
  }
  return {
    overflow: root.scrollWidth - width,
    culprits: culprits.slice(0, 5).map((node) =>
      `<${node.tagName.toLowerCase()} class="${node.className}"> `
      + `${Math.round(node.getBoundingClientRect().right)} px: `
      + `${node.textContent.trim().slice(0, 50)}`),
  };
}
"""
PHONE = {"width": 390, "height": 844}


@pytest.mark.browser
def test_no_page_scrolls_sideways_at_phone_width(
    built_site: Path, site_url: str, browser
) -> None:
    """At a 390 px wide viewport a wide equation, table or code block must scroll inside its
    own box: the page itself never scrolls sideways.  Screenshots in _build/screenshots/phone/."""
    failures: dict[str, list[str]] = {}
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True)
    context.set_default_timeout(SETTLE_SECONDS * 1000)
    try:
        for page_name in site_pages(built_site):
            if redirect_target(built_site / page_name) is not None:
                continue
            page = context.new_page()
            try:
                page.goto(site_url + page_name, wait_until="load")
                page.evaluate(SETTLE_AND_REPORT, SETTLE_SECONDS)
                report = page.evaluate(SIDEWAYS)
                shot = SCREENSHOTS / "phone" / page_name.replace(".html", ".png")
                shot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shot), full_page=True)
            finally:
                page.close()
            if report["overflow"] > 1:
                failures[page_name] = [f"the page scrolls {report['overflow']} px sideways",
                                       *report["culprits"]]
    finally:
        context.close()
    assert not failures, "\n".join(
        f"{page}:\n  " + "\n  ".join(problems) for page, problems in failures.items()
    )


@pytest.mark.browser
def test_every_formula_shows_without_javascript(
    built_site: Path, site_url: str, browser
) -> None:
    """With JavaScript off, at phone width, every formula shows typeset (by the build, with its
    stylesheet and fonts) and no TeX delimiter is left in the text."""
    failures: dict[str, list[str]] = {}
    formulas = 0
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=1, is_mobile=True, java_script_enabled=False
    )
    context.set_default_timeout(SETTLE_SECONDS * 1000)
    try:
        for page_name in site_pages(built_site):
            if redirect_target(built_site / page_name) is not None:
                continue
            page = context.new_page()
            try:
                page.goto(site_url + page_name, wait_until="load")
                # Playwright's own scripts still run in a page that runs none of its own.
                page.evaluate("document.fonts.ready")
                report = page.evaluate(MATH_REPORT)
            finally:
                page.close()
            formulas += report["mathNodes"]
            if problems := math_problems(report):
                failures[page_name] = problems
    finally:
        context.close()
    assert not failures, "\n".join(
        f"{page}:\n  " + "\n  ".join(problems) for page, problems in failures.items()
    )
    assert formulas, "no page has a formula"


@pytest.mark.browser
def test_search_finds_a_chapter_offline(built_site: Path, site_url: str, browser) -> None:
    chapter = next(document for document in toc_documents() if document.startswith("chapters/"))
    source = (ROOT / f"{chapter}.md").read_text(encoding="utf-8")
    title = source.split("\n# ", 1)[1].split("\n", 1)[0]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(SETTLE_SECONDS * 1000)
    try:
        problems, report = open_and_check(
            context,
            f"{site_url}search.html?q={title}",
            SCREENSHOTS / "search-results.png",
            ready_selector="#search-results ul.search li a",
        )
    finally:
        context.close()
    assert not problems, problems
    assert f"{site_url}{chapter}.html" in {link.split("?")[0] for link in report["links"]}, title


def notebook_chapters() -> list[str]:
    """The documents of the table of contents that are MyST notebooks with code."""
    chapters = []
    for document in toc_documents():
        source = (ROOT / f"{document}.md").read_text(encoding="utf-8")
        if source.startswith("---\njupytext:") and "```{code-cell}" in source:
            chapters.append(document)
    return chapters


@pytest.mark.book
def test_every_chapter_offers_its_executed_notebook_and_source(built_site: Path) -> None:
    import nbformat

    chapters = notebook_chapters()
    assert chapters
    for document in chapters:
        page = (built_site / f"{document}.html").read_text(encoding="utf-8")
        depth = "../" * document.count("/")
        for suffix in (".ipynb", ".md"):
            assert f'href="{depth}_sources/{document}{suffix}"' in page, (document, suffix)
        notebook = nbformat.read(built_site / "_sources" / f"{document}.ipynb", as_version=4)
        nbformat.validate(notebook)
        code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
        assert any(cell.outputs for cell in code_cells), f"{document}.ipynb has no outputs"
        assert all(cell.execution_count for cell in code_cells), f"{document}.ipynb: unexecuted"
        assert notebook.metadata.kernelspec.name == "python3"


@pytest.mark.book
def test_a_downloaded_chapter_runs_in_a_fresh_kernel(built_site: Path, tmp_path: Path) -> None:
    """The first chapter, downloaded alone into an empty folder, executes without error."""
    import nbclient
    import nbformat

    chapter = next(document for document in notebook_chapters() if document.startswith("chapters/"))
    notebook = nbformat.read(built_site / "_sources" / f"{chapter}.ipynb", as_version=4)
    # Raises CellExecutionError, with the cell and its traceback, if a cell fails.
    client = nbclient.NotebookClient(
        notebook, timeout=600, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    assert any(cell.get("outputs") for cell in notebook.cells)


def test_the_citation_names_the_package_version() -> None:
    """CITATION.cff and the BibTeX of the how-to-cite page cite the version being built."""
    import tomllib

    import yaml

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert citation["cff-version"] == "1.2.0"
    assert str(citation["version"]) == version
    assert f"note   = {{Version {version}}}" in (ROOT / "about" / "cite.md").read_text()
