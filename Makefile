PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: demo test lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e .
	touch $(STAMP)

$(DEVSTAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[dev]'
	touch $(DEVSTAMP)

demo: $(STAMP)
	$(BIN)/fakescope scan tests/fixtures/talking_head.mp4 --json .demo_verdict.json
	@echo "verdict JSON written to .demo_verdict.json"

test: $(DEVSTAMP)
	@command -v ffmpeg >/dev/null || { echo "make test needs ffmpeg (apt-get install -y ffmpeg; bash .ci/run does it)"; exit 2; }
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(DEVSTAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .demo_verdict.json
