# Two commands for a newcomer: `make serve` (set up, then run the service) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DATA_DIR ?= data

.PHONY: setup serve test grade-example bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

serve: setup
	$(BIN)/tensorgrade serve --data-dir $(DATA_DIR)

grade-example: setup
	$(BIN)/tensorgrade grade assignments/siglip/siglip.ipynb --assignment siglip

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) $(DATA_DIR)
