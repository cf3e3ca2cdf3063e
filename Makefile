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

.PHONY: run test install bench lock lint

# Exact versions from the lock file (every package of every extra the tests use), then the project
# itself without re-resolving: a fresh machine gets the environment the tests last passed with.
LOCK := requirements/dev.txt

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# Validate the data, train with model selection (tracked in MLflow), evaluate on the frozen test split,
# register and gate the model, score the sample inbox (data/new/*.eml); then show the queue.
run: $(STAMP)
	dvc repro
	classifier queue reports/sample_queue.csv --show 60

# Lint, format, types and notebook outputs first (seconds), then the whole test suite.
test: $(STAMP)
	$(MAKE) --no-print-directory lint
	python -m pytest

# The benchmark suite (docs/performance.md): needs a trained model (make run) and the peer tokenizers.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	python benchmarks/run.py $(ARGS)

# After changing dependencies in pyproject.toml: resolve them again into the lock file.
lock:
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --quiet -o $(LOCK)

# Lint, format check, types and notebook outputs (what .ci/run checks before the tests).
lint: $(STAMP)
	ruff check src tests benchmarks scripts
	ruff format --check src tests benchmarks scripts
	mypy
	nbstripout --verify notebooks/*.ipynb
