# lec4: one entry point for the common tasks. `make help` lists them.
# The two commands for a fresh machine (README): `make book` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.lec4-setup
MATHJAX := .cache/npm/node_modules/mathjax/es5/tex-mml-chtml.js
AXE := .cache/npm/node_modules/axe-core/axe.min.js

.PHONY: help setup book book-fresh pdf test test-fast serve sync check-sync bench clean distclean homework-sources homework-release homework-grade

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

setup: $(STAMP) $(MATHJAX) $(AXE)  ## create .venv and install lec4lib with every extra (torch pinned by constraints.txt)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -c constraints.txt -e ".[book,test,grading]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

# MathJax, shipped with the built site (_ext/lec4_site.py copies it into _static/lec4/, so
# pages need no CDN) and used by the browser tests and make pdf; not committed. A rule
# of its own, so that installing npm after the first setup still gets it installed.
$(MATHJAX):
	@if command -v npm >/dev/null; then \
	  npm install --silent --no-audit --no-fund --prefix .cache/npm mathjax@3 >/dev/null && echo "mathjax@3 installed in .cache/npm"; \
	else echo "npm not found: browser tests will skip (MathJax cannot be served locally)"; fi

# axe-core for the accessibility test (tests/site/test_accessibility.py injects axe.min.js
# into every page); installed like MathJax, not committed.
$(AXE):
	@if command -v npm >/dev/null; then \
	  npm install --silent --no-audit --no-fund --prefix .cache/npm axe-core@4 >/dev/null && echo "axe-core@4 installed in .cache/npm"; \
	else echo "npm not found: the accessibility test will skip (no axe-core)"; fi

book: setup  ## set up, execute every chapter and write _build/html (cold when lec4lib changed)
	$(PY) tools/build_book.py

book-fresh: setup  ## like book, but always a cold build
	$(PY) tools/build_book.py --fresh

pdf: book  ## build the book, then print it into one PDF, _build/html/lec4.pdf (Chromium)
	$(PY) tools/make_pdf.py

test: pdf  ## set up, build the book and its PDF, run the whole test suite
	$(PY) -m pytest

test-fast: setup  ## the test suite without the slow tests (no book build)
	$(PY) -m pytest -m "not slow and not browser"

serve:  ## serve _build/html on http://127.0.0.1:8000
	$(PY) -m http.server --bind 127.0.0.1 --directory _build/html 8000

sync: setup  ## regenerate chapters/*.ipynb from their MyST sources
	$(PY) tools/notebooks.py sync

check-sync: setup  ## fail when a .ipynb is out of sync with its .md
	$(PY) tools/notebooks.py check

bench: setup  ## run every benchmark script (prints ratios and times)
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

HW ?= hw1
homework-sources: setup  ## regenerate assignments/source/hwK/hwK.ipynb from assignments/authoring/hwK.py
	$(PY) assignments/grade.py sources

homework-release: setup  ## release one assignment for students: make homework-release HW=hw1
	$(PY) assignments/grade.py release $(HW)

homework-grade: setup  ## collect, autograde, feedback, grades CSV: make homework-grade HW=hw1 SUBMISSIONS=dir-or.zip
	@test -n "$(SUBMISSIONS)" || { echo "usage: make homework-grade HW=hw1 SUBMISSIONS=folder-or.zip"; exit 2; }
	$(PY) assignments/grade.py grade $(HW) "$(SUBMISSIONS)"

clean:  ## remove the built site and caches
	rm -rf _build .pytest_cache test-artifacts

distclean: clean  ## also remove the environment
	rm -rf $(VENV) .cache
