# Two commands do all the set-up (see README.md):
#   make lab   create .venv, install, fetch the data, start Jupyter Lab
#   make test  the same set-up, then unit tests + strict nbval in fast mode
# Both are idempotent: a second run reuses .venv and the data.

SHELL := /bin/bash
# Which Python: PY=3.13 (or 3.12, ...) picks python3.13 from PATH, else
# pyenv's 3.13; by default 3.11 (the pinned stack of the committed outputs)
# when there is one, else 3.13 or 3.12. PYTHON=/path/to/python overrides both.
find_python = $(shell for p in python$(1) $$(pyenv root 2>/dev/null)/versions/$(1)*/bin/python$(1); do \
	"$$p" -c '' 2>/dev/null && { command -v "$$p"; break; }; done)
ifdef PYTHON
PY := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
else
ifndef PY
PY := $(firstword $(foreach v,3.11 3.13 3.12,$(if $(call find_python,$(v)),$(v))) 3)
endif
PYTHON := $(or $(call find_python,$(PY)),python$(PY))
endif
# One environment per Python: .venv for 3.11, .venv-3.13 for 3.13, ...
VENV ?= $(if $(filter 3.11,$(PY)),.venv,.venv-$(PY))
BIN := $(VENV)/bin
# MXNet build: empty for the CPU wheel, or a CUDA 11 flavour, e.g. GPU=cu117
# (see README, "On a GPU"); the CUDA wheel and its CUDA libraries replace the
# CPU wheel in $(VENV).
GPU ?=
# The CUDA builds of MXNet 1.9.1 on the registry (bnlesson.env.install.GPU_BUILDS,
# a test keeps them equal): refused here, before the environment is touched.
GPU_BUILDS := cu117 cu116 cu115 cu114 cu113 cu112 cu111 cu110
ifneq ($(GPU),)
ifneq ($(words $(GPU)) $(filter $(GPU_BUILDS),$(GPU)),1 $(GPU))
$(error GPU=$(GPU) is not a CUDA build of MXNet 1.9.1 on the package registry: use GPU=cu117 (or cu116 ... cu110), or no GPU= for the CPU build)
endif
endif
STAMP := $(VENV)/.bnlesson-installed$(if $(GPU),-$(GPU))
PORT ?= 8888
IP ?= 127.0.0.1
# The run mode of the lessons' kernels (make lab MODE=live) and of make
# time-lessons (default live there): full, live or fast; see README,
# "Teaching with bnlesson". Unset, make lab leaves $BNLESSON_MODE as it is.
MODE ?=
# In any case, like $BNLESSON_MODE (MODE=Live is live): lowercased here, so
# the kernels and tools/time_lessons.py get the lowercase name.
UPPER := A B C D E F G H I J K L M N O P Q R S T U V W X Y Z
LOWER := a b c d e f g h i j k l m n o p q r s t u v w x y z
lowercase = $(if $(2),$(call lowercase,$(subst $(firstword $(2)),$(firstword $(3)),$(1)),$(wordlist 2,26,$(2)),$(wordlist 2,26,$(3))),$(1))
override MODE := $(call lowercase,$(strip $(MODE)),$(UPPER),$(LOWER))
ifneq ($(filter-out full live fast,$(MODE))$(word 2,$(MODE)),)
$(error MODE=$(MODE) is not a run mode: use MODE=full, MODE=live or MODE=fast (in any case))
endif
# The device the lessons train on (BNLESSON_DEVICE; see README, "On any
# device"): empty for d2l.try_gpu() (the first GPU, else the CPU), or e.g.
# DEVICE=cpu:1, which CI uses so that an array left on the default device
# fails as it would on a GPU.
DEVICE ?=
DEVICE_ENV := $(if $(DEVICE),BNLESSON_DEVICE=$(DEVICE) )
# pytest-style extra arguments, e.g. make test ARGS="-k data -x"
ARGS ?=
# make test, unit and lesson run pytest on every core (pytest-xdist) with one
# worker more than the cores, at most 4 (each holds MXNet, and a notebook's
# kernel besides): the browser tests spend much of their time waiting on the
# browser's timers (MathJax, reveal.js, Lab), and the extra worker uses the
# core they leave idle (on 2 cores make test took 264 s with 3 workers, 284 s
# with 2). JOBS=0 runs in one process. All cells of a notebook go to one
# worker, which runs them in one kernel (--dist loadfile; make unit, without
# notebooks, hands out single tests); each worker and kernel gets one OpenMP
# thread, so that the workers do not fight over the cores.
JOBS ?= $(shell n=$$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2); \
	echo $$(( n + 1 < 4 ? n + 1 : 4 )))
PYTEST = $(DEVICE_ENV)BNLESSON_FAST=1 OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q \
	-p no:cacheprovider -n $(JOBS)
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg
# The lessons, and the worked solutions of their exercises beside them
# (notebooks/solutions/NN_<lesson>_solutions.ipynb): tested and re-run alike,
# but only lessons become slide decks.
LESSONS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
SOLUTIONS := $(sort $(wildcard notebooks/solutions/[0-9][0-9]_*_solutions.ipynb))
NOTEBOOKS := $(LESSONS) $(SOLUTIONS)
# make lesson N=03: lesson 03's notebook and solutions, and its tests (those
# conftest.py marks lesson(number=3): tests/**/*lesson03*, and the tests of
# its notebooks). N is two digits, as in the notebooks' names.
LESSON_NUMBERS := $(foreach nb,$(LESSONS),$(firstword $(subst _, ,$(notdir $(nb)))))
ifneq ($(filter lesson,$(MAKECMDGOALS)),)
ifneq ($(words $(N)) $(filter $(LESSON_NUMBERS),$(N)),1 $(N))
$(error N=$(N) is not a lesson: use N= with two digits, one of $(LESSON_NUMBERS) (e.g. make lesson N=03 for $(notdir $(word 3,$(LESSONS)))))
endif
endif
# A relative $BNLESSON_DATA is meant from here; the notebooks' kernels run in
# notebooks/, so hand them the absolute path.
ifneq ($(filter-out /% ~%,$(BNLESSON_DATA)),)
override BNLESSON_DATA := $(CURDIR)/$(BNLESSON_DATA)
export BNLESSON_DATA
endif

.PHONY: lab test unit lesson run data env setup lint bench slides browser time-lessons student clean help

help:
	@echo "make lab    start Jupyter Lab on notebooks/ (sets everything up first)"
	@echo "make test   unit tests + strict nbval of every notebook and solution, fast mode"
	@echo "make unit   the unit tests only: no notebooks, no kernels (under a minute)"
	@echo "make lesson N=03  lesson 03: its notebook and solutions (strict nbval, fast), its tests"
	@echo "make run    re-execute every notebook and solution in place, full mode"
	@echo "make bench  the batch-norm cost benchmark"
	@echo "make slides a reveal.js deck of every lesson in decks/ (works offline)"
	@echo "make student the student edition (code to write, self-checks) in notebooks/student/"
	@echo "make time-lessons  run every lesson in live mode (MODE=full|fast too), time each"
	@echo "MODE=live   with make lab: copies of the lessons in live/ run in live mode (about a minute each)"
	@echo "PY=3.13 (or 3.12) to use that Python, in .venv-3.13"
	@echo "DEVICE=cpu:1 (or gpu:0) to train every lesson on that device"

env: $(STAMP)

# pip's own output is a hundred lines, many of them warnings about this
# machine's package indexes: show one line that counts packages instead (the
# whole output stays in $(VENV)/pip.log, and its end is shown if pip fails).
PIP_PROGRESS := awk '/^(Collecting|Processing) /{n++; if (n % 20 == 0) {print "  " n " packages"; fflush()}} \
	END{print "  " n " packages, installed"}'

# Reinstalls only when pyproject.toml changes. pip installs the package and,
# by Python version, the pinned stack (3.11) or current releases (3.12+);
# bnlesson.env.install then adds what pip cannot express: MXNet and d2l with
# --no-deps on 3.12+, the CUDA build, and the .pth of bnlesson.env.compat.
$(STAMP): pyproject.toml bnlesson/env/install.py bnlesson/env/compat.py
	@if [ ! -x $(BIN)/python ]; then \
		if ! "$(PYTHON)" -c '' 2>/dev/null; then \
			echo "No Python $(PY) found (tried python$(PY) and pyenv's $(PY))." \
			"Install one, or name it: make PYTHON=/path/to/python3.11 ..."; exit 1; \
		fi; \
		"$(PYTHON)" tools/check_python.py && \
		echo "Creating $(VENV) with $(PYTHON)" && "$(PYTHON)" -m venv $(VENV); \
	fi
	@$(BIN)/python tools/check_python.py
	@echo "Installing into $(VENV) (Python $(PY)): a first install downloads about" \
		"200 MB (some 120 packages) and takes 1-2 minutes; pip's log: $(VENV)/pip.log"
	@set -o pipefail; $(BIN)/python -m pip install --disable-pip-version-check \
		--progress-bar off -e '.[dev]' 2>&1 | tee $(VENV)/pip.log | $(PIP_PROGRESS) \
		|| { echo "pip failed; the end of $(VENV)/pip.log:"; tail -n 25 $(VENV)/pip.log; exit 1; }
	$(BIN)/python -m bnlesson.env.install $(if $(GPU),--gpu $(GPU))
	@touch $@

# The set-up of every command below; when it fails, the doctor says what is
# wrong and how to fix it.
setup:
	@$(MAKE) --no-print-directory data || { \
		if [ -x $(BIN)/python ]; then $(BIN)/python -m bnlesson.env.doctor; \
		elif "$(PYTHON)" tools/check_python.py 2>/dev/null; then "$(PYTHON)" -m bnlesson.env.doctor; \
		fi; exit 1; }

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

# The copies of the lessons that make lab serves in live and fast mode (git
# ignores live/): see tools/live_copies.py and README, "Live mode".
LIVE_DIR ?= live
# MODE on the command line beats a BNLESSON_FAST inherited from the shell
# (which would otherwise ask the kernels for two modes). A prefix of
# assignments and env: `exec` needs a command first, hence `exec env ...`.
MODE_ENV := $(DEVICE_ENV)$(if $(MODE),env -u BNLESSON_FAST BNLESSON_MODE=$(MODE) )

# The committed notebooks were executed by this repository: sign them as
# trusted, so their figures and tables show without a warning. In full mode
# Lab serves them; in live or fast mode (MODE=, or $BNLESSON_MODE) it serves
# copies in $(LIVE_DIR)/, made once and kept (refreshed, the old copy kept,
# when the lesson changes), so that autosave never writes a live run's
# outputs over the committed ones. Lab opens on the first lesson.
lab: setup
	@$(BIN)/jupyter trust $(NOTEBOOKS) >/dev/null
	@root=$$($(MODE_ENV)$(BIN)/python tools/live_copies.py --copies $(LIVE_DIR) $(NOTEBOOKS)) || exit 1; \
	echo "Starting Jupyter Lab on lesson 01$(if $(MODE), in $(MODE) mode) in $$root/: open" \
		"the http://127.0.0.1 URL it prints below. Ctrl-C twice stops it."; \
	set -x; exec env $(MODE_ENV)$(BIN)/jupyter lab --no-browser --ip=$(IP) --port=$(PORT) $(ROOT_FLAG) \
		--ServerApp.root_dir="$$root" \
		--LabApp.default_url=/lab/tree/$(notdir $(firstword $(LESSONS)))

# The slides test walks every deck in Debian's Chromium through its
# chromedriver (Selenium); like the data, both are installed only as root
# with apt (CI), otherwise that test says why it skips.
browser:
	@if { ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; } \
		&& [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium and chromium-driver (for the slides test)"; \
		{ apt-cache show chromium-driver >/dev/null 2>&1 || apt-get update -qq; } \
		&& apt-get install -y -qq chromium chromium-driver >/dev/null \
		|| echo "apt-get failed; the slides test will skip its browser check"; \
	fi

# The long files first, in the order conftest.py's longest_first gives
# (pytest-xdist's own reordering, by number of tests, would start the Lab
# and browser tests last): the short unit tests fill the workers at the end.
# nbval runs each notebook a second time in the same kernel after its last
# cell (conftest.py).
LOADFILE := --dist loadfile --no-loadscope-reorder
test: setup browser
	$(PYTEST) $(LOADFILE) $(NOTEBOOKS) tests $(NBVAL) $(ARGS)

unit: setup
	$(PYTEST) --dist load tests -m "not slow" $(ARGS)

lesson: setup
	$(PYTEST) $(LOADFILE) $(filter notebooks/$(N)_%,$(NOTEBOOKS)) $(filter notebooks/solutions/$(N)_%,$(NOTEBOOKS)) \
		tests $(NBVAL) -m "lesson(number=$(patsubst 0%,%,$(N)))" $(ARGS)

# Each executed notebook loses the timestamps nbconvert writes into its cells
# (tools/clean_notebooks.py), so that a diff shows only what the run changed.
run: setup
	@for nb in $(NOTEBOOKS); do \
		echo "Executing $$nb (full mode)"; \
		$(DEVICE_ENV)BNLESSON_FAST=0 $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
			--ExecutePreprocessor.timeout=-1 "$$nb" || exit 1; \
		$(BIN)/python tools/clean_notebooks.py "$$nb" >/dev/null || exit 1; \
	done
	@# The Slide Types (for RISE) follow the outputs' heights: mark them again.
	$(BIN)/python -m bnlesson.slides --mark $(LESSONS)

# Executes copies of the lessons (the committed notebooks stay as they are)
# and prints each one's wall time; in live mode against the 60 s budget.
time-lessons: setup
	$(BIN)/python tools/time_lessons.py --mode $(or $(MODE),live) $(LESSONS)

lint: env
	$(BIN)/ruff check bnlesson tests tools notebooks conftest.py
	$(BIN)/ruff format --check bnlesson tests tools conftest.py

bench: setup
	$(BIN)/python -m bnlesson.experiments.bench

# From the committed outputs, never executed (a lesson whose outputs come
# from a live or fast run is refused); reveal.js and MathJax are downloaded
# once (verified) into ~/.cache/bnlesson and copied into decks/, with the
# worked solutions as plain pages in decks/solutions/.
slides: setup
	$(BIN)/python -m bnlesson.slides --out decks $(LESSONS)

# The student edition (README, "For a course"): nbgrader, configured by
# nbgrader_config.py, blanks the solutions of every lesson that has one and
# clears the outputs, into notebooks/student/ (not committed; make lab
# serves it). course/source/student/ holds the copies it starts from, and
# course/gradebook.db what nbgrader knows of the course (a new one needs the
# venv's alembic on the PATH).
EXERCISES = $(shell grep -l "### BEGIN SOLUTION" $(LESSONS))
student: env
	@rm -rf course/source/student && mkdir -p course/source/student
	@cp $(EXERCISES) course/source/student/
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/nbgrader generate_assignment student --force \
		--log-level=WARN
	@echo "The student edition: $(patsubst notebooks/%,notebooks/student/%,$(EXERCISES))"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
