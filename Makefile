# The two commands: `make demo` and `make test`. Each creates .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TRAIN_STAMP := $(VENV)/.installed-train
# The [train] extra's torch: the CPU wheel by default (a plain `torch` would pull a multi-GB CUDA
# build). On a GPU machine: make test TORCH_SPEC="torch" (or a CUDA index URL with pip options).
TORCH_SPEC ?= torch==2.13.0

.PHONY: demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml setup.py src/llmrec/data/_netflix_parse.c src/llmrec/truth/_cocount.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	test ! -f examples/llmrec-plugin-example/pyproject.toml || $(BIN)/python -m pip install --quiet -e examples/llmrec-plugin-example
	touch $(STAMP)

# `make test` adds the [train] extra (torch, transformers, peft, trl); `make demo` never does.
$(TRAIN_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev,train]"
	touch $(TRAIN_STAMP)

demo: $(STAMP)
	$(BIN)/llmrec demo

test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples

typecheck: $(TRAIN_STAMP)
	$(BIN)/mypy

unit: $(TRAIN_STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build .mypy_cache .pytest_cache .ruff_cache
