# The two front-door commands: `make run` (main job end to end) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export OMP_NUM_THREADS ?= 1
export OPENBLAS_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
export DVC_NO_ANALYTICS := 1

.PHONY: run test install

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/classifier train --data data/inquiries.csv --out models
	$(BIN)/classifier score data/sample/inbox.csv -o queue.csv

test: $(STAMP)
	$(BIN)/python -m pytest
