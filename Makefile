# Two commands for a newcomer: `make serve` (set up, then run the service) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DATA_DIR ?= data

.PHONY: setup sandbox-tools serve test grade-example bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

# The sandbox wants bubblewrap; install it when we may (root with apt), else serve explains what to do.
sandbox-tools:
	@command -v bwrap >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap) >/dev/null 2>&1; } || true

serve: setup sandbox-tools
	$(BIN)/tensorgrade serve --data-dir $(DATA_DIR)

grade-example: setup
	$(BIN)/tensorgrade grade assignments/siglip/siglip.ipynb --assignment siglip

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) $(DATA_DIR)
