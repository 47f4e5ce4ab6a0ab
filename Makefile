# One entry point for a fresh machine with Python 3.11:
#   make book   set up .venv, execute every chapter (profiles/quick.yaml), build the HTML book
#   make test   set up .venv, run the unit tests and nbval over the notebooks
#   make lab    set up .venv, open the book in JupyterLab
#   make handout  the exercises without solutions: _build/handout/notebooks and _build/handout/html
#   make pdf    the built book (after make book) as one PDF: _build/pdf/seleak.pdf
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.seleak-installed
PROFILE ?= quick
PYTEST_ARGS ?=

.PHONY: setup book test test-slow test-seeds lint lab bench bench-peers check-book handout pdf clean

setup: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt -c constraints.txt
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps -e .
	@touch $@

book: setup
	$(BIN)/seleak book --profile $(PROFILE)

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-slow: setup
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

# every notebook under seeds 1, 2, 3 and with torch's portable CPU kernels: checked cells must hold
test-seeds: setup
	$(BIN)/python -m pytest -m slow tests/test_notebook_seeds.py $(PYTEST_ARGS)

# the linter and the formatter, as the tests run them (tests/test_lint.py)
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check src tests tools benchmarks

# open every page of the built book in headless Chromium (Debian's `chromium`: apt-get install chromium)
check-book: book
	$(BIN)/python tools/check_book.py

# the student edition: exercise notebooks without their solution cells, and their own small HTML book
handout: setup
	$(BIN)/seleak handout

# every page of the built book printed by the system Chromium (headless, offline), merged in toc order
pdf: setup
	$(BIN)/seleak pdf

lab: setup
	$(BIN)/jupyter lab book/

# every benchmark; the comparisons with other libraries need `make bench-peers` first (without it they
# say so and skip the peers, and seleak's own results are still written)
bench: setup
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

# the peer libraries of the benchmarks, into benchmarks/.peers (git-ignored), on the project's own torch
bench-peers: setup
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps --target benchmarks/.peers \
		-r benchmarks/requirements-peers.txt

clean:
	rm -rf _build
