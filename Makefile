# The two front-door commands: `make run` (main job end to end) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV)/bin)
STAMP := $(VENV)/.installed
# Stage commands in dvc.yaml call `python` and `classifier`: they must be the environment's.
export PATH := $(BIN):$(PATH)
# BLAS/OpenMP threads oversubscribe 2-core machines (30x slower logistic regression fits).
export OMP_NUM_THREADS ?= 1
export OPENBLAS_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
export DVC_NO_ANALYTICS := 1

.PHONY: run test install bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# Validate the data, train with model selection (tracked in MLflow), evaluate on the frozen test split,
# register and gate the model, score the sample inbox (data/new/*.eml); then show the queue.
run: $(STAMP)
	dvc repro
	classifier queue reports/sample_queue.csv --show 60

test: $(STAMP)
	python -m pytest

# The benchmark suite (docs/performance.md): needs a trained model (make run) and the peer tokenizers.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	python benchmarks/run.py $(ARGS)
