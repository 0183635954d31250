# Kaggle competitions the fast.ai way. `make help` lists the targets.
# Pipeline steps are file targets: an up-to-date step is skipped, a changed input rebuilds what depends on it.

COMP ?= rossmann
DATA ?= data
SUBMISSIONS ?= submissions
CONFIG ?=
ARGS ?=
SRC ?=
EXTRA ?=
FORCE ?=

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VENV_OK := $(VENV)/.installed
PKG := $(subst -,_,$(COMP))
export DATA SUBMISSIONS

CFG_ARGS := $(if $(CONFIG),--config $(CONFIG)) $(ARGS)
DIR := $(DATA)/$(COMP)
RAW := $(DIR)/raw/SOURCE.json
FEATURES_CFG := $(DIR)/config/features.json
FEATURES := $(DIR)/processed/features.json
FEATURE_CODE := $(wildcard features/*.py pipelines/$(PKG)/features.py pipelines/$(PKG)/config.py)

.DEFAULT_GOAL := help
.PHONY: help venv download sample features train predict submission submit all demo test test-fast lint bench clean distclean FORCE

help: ## list the targets (COMP=rossmann by default; DATA, CONFIG, ARGS, SRC, EXTRA as noted)
	@echo "usage: make TARGET [COMP=rossmann] [ARGS='key=value ...'] [CONFIG=file.toml]"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | awk -F'\t' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV_OK): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	@touch $@

venv: $(VENV_OK) ## create .venv with the pinned dependencies (rebuilt when requirements.txt changes)

download: | $(VENV_OK) ## fetch COMP with the Kaggle API, or SRC=archive-or-folder [EXTRA=...] [FORCE=1]
	$(PY) -m pipelines download $(COMP) --data $(DATA) $(if $(SRC),--src $(SRC)) $(if $(EXTRA),--extra $(EXTRA)) $(if $(FORCE),--force)

$(RAW): | $(VENV_OK)
	$(PY) -m pipelines sample $(COMP) --data $(DATA)

sample: $(RAW) ## put the embedded sample in data/COMP/raw (only when no real data is there)

$(FEATURES_CFG): FORCE | $(VENV_OK)
	@$(PY) -m pipelines config $(COMP) --data $(DATA) $(CFG_ARGS)

$(FEATURES): $(RAW) $(FEATURES_CFG) $(FEATURE_CODE) | $(VENV_OK)
	$(PY) -m pipelines features $(COMP) --data $(DATA) $(CFG_ARGS)

features: $(FEATURES) ## raw -> data/COMP/interim -> data/COMP/processed (Feather, procs fit on train only)

train predict submission submit: ## (arrives with the model issue)
	@echo "make $@: not built yet" >&2; exit 2

all: features ## the whole chain up to the submission file (never submits)

demo: ## the whole Rossmann chain on the embedded sample, in data/demo/
	$(MAKE) --no-print-directory features COMP=rossmann DATA=data/demo SUBMISSIONS=submissions/demo
	@echo "demo outputs:"; ls -1 data/demo/rossmann/raw/*.csv data/demo/rossmann/interim/*.feather data/demo/rossmann/processed/* | sed 's/^/  /'

test: $(VENV_OK) ## run the test suite (unit, end-to-end on the sample, real-data checks if ../shared/data exists)
	$(PY) -m pytest

test-fast: $(VENV_OK) ## the tests without the slow end-to-end ones
	$(PY) -m pytest -m "not slow"

lint: $(VENV_OK) ## ruff check + format check
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

bench: $(VENV_OK) ## benchmarks on the real data in ../shared/data (skips what is absent)
	$(PY) -m pipelines.bench $(COMP)

clean: ## delete COMP's derived data (interim, processed, config); raw downloads and runs stay
	rm -rf $(DIR)/interim $(DIR)/processed $(DIR)/config

distclean: ## also delete the venv and the demo data
	rm -rf $(VENV) data/demo submissions/demo
