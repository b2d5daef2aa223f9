# Two commands do all the set-up (see README.md):
#   make lab   create .venv, install, fetch the data, start Jupyter Lab
#   make test  the same set-up, then unit tests + strict nbval in fast mode
# Both are idempotent: a second run reuses .venv and the data.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
# MXNet build: empty for the CPU wheel, or a CUDA flavour, e.g. GPU=cu117
# (see README, "On a GPU"); the CUDA wheel replaces the CPU one in $(VENV).
GPU ?=
STAMP := $(VENV)/.bnlesson-installed$(if $(GPU),-$(GPU))
PORT ?= 8888
IP ?= 127.0.0.1
# pytest-style extra arguments, e.g. make test ARGS="-k data -x"
ARGS ?=
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
# A relative $BNLESSON_DATA is meant from here; the notebooks' kernels run in
# notebooks/, so hand them the absolute path.
ifneq ($(filter-out /% ~%,$(BNLESSON_DATA)),)
override BNLESSON_DATA := $(CURDIR)/$(BNLESSON_DATA)
export BNLESSON_DATA
endif

.PHONY: lab test run data env lint bench clean help

help:
	@echo "make lab    start Jupyter Lab on notebooks/ (sets everything up first)"
	@echo "make test   unit tests + strict nbval of every notebook, fast mode"
	@echo "make run    re-execute every notebook in place, full mode"
	@echo "make bench  the batch-norm cost benchmark"

env: $(STAMP)

# Reinstalls only when pyproject.toml changes.
$(STAMP): pyproject.toml
	@if [ ! -x $(BIN)/python ]; then \
		$(PYTHON) tools/check_python.py && \
		echo "Creating $(VENV) with $(PYTHON)" && $(PYTHON) -m venv $(VENV); \
	fi
	@$(BIN)/python tools/check_python.py
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@if [ -n "$(GPU)" ]; then \
		$(BIN)/python -m pip uninstall --quiet -y mxnet && \
		$(BIN)/python -m pip install --quiet mxnet-$(GPU)==1.9.1; \
	fi
	@touch $@

# Debian's package is the offline source (root + apt only); otherwise the
# loader downloads from the dataset's mirrors.
data: env
	@if ! $(BIN)/python -m bnlesson.data --no-download >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "Installing Debian's dataset-fashion-mnist"; \
			apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null \
			|| echo "apt-get failed; trying a download instead"; \
		fi; \
	fi
	@$(BIN)/python -m bnlesson.data

# Jupyter refuses to run as root unless told; containers and CI often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: data
	@echo "Starting Jupyter Lab on notebooks/ (open the URL below; Ctrl-C stops it)"
	$(BIN)/jupyter lab --no-browser --ip=$(IP) --port=$(PORT) $(ROOT_FLAG) \
		--ServerApp.root_dir=notebooks

test: data
	BNLESSON_FAST=1 $(BIN)/python -m pytest -q -p no:cacheprovider \
		tests $(NOTEBOOKS) --nbval --nbval-current-env \
		--nbval-sanitize-with tests/sanitize.cfg $(ARGS)

run: data
	@for nb in $(NOTEBOOKS); do \
		echo "Executing $$nb (full mode)"; \
		BNLESSON_FAST=0 $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
			--ExecutePreprocessor.timeout=-1 "$$nb" || exit 1; \
	done

lint: env
	$(BIN)/ruff check bnlesson tests tools notebooks
	$(BIN)/ruff format --check bnlesson tests tools

bench: data
	$(BIN)/python -m bnlesson.bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
