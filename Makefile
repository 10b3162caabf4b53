# Every target bootstraps .venv from pyproject.toml, so each works as the first command on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lint format clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# The official Adaptive Cards renderer (npm) is installed at build time, never committed.
RENDER := cards/render/node_modules/.installed
$(RENDER): cards/render/package-lock.json
	@if command -v npm >/dev/null; then \
	  cd cards/render && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else echo "npm not found: card PNG rendering will be skipped (install Node.js to enable it)"; fi

demo: $(STAMP) $(RENDER)
	$(BIN)/pli-pulse demo --out demo-out

test: $(STAMP) $(RENDER)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) demo-out var .pytest_cache .ruff_cache
