PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
SCALESTAMP := $(VENV)/.installed-scale

.PHONY: demo test test-fast lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e .
	touch $(STAMP)

$(DEVSTAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[dev]'
	touch $(DEVSTAMP)

# The optional `scale` extra (Ray), so CI runs the `scan --ray` tests instead of skipping them.
$(SCALESTAMP): $(DEVSTAMP)
	$(BIN)/pip install -q -e '.[scale]'
	touch $(SCALESTAMP)

demo: $(STAMP)
	$(BIN)/fakescope scan tests/fixtures/talking_head.mp4 --json .demo_verdict.json
	@echo "verdict JSON written to .demo_verdict.json"

# lint, then every test (the summary line says how many ran)
test: lint $(SCALESTAMP)
	@command -v ffmpeg >/dev/null || { echo "make test needs ffmpeg (apt-get install -y ffmpeg; bash .ci/run does it)"; exit 2; }
	$(BIN)/python -m pytest -q

# the tests that decode no clip, train nothing and start no browser, Ray or torchrun (under a minute)
test-fast: $(DEVSTAMP)
	$(BIN)/python -m pytest -q -m "not slow"

# ruff, and the dependency contracts of shared/DESIGN.md (pyproject.toml [tool.importlinter])
lint: $(DEVSTAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .demo_verdict.json
