"""Typeset every formula when the site is built, so that pages show their math without a script.

MathJax typesetting in the reader's browser was most of the time a heavy chapter took to show
on a phone, and with JavaScript off every formula was raw TeX.  This extension is Sphinx's HTML
math renderer ``prerendered`` (``html_math_renderer`` in ``_config.yml``): each formula is
written into the page as MathJax's own CommonHTML output, made at build time by the MathJax
the site already pins (``package.json``, ``npm ci``) running in Node (``prerendered_math.js``),
with the TeX input of the browser's ``tex-chtml.js`` and the same fonts, so a formula looks as
MathJax drew it in the browser.  Equation numbers and their permalinks are Sphinx's, written
as ``sphinx.ext.mathjax`` writes them (and as myst-parser writes its amsmath blocks).  The
page keeps MathJax's hidden MathML copy of each formula for screen readers.

The pages that have math link ``_static/mathjax/chtml.css``: the CSS for the characters the
site uses, and MathJax's fonts beside it.  It is written before the pages (Sphinx stamps each
link with the file's checksum), from the formulas that every document had when it was read
(kept in the environment, so an unchanged page needs nothing again).

A TeX error (an unknown macro included) fails the build, naming the file, line and formula;
in the browser MathJax would have shown it in red to the reader.

Each formula's HTML is cached by its TeX in ``_build/.mathjax.sqlite``, for the MathJax version
and this extension's script: a rebuild starts Node only for formulas it has not seen, and an
unchanged rebuild not at all.  New formulas are typeset as each document is read, so that in a
clean build Node works while the chapters execute rather than after them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.errors import ExtensionError
from sphinx.locale import _
from sphinx.util import logging
from sphinx.util.math import get_node_equation_number

logger = logging.getLogger(__name__)

RENDERER = "prerendered"
SCRIPT = Path(__file__).with_suffix(".js")
PACKAGE = "mathjax"
STYLESHEET = "mathjax/chtml.css"  # under _static/
FONTS = "woff-v2"  # MathJax's CommonHTML fonts, in a folder beside the stylesheet
CLASSES = "math notranslate nohighlight"

# MathJax in the browser scales a formula so that its x-height matches the text around it (its
# matchFontHeight).  The formulas are made at scale 1, and CSS does the matching, in whatever
# font the reader's device has: 1ex / 0.442 (the TeX fonts' x-height, in em) in the formula's
# parent.  A character MathJax's fonts lack (the book's \mathbb{1}) is drawn in the reader's
# font, at the size of the text around it, and padded, as MathJax sizes it in the browser:
# registered properties carry that size (--math-text) and the formula's (--math-size) down.
MATCH_FONT_HEIGHT = """
/* _ext/prerendered_math.py: the formulas' size, as MathJax makes it in the browser. */
@property --math-text { syntax: "<length>"; inherits: true; initial-value: 16px; }
@property --math-size { syntax: "<length>"; inherits: true; initial-value: 16px; }
.math {
  --math-text: 1em;
}
mjx-container[jax="CHTML"] {
  font-size: calc(1ex / 0.442);
  --math-size: 1em;
}
mjx-container[jax="CHTML"] mjx-utext {
  font-size: var(--math-text);
  padding: calc(0.75 * var(--math-size)) 0 calc(0.2 * var(--math-size));
}
"""

Formula = tuple[str, bool]  # (TeX, display)


def _display_tex(node: nodes.math_block) -> str:
    """The TeX MathJax typesets for a displayed formula, built as sphinx.ext.mathjax builds it.

    Paragraphs become the lines of an aligned block and a paragraph with ``\\\\`` a split;
    amsmath blocks (myst-parser) and ``nowrap`` ones are the environment as written.
    """
    if node["nowrap"] or "amsmath" in node["classes"]:
        return node.astext()
    parts = [part for part in node.astext().split("\n\n") if part.strip()]
    parts = [rf"\begin{{split}}{part}\end{{split}}" if r"\\" in part else part for part in parts]
    if len(parts) == 1:
        return parts[0]
    return r" \begin{align}\begin{aligned}" + r"\\".join(parts) + r"\end{aligned}\end{align} "


def _formula(node: nodes.Node) -> Formula:
    if isinstance(node, nodes.math_block):
        return _display_tex(node), True
    return node.astext(), False


def _is_math(node: nodes.Node) -> bool:
    return isinstance(node, (nodes.math, nodes.math_block))


def _mathjax_package(srcdir: Path) -> tuple[Path, str]:
    """node_modules/mathjax and its version, which must be the one package-lock.json pins."""
    package = srcdir / "node_modules" / PACKAGE
    manifest = package / "package.json"
    installed = json.loads(manifest.read_text())["version"] if manifest.is_file() else None
    lock = srcdir / "package-lock.json"
    locked = None
    if lock.is_file():
        packages = json.loads(lock.read_text()).get("packages", {})
        locked = packages.get(f"node_modules/{PACKAGE}", {}).get("version")
    if installed is None or (locked and installed != locked):
        found = f"{installed} is installed" if installed else "none is installed"
        raise ExtensionError(
            f"the math needs MathJax {locked or ''} (package-lock.json) in {package.parent}, "
            f"and {found}: run `make mathjax` (npm ci)"
        )
    return package, installed


class _Typesetter:
    """The build's formulas: the cache, and one Node process started at the first miss."""

    def __init__(self, app: Sphinx) -> None:
        self.package, version = _mathjax_package(Path(app.srcdir))
        fingerprint = f"{version} {hashlib.sha256(SCRIPT.read_bytes()).hexdigest()}"
        self.db = sqlite3.connect(Path(app.doctreedir).parent / ".mathjax.sqlite")
        self.db.executescript(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);"
            "CREATE TABLE IF NOT EXISTS formulas (tex TEXT, display INTEGER, html TEXT,"
            " usage TEXT, PRIMARY KEY (tex, display));"
        )
        if self._meta("fingerprint") != fingerprint:  # another MathJax, or another script
            self.db.executescript("DELETE FROM formulas; DELETE FROM meta;")
            self._set_meta("fingerprint", fingerprint)
        self.known: dict[Formula, tuple[str, dict]] = {
            (tex, bool(display)): (html, json.loads(usage))
            for tex, display, html, usage in self.db.execute("SELECT * FROM formulas")
        }
        self.late = False  # typeset while the pages were written
        self.typeset_now = 0  # formulas not in the cache, and the seconds Node spent on them
        self.seconds = 0.0
        self.process: subprocess.Popen | None = None

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row and row[0]

    def _set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def _ask(self, request: dict) -> dict:
        if self.process is None:
            node = shutil.which("node")
            if node is None:
                raise ExtensionError("node is not installed: the build typesets math with it")
            self.process = subprocess.Popen(
                [node, str(SCRIPT), str(self.package), FONTS],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8",
            )
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise ExtensionError(f"{SCRIPT.name} stopped (its error is above)")
        return json.loads(answer)

    def forget_all_but(self, formulas: set[Formula]) -> None:
        """Drop the formulas the book no longer has, from the cache and from the stylesheet."""
        stale = set(self.known) - formulas
        self.db.executemany("DELETE FROM formulas WHERE tex = ? AND display = ?", stale)
        for formula in stale:
            del self.known[formula]

    def typeset(self, formula: Formula) -> str:
        """The formula's HTML; raises ValueError with MathJax's message on a TeX error."""
        if formula not in self.known:
            tex, display = formula
            started = time.perf_counter()
            answer = self._ask({"tex": tex, "display": display})
            self.seconds += time.perf_counter() - started
            if "error" in answer:
                raise ValueError(answer["error"])
            self.typeset_now += 1
            self.known[formula] = answer["html"], answer["usage"]
            self.db.execute(
                "INSERT OR REPLACE INTO formulas VALUES (?, ?, ?, ?)",
                (tex, display, answer["html"], json.dumps(answer["usage"])),
            )
        return self.known[formula][0]

    def write_stylesheet(self, outdir: Path) -> None:
        """The CSS for the union of the known formulas' usage, and the fonts it names."""
        usage = {"wrappers": set(), "chars": set(), "delimiters": set()}
        for _html, formula_usage in self.known.values():
            for kind, items in formula_usage.items():
                usage[kind].update(items)
        usage = {kind: sorted(items) for kind, items in usage.items()}
        key = hashlib.sha256(json.dumps(usage).encode()).hexdigest()
        if self._meta("stylesheet usage") != key:
            self._set_meta("stylesheet", self._ask({"usage": usage})["css"])
            self._set_meta("stylesheet usage", key)
        stylesheet = outdir / "_static" / STYLESHEET
        css = self._meta("stylesheet") + MATCH_FONT_HEIGHT
        if not stylesheet.is_file() or stylesheet.read_text() != css:
            stylesheet.parent.mkdir(parents=True, exist_ok=True)
            stylesheet.write_text(css)
        fonts = self.package / "es5" / "output" / "chtml" / "fonts" / FONTS
        shutil.copytree(fonts, stylesheet.parent / FONTS, dirs_exist_ok=True)
        # The folder is this extension's: a build from before it copied all of MathJax there.
        for leftover in stylesheet.parent.iterdir():
            if leftover.is_dir() and leftover.name != FONTS:
                shutil.rmtree(leftover)
            elif leftover.is_file() and leftover.name != stylesheet.name:
                leftover.unlink()

    def close(self) -> None:
        self.db.commit()
        self.db.close()
        if self.process is not None:
            self.process.stdin.close()
            self.process.wait()


_typesetter: _Typesetter | None = None


def _the_typesetter(app: Sphinx) -> _Typesetter:
    global _typesetter
    if _typesetter is None:
        _typesetter = _Typesetter(app)
    return _typesetter


def _where(env: BuildEnvironment, docname: str, line: int | None) -> tuple[str, int]:
    """The source file of ``docname`` and the line, to name a formula by."""
    return env.doc2path(docname, base=False), line or 0


def _tex_error(where: tuple[str, int], formula: Formula, message: str) -> str:
    tex, display = formula
    delimited = rf"\[{tex}\]" if display else rf"\({tex}\)"
    path, line = where
    return f"{path}:{line}: TeX error in {delimited}: {message}"


def _uses_renderer(app: Sphinx) -> bool:
    return getattr(app.builder, "math_renderer_name", None) == RENDERER


def _collect(app: Sphinx, doctree: nodes.document) -> None:
    """Keep each document's formulas (and a line of each) in the environment."""
    formulas: dict[Formula, int | None] = {}
    for node in doctree.findall(_is_math):
        formulas.setdefault(_formula(node), node.line)
    app.env.prerendered_math[app.env.docname] = formulas
    # Typeset them now: in a clean build the chapters are read one by one as they finish
    # executing, and Node works meanwhile instead of after the last one.  (Not in a parallel
    # read, whose processes end with the reading; the errors are reported once all is read.)
    if formulas and app.parallel <= 1 and _uses_renderer(app):
        typesetter = _the_typesetter(app)
        for formula in formulas:
            with contextlib.suppress(ValueError):
                typesetter.typeset(formula)


def _typeset_site(app: Sphinx, env: BuildEnvironment) -> list[str]:
    """Before any page is written: every formula of the book typeset, or the build stopped
    with all its TeX errors, and the stylesheet the pages link written."""
    if not _uses_renderer(app):
        return []
    where: dict[Formula, tuple[str, int]] = {}
    for docname, formulas in sorted(env.prerendered_math.items()):
        for formula, line in formulas.items():
            where.setdefault(formula, _where(env, docname, line))
    if not where:
        return []  # a book without math needs neither Node nor MathJax
    typesetter = _the_typesetter(app)
    typesetter.forget_all_but(set(where))
    errors = []
    for formula in sorted(set(where) - set(typesetter.known), key=where.get):
        try:
            typesetter.typeset(formula)
        except ValueError as error:
            errors.append(_tex_error(where[formula], formula, str(error)))
    if errors:  # (the build-finished handler still caches the formulas that typeset)
        raise ExtensionError("the math of the book does not typeset:\n" + "\n".join(errors))
    typesetter.write_stylesheet(Path(app.outdir))
    logger.info(
        "prerendered_math: %d formulas, %d not in the cache, typeset by Node in %.1f s",
        len(where), typesetter.typeset_now, typesetter.seconds,
    )
    return []


def _html(translator: Any, node: nodes.Node) -> str:
    """A formula from the cache, or typeset now if it was made after the build collected the
    formulas (then the stylesheet is written again when the build finishes)."""
    formula = _formula(node)
    typesetter = _the_typesetter(translator.builder.app)
    typesetter.late |= formula not in typesetter.known
    try:
        return typesetter.typeset(formula)
    except ValueError as error:
        where = _where(translator.builder.env, translator.builder.current_docname, node.line)
        raise ExtensionError(_tex_error(where, formula, str(error))) from None


def _visit_math(translator: Any, node: nodes.math) -> None:
    translator.body.append(translator.starttag(node, "span", "", CLASS=CLASSES))
    translator.body.append(_html(translator, node) + "</span>")
    raise nodes.SkipNode


def _visit_displaymath(translator: Any, node: nodes.math_block) -> None:
    translator.body.append(translator.starttag(node, "div", CLASS=CLASSES))
    # As sphinx.ext.mathjax: no number on a nowrap block; as myst-parser: amsmath blocks have one.
    if node["number"] and (not node["nowrap"] or "amsmath" in node["classes"]):
        number = get_node_equation_number(translator, node)
        translator.body.append(f'<span class="eqno">({number})')
        translator.add_permalink_ref(node, _("Link to this equation"))
        translator.body.append("</span>")
    translator.body.append(_html(translator, node) + "</div>\n")
    raise nodes.SkipNode


def _link_stylesheet(
    app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    """Only pages with math load its stylesheet (and then its fonts)."""
    if _uses_renderer(app) and app.env.get_domain("math").has_equations(pagename):
        app.builder.add_css_file(STYLESHEET)


def _start(app: Sphinx) -> None:
    if not hasattr(app.env, "prerendered_math"):
        app.env.prerendered_math = {}


def _purge(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    env.prerendered_math.pop(docname, None)


def _merge(app: Sphinx, env: BuildEnvironment, docnames: set[str], other: Any) -> None:
    env.prerendered_math.update({name: other.prerendered_math[name] for name in docnames})


def _finish(app: Sphinx, exception: Exception | None) -> None:
    global _typesetter
    if _typesetter is not None:
        if _typesetter.late and exception is None:
            _typesetter.write_stylesheet(Path(app.outdir))
        _typesetter.close()
        _typesetter = None


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_html_math_renderer(RENDERER, (_visit_math, None), (_visit_displaymath, None))
    app.connect("builder-inited", _start)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("doctree-read", _collect)
    app.connect("env-updated", _typeset_site)
    app.connect("html-page-context", _link_stylesheet)
    app.connect("build-finished", _finish)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": False}
