# crackgan: set-up, tests and a demo run of the four steps.
#
#   make demo     install if needed, then run the whole pipeline on data/images
#                 (or, with no photos there, on a procedural demo set)
#   make test     install if needed, then run the test suite
#   make clean    delete outputs/ (keeps the virtual environment)
#
# Every variable below can be overridden: make demo DEMO_MINUTES=20 DEMO_NUM=2000

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Python 3.11 interpreter the virtual environment is built from.
PYTHON ?= python3.11
# Where the virtual environment lives.
VENV ?= .venv
# Free disk space (GiB) the first install needs: TensorFlow, PySpark, PyTorch CPU.
MIN_FREE_GB ?= 6

# Photos the demo uses when the folder holds any; otherwise the procedural set.
IMAGES ?= data/images
# Procedural demo set: folder, image count (cracked + intact) and seed.
DEMO_DATA ?= outputs/demo-data
DEMO_COUNT ?= 400
DEMO_SEED ?= 0
# Training resolution, label and wall-clock budget of the demo's training run.
DEMO_RESOLUTION ?= 64
DEMO_LABEL ?= cracked
DEMO_MINUTES ?= 5
# A step count the time budget stops first; raise DEMO_MINUTES to train longer.
DEMO_STEPS ?= 100000
# Extra train_gan.py flags; the defaults are sized for a short CPU run.
DEMO_TRAIN_FLAGS ?= --snapshot-every 250
# Images generate_images.py writes and evaluate.py compares (its Inception features
# run at a few images per second on 2 CPU cores).
DEMO_NUM ?= 300
# --fresh starts a new run each time; DEMO_FRESH= continues the previous one.
DEMO_FRESH ?= --fresh
# Extra evaluate.py flags that keep the demo's report within a few minutes on a CPU.
DEMO_EVAL_FLAGS ?= --classifier-repeats 2

VENV_PYTHON := $(VENV)/bin/python
REQUIREMENTS := $(wildcard requirements.txt requirements-dev.txt)
EVAL_REQUIREMENTS := $(wildcard requirements-eval.txt)
REQUIREMENTS_HASH := $(shell cat $(REQUIREMENTS) $(EVAL_REQUIREMENTS) /dev/null \
	| sha256sum | cut -c1-16)
# Present once this exact set of requirement files is installed; re-runs skip pip.
STAMP := $(VENV)/.installed-$(REQUIREMENTS_HASH)

.PHONY: help install test demo bench readme-figure clean distclean

help:
	@echo "make demo       run the whole pipeline (about $(DEMO_MINUTES) min of training)"
	@echo "make test       run the test suite"
	@echo "make install    create $(VENV) and install the requirements"
	@echo "make bench      print speed figures (bench/*.py, procedural images/s)"
	@echo "make readme-figure  redraw docs/img/demo_grid.png from make demo's outputs"
	@echo "make clean      delete outputs/"
	@echo "make distclean  delete outputs/ and $(VENV)"

install: $(STAMP)

$(STAMP):
	@if [ ! -x "$(VENV_PYTHON)" ]; then \
		scripts/check_env.sh install "$(PYTHON)" "$(VENV)" "$(MIN_FREE_GB)"; \
		echo "Creating $(VENV) with $(PYTHON)"; \
		"$(PYTHON)" -m venv "$(VENV)" || { rm -rf "$(VENV)"; \
			echo "crackgan set-up: '$(PYTHON) -m venv' failed; on Debian or Ubuntu" \
				"install the venv module: apt-get install -y python3.11-venv" >&2; \
			exit 1; }; \
	fi
	@scripts/check_env.sh run "$(VENV)"
	$(VENV_PYTHON) -m pip install --quiet $(addprefix -r ,$(REQUIREMENTS))
	$(if $(EVAL_REQUIREMENTS),$(VENV_PYTHON) -m pip install --quiet --no-deps \
		-r $(EVAL_REQUIREMENTS))
	@rm -f $(VENV)/.installed-*
	@touch $@

test: $(STAMP)
	@scripts/check_env.sh run "$(VENV)"
	$(VENV_PYTHON) -m pytest

demo: $(STAMP)
	@scripts/check_env.sh run "$(VENV)"
	@PYTHON_BIN="$(VENV_PYTHON)" IMAGES="$(IMAGES)" DEMO_DATA="$(DEMO_DATA)" \
		DEMO_COUNT="$(DEMO_COUNT)" DEMO_SEED="$(DEMO_SEED)" \
		DEMO_RESOLUTION="$(DEMO_RESOLUTION)" DEMO_LABEL="$(DEMO_LABEL)" \
		DEMO_MINUTES="$(DEMO_MINUTES)" DEMO_STEPS="$(DEMO_STEPS)" \
		DEMO_NUM="$(DEMO_NUM)" DEMO_FRESH="$(DEMO_FRESH)" \
		DEMO_TRAIN_FLAGS="$(DEMO_TRAIN_FLAGS)" DEMO_EVAL_FLAGS="$(DEMO_EVAL_FLAGS)" \
		scripts/demo.sh

# Speed figures: every script in bench/, then the procedural set's images per second.
bench: $(STAMP)
	@scripts/check_env.sh run "$(VENV)"
	@for script in bench/*.py; do \
		echo "== make bench: $$script"; $(VENV_PYTHON) "$$script"; \
	done
	@echo "== make bench: procedural demo images (see the images/s line)"
	$(VENV_PYTHON) -m crackgan.demo_data --out outputs/bench/demo-data --count 200 --force

# The README's picture, from the outputs of the last make demo.
readme-figure: $(STAMP)
	$(VENV_PYTHON) scripts/readme_figure.py --cache outputs/cache \
		--generated outputs/generated --label $(DEMO_LABEL) --out docs/img/demo_grid.png

clean:
	rm -rf outputs

distclean: clean
	rm -rf $(VENV)
