# Two commands do everything on a fresh machine: `make book` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

VENV   := .venv
PYTHON := $(VENV)/bin/python
# Re-install only when what is installed has changed.
STAMP  := $(VENV)/.installed
BUILD_FLAGS := -W -n --keep-going

.PHONY: book pdf test serve clean lint mathjax system-book system-test

# What pip cannot install (npm; for the tests chromium, a CJK font, pdftotext): installed when
# missing and make runs as root on Debian or Ubuntu, otherwise make stops with the command.
system-book:
	tools/system-packages book

system-test:
	tools/system-packages test

$(STAMP): requirements.txt pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	# --no-deps: the package needs only numpy, and pip must never resolve torch itself.
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

# MathJax typesets the math when the book is built (no page loads it, nor anything from a CDN):
# `npm ci` installs the exact version locked in package-lock.json into node_modules/, which
# _ext/prerendered_math.py runs in Node, copying MathJax's fonts into _build/html/_static/mathjax/.
# npm writes node_modules/.package-lock.json on every install.
MATHJAX := node_modules/.package-lock.json

$(MATHJAX): package.json package-lock.json | system-book
	npm ci --no-audit --no-fund --loglevel=error

mathjax: $(MATHJAX)

# The execution cache is keyed on the chapters' code cells only, but the chapters run the package
# in kernels that tools/ starts: when either changes, every chapter must run (and check lossnotes
# against torch) again, and every page be read again (Sphinx re-reads only changed sources).
PACKAGE_STAMP := _build/.package-sources

$(PACKAGE_STAMP): $(wildcard lossnotes/*.py tools/*.py)
	rm -rf _build/.jupyter_cache _build/.doctrees
	mkdir -p _build
	touch $@

# Sphinx does not notice a change in its local extensions or in a static file (when no page is
# out of date it does not even copy the static files): read and write every page again then.
SITE_STAMP := _build/.site-sources

$(SITE_STAMP): $(wildcard _ext/*.py _ext/*.js _ext/templates/*.html _ext/templates/*/*.html _static/*)
	rm -rf _build/.doctrees
	mkdir -p _build
	touch $@

book: $(STAMP) $(MATHJAX) $(PACKAGE_STAMP) $(SITE_STAMP)
	# Execute the changed chapters in parallel into the cache the build reads, while the build
	# starts and reads the other pages (tools/preexecute.py, _ext/preexecuted.py).
	$(PYTHON) tools/preexecute.py . -- $(VENV)/bin/jupyter-book build . $(BUILD_FLAGS)

# The PDF edition: the whole book as one page (Sphinx's singlehtml builder, which keeps the
# site's chapter, section, figure and equation numbers; the math is typeset by the build), printed
# by Debian's chromium (tools/printpdf.py), and copied beside the site's pages, which link to it.
# The chapters come from the execution cache `make book` filled, so nothing is executed again.
PDF := _build/pdf/lossnotes.pdf

pdf: book
	$(VENV)/bin/jupyter-book build . --builder custom --custom-builder singlehtml $(BUILD_FLAGS)
	$(PYTHON) tools/printpdf.py _build/singlehtml/intro.html $(PDF) _build/html

test: system-test $(STAMP) $(MATHJAX) $(PACKAGE_STAMP) $(SITE_STAMP)
	$(PYTHON) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .

serve: book
	@echo "Serving _build/html on http://127.0.0.1:8000 (Ctrl-C to stop)"
	$(PYTHON) -m http.server 8000 --bind 127.0.0.1 --directory _build/html

clean:
	rm -rf _build
