# Kaggle competitions the fast.ai way. `make help` lists the targets.
# Pipeline steps are file targets: an up-to-date step is skipped, a changed input rebuilds what depends on it.

COMP ?= rossmann
DATA ?= data
SUBMISSIONS ?= submissions
CONFIG ?=
ARGS ?=
SRC ?=
OUT ?=
KAGGLE_USER ?=
GPU ?=
EXTRA ?=
FORCE ?=
RUN ?= default
NPROC ?=
RETRAIN ?=
# demo's own settings: applied before ARGS, which may override them
PRE_ARGS ?=
# pytest worker processes for `make test` (pytest-xdist); each gets an equal share of the cores. 0 = one process.
TEST_JOBS ?= auto
WINDOWS ?=
PARTS ?=
TB_PORT ?= 6006
# make profile: the step profiled
STEP ?= predict

# What the user gives is data, never code. Each variable keeps its text unexpanded (a `$(shell ...)` in a value
# stays text), reaches a shell only through `q` (one single-quoted word), and COMP / RUN, which name folders and
# files, must be plain names.
KIND ?= tabular
METRIC ?=
USER_VARS := COMP DATA SUBMISSIONS OUT KAGGLE_USER GPU CONFIG ARGS PRE_ARGS SRC EXTRA FORCE RUN NPROC RETRAIN TEST_JOBS WINDOWS PARTS TB_PORT KIND METRIC STEP
COMP_GIVEN := $(filter command line environment,$(origin COMP))
$(foreach v,$(USER_VARS),$(eval override $v := $$(value $v)))
q = '$(subst ','\'',$1)'
# a switch (FORCE=1, RETRAIN=yes) is on unless empty, 0, no, false or off
on = $(filter-out 0 no false off,$1)
empty :=
space := $(empty) $(empty)
tab := $(empty)	$(empty)
PLAIN := a b c d e f g h i j k l m n o p q r s t u v w x y z A B C D E F G H I J K L M N O P Q R S T U V W X Y Z 0 1 2 3 4 5 6 7 8 9 - _
strip_chars = $(if $2,$(call strip_chars,$(subst $(firstword $2),,$1),$(wordlist 2,$(words $2),$2)),$1)
# not empty when $1 is no plain name: one word, no whitespace, no leading . - _, only PLAIN characters and dots
not_plain = $(or $(filter-out 1,$(words $1)),$(call strip_chars,$(subst .,,$(patsubst .%,/%,$(patsubst -%,/%,$(patsubst _%,/%,$(subst $(space),/,$(subst $(tab),/,$1)))))),$(PLAIN)))
ifneq ($(call not_plain,$(COMP)),)
$(error COMP=$(COMP) is not a competition name (letters, digits, - and _); `make help` lists them)
endif
ifneq ($(call not_plain,$(STEP)),)
$(error STEP=$(STEP) is not a step name (features, train, predict, ...))
endif
ifneq ($(call not_plain,$(RUN)),)
$(error RUN=$(RUN) is not a plain run name: use letters, digits and . _ - (starting with a letter or digit), e.g. RUN=exp1)
endif

PYTHON ?= python3
override PYTHON := $(value PYTHON)
ifneq ($(or $(filter-out 1,$(words $(PYTHON))),$(call strip_chars,$(PYTHON),$(PLAIN) / . + ~)),)
$(error PYTHON=$(PYTHON) is not an interpreter's path (letters, digits and - _ . / + ~ only), e.g. PYTHON=python3.12)
endif
VENV := .venv
# Notebook mode: PY=python3 (a Kaggle notebook, Colab, a cluster image: the packages are installed already) runs
# every step on that interpreter as it is, no venv built; `python -m pipelines.env` first checks its packages
# against pyproject.toml's ranges and names what is missing. Unset: make builds .venv from requirements.txt.
NOTEBOOK := $(filter command line,$(origin PY))
ifneq ($(NOTEBOOK),)
override PY := $(value PY)
ifneq ($(or $(filter-out 1,$(words $(PY))),$(call strip_chars,$(PY),$(PLAIN) / . + ~)),)
$(error PY=$(PY) is not an interpreter's path (letters, digits and - _ . / + ~ only), e.g. PY=python3)
endif
VENV_OK := env-check
else
PY := $(VENV)/bin/python
VENV_OK := $(VENV)/.installed
endif
PKG := $(subst -,_,$(COMP))
export DATA SUBMISSIONS RUN

CFG_ARGS := $(if $(CONFIG),--config=$(call q,$(CONFIG))) $(if $(PRE_ARGS),--args=$(call q,$(PRE_ARGS))) \
	$(if $(ARGS),--args=$(call q,$(ARGS))) $(if $(call on,$(RETRAIN)),--retrain)
OPTS = --data=$(call q,$(DATA)) --run=$(call q,$(RUN))
# Paths may hold spaces (DATA="my data"): recipes quote them, and file targets escape them with `spaced`.
spaced = $(subst $(space),\$(space),$1)
DIR := $(DATA)/$(COMP)
RAW := $(call spaced,$(DIR)/raw/SOURCE.json)
FEATURES_CFG := $(call spaced,$(DIR)/config/features.json)
FEATURES := $(call spaced,$(DIR)/processed/features.json)
# Image competitions are one __init__.py each on top of the shared pipelines/vision package.
# The competition's package: pipelines/PKG, or in a folder of $KAGGLE_COMPETITIONS (your own, outside the repo).
PKG_DIR := $(dir $(firstword $(wildcard $(addsuffix /$(PKG)/__init__.py,pipelines $(subst :, ,$(value KAGGLE_COMPETITIONS))))))
PKG_TEXT := $(if $(PKG_DIR),$(file <$(PKG_DIR)__init__.py))
# Image competitions are packages on pipelines/vision; a card (make new) runs on pipelines/tabular.
SHARED_CODE := $(if $(findstring pipelines.vision,$(PKG_TEXT)),$(wildcard pipelines/vision/*.py)) \
	$(if $(findstring pipelines.tabular,$(PKG_TEXT)),$(wildcard pipelines/tabular/*.py))
FEATURE_CODE := $(wildcard features/*.py $(addprefix $(PKG_DIR),features.py config.py sample.py __init__.py)) $(SHARED_CODE)
# The run's own settings: written when the run is configured, read by every later step of that run.
TRAIN_CFG := $(call spaced,$(DIR)/runs/$(RUN)/settings.json)
TRAINED := $(call spaced,$(DIR)/runs/$(RUN)/result.json)
TRAIN_CODE := $(wildcard models/*.py pipelines/*.py $(PKG_DIR)*.py) $(SHARED_CODE)
SUBMISSION := $(call spaced,$(SUBMISSIONS)/$(COMP)/$(RUN).csv)

.DEFAULT_GOAL := help
.PHONY: help new config venv lock env-check kernel kernel-push oldest-env test-oldest download sample features train lr-find predict submission submit backtest profile runs report tensorboard all demo test test-fast lint bench peers-env autogluon-env clean distclean FORCE

# The competitions, read without Python (make help works before the venv exists): packages whose __init__.py
# exports SPEC, and the cards `make new` writes, here and in $KAGGLE_COMPETITIONS (not the shared kinds).
define nl


endef
CARD_LINE := $(nl)CARD =
INITS := $(wildcard pipelines/*/__init__.py $(addsuffix /*/__init__.py,$(subst :, ,$(value KAGGLE_COMPETITIONS))))
COMPS := $(filter-out tabular vision,$(sort $(foreach f,$(INITS),$(if $(or $(findstring "SPEC",$(file <$f)),$(findstring $(CARD_LINE),$(file <$f))),\
	$(subst _,-,$(notdir $(patsubst %/__init__.py,%,$f)))))))

help: ## list the targets (COMP=rossmann by default; DATA, CONFIG, ARGS, SRC, EXTRA as noted)
	@echo "usage: make TARGET [COMP=rossmann] [ARGS='key=value ...'] [CONFIG=file.toml]"
	@echo $(call q,competitions: $(COMPS) (make new COMP=<slug> [KIND=image] METRIC=<name> adds one))
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | awk -F'\t' '{printf "  %-12s %s\n", $$1, $$2}'

ifeq ($(NOTEBOOK),)
# pip byte-compiles one file at a time; compileall on every core after it: 131/150/131 s -> 124/104/118 s on 2 cores
# (three pairs of fresh installs, AMD EPYC). Its one failure is torch's Python 3.12-only test helper
# (torch/testing/_internal/py312_intrinsics.py), which pip skips too.
$(VENV_OK): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q --no-compile -r requirements.txt
	@$(PY) -m compileall -q -j 0 $(VENV)/lib > /dev/null || true
	@touch $@
else
$(VENV_OK):
	@$(PY) -m pipelines.env
endif

config: | $(VENV_OK) ## every setting of COMP: type, default, valid range or choices, the step it shapes, what it means
	@$(PY) -m pipelines config $(COMP) --keys

venv: $(VENV_OK) ## create .venv with the pinned dependencies (rebuilt when requirements.txt changes); PY=python3: check that one instead

lock: $(VENV_OK) ## write requirements.txt, the full lock, from .venv (after editing pyproject.toml's ranges)
	$(if $(NOTEBOOK),$(error make lock locks .venv, not PY=$(PY)'s packages: run it without PY=))$(PY) -m pipelines.env lock

new: | $(VENV_OK) ## a new competition's card: pipelines/COMP/__init__.py [KIND=tabular|image] METRIC=rmse|smape|auc|...
	$(PY) -m pipelines new $(COMP) --kind=$(call q,$(KIND)) $(if $(METRIC),--metric=$(call q,$(METRIC)))

download: | $(VENV_OK) ## fetch COMP with the Kaggle API, or SRC=archive-or-folder [EXTRA=...] [FORCE=1]
	$(PY) -m pipelines download $(COMP) --data=$(call q,$(DATA)) $(if $(SRC),--src=$(call q,$(SRC))) $(if $(EXTRA),--extra=$(call q,$(EXTRA))) $(if $(call on,$(FORCE)),--force)

$(RAW): | $(VENV_OK)
	$(PY) -m pipelines sample $(COMP) --data=$(call q,$(DATA))

sample: $(RAW) ## put the embedded sample in data/COMP/raw (only when no real data is there)

$(FEATURES_CFG): FORCE | $(VENV_OK)
	@$(PY) -m pipelines config $(COMP) $(OPTS) $(CFG_ARGS)

$(TRAIN_CFG): FORCE | $(VENV_OK)
	@$(PY) -m pipelines config $(COMP) $(OPTS) --run-settings $(CFG_ARGS)

$(FEATURES): $(RAW) $(FEATURES_CFG) $(FEATURE_CODE) | $(VENV_OK)
	$(PY) -m pipelines features $(COMP) $(OPTS) $(CFG_ARGS)

features: $(FEATURES) ## raw -> data/COMP/processed (Feather, procs fit on the rows that train)

# NPROC=N: data-parallel training under torchrun (N processes; gloo on CPU, NCCL on GPUs; the image cards and CIFAR-10
# declare DISTRIBUTED; a tabular card trains in one process: LightGBM, the blend and the refit are not data-parallel).
# The run name reaches the CLI as $RUN: torchrun's own parser would take `--run` for its `--run-path`.
LAUNCH := $(if $(NPROC),$(PY) -m torch.distributed.run --standalone --nproc_per_node=$(call q,$(NPROC)),$(PY))

$(TRAINED): $(TRAIN_CFG) $(FEATURES) $(TRAIN_CODE) | $(VENV_OK)
	$(LAUNCH) -m pipelines train $(COMP) --data=$(call q,$(DATA)) $(CFG_ARGS)

train: $(TRAINED) ## train run RUN (default: default) into data/COMP/runs/RUN (it keeps its settings; RETRAIN=1 replaces them); NPROC=2 torchrun

lr-find: $(FEATURES) | $(VENV_OK) ## lr finder: plot in data/COMP/runs/RUN/lr_find.png and a suggested lr
	$(PY) -m pipelines lr-find $(COMP) $(OPTS) $(CFG_ARGS)

$(SUBMISSION): $(TRAINED) | $(VENV_OK)
	$(eval _PREDICT_RAN := 1)$(PY) -m pipelines predict $(COMP) $(OPTS) $(CFG_ARGS)

# OUT=submission.csv: also copy the submission there (where a Kaggle code competition's notebook must leave it)
define copy_out
$(if $(OUT),cp -- $(call q,$(SUBMISSIONS)/$(COMP)/$(RUN).csv) $(call q,$(OUT).tmp) && mv -f -- $(call q,$(OUT).tmp) $(call q,$(OUT)) && echo $(call q,copied to $(OUT)))
endef

predict: $(SUBMISSION) ## predict the test set: submissions/COMP/RUN.csv, validated against sample_submission.csv [OUT=submission.csv: a copy there]
	@$(copy_out)

submission: $(SUBMISSION) ## same as predict
	@$(copy_out)

submit: | $(VENV_OK) ## send submissions/COMP/RUN.csv as it is to Kaggle (never trains: make all first; needs credentials)
	$(PY) -m pipelines submit $(COMP) $(OPTS) $(CFG_ARGS)

profile: $(FEATURES) | $(VENV_OK) ## where a step's wall time goes (cProfile: imports, the slowest functions) [STEP=predict; train: a new RUN]
	$(PY) -m pipelines.profile $(call q,$(STEP)) $(COMP) $(OPTS) $(CFG_ARGS) --out=$(call q,$(DIR)/runs/$(RUN)/profile-$(STEP).prof)

runs: | $(VENV_OK) ## one table of every run on disk, best first per competition (also data/runs.csv) [COMP=...]
	$(PY) -m pipelines.tracking runs --data=$(call q,$(DATA)) $(if $(COMP_GIVEN),--comp $(COMP))

report: | $(VENV_OK) ## a self-contained HTML page for run RUN of COMP (runs/RUN/report.html) and data/index.html
	$(PY) -m pipelines.tracking report $(COMP) $(call q,$(RUN)) --data=$(call q,$(DATA))

tensorboard: | $(VENV_OK) ## serve the runs' TensorBoard logs on localhost [COMP=... for one competition]
	@echo "TensorBoard: http://localhost:$(TB_PORT)/ (Ctrl-C stops it)"
	$(PY) -m tensorboard.main --logdir $(call q,$(if $(COMP_GIVEN),$(DIR),$(DATA))) --host localhost --port $(call q,$(TB_PORT))

backtest: $(RAW) | $(VENV_OK) ## score run RUN's chain (its settings; default ones for a new RUN) on labelled data cut off as a pseudo-test set [WINDOWS=cut0,cut1; tabular cards to cut5]
	$(PY) -m pipelines backtest $(COMP) $(OPTS) $(if $(WINDOWS),--windows=$(call q,$(WINDOWS))) $(CFG_ARGS)

all: $(SUBMISSION) ## the whole chain: download-or-sample, features, train, predict (never submits) [OUT=...]
	@$(if $(_PREDICT_RAN),,echo $(call q,up to date: $(SUBMISSIONS)/$(COMP)/$(RUN).csv (nothing to redo; make runs lists its run's figures)))
	@$(copy_out)

demo: ## the whole Rossmann chain on the embedded sample, in data/demo/ and submissions/demo/
	$(MAKE) --no-print-directory all COMP=rossmann DATA=data/demo SUBMISSIONS=submissions/demo RUN=demo ARGS=$(call q,$(ARGS))
	@echo "demo: RMSPE on the 48-day holdout $$($(PY) -c 'import json; print(json.load(open("data/demo/rossmann/runs/demo/result.json"))["oof_rmspe"])'), submission submissions/demo/rossmann/demo.csv"

test: $(VENV_OK) ## run the test suite (unit, end-to-end on the sample, real-data checks if ../shared/data exists); TEST_JOBS=0 serial
	$(PY) -m pytest -n $(call q,$(TEST_JOBS)) --dist worksteal

test-fast: $(VENV_OK) ## the tests without the slow end-to-end ones
	$(PY) -m pytest -m "not slow"

# A Kaggle kernel of the chain (pipelines/kernel.py): the project + wheels as a dataset, a script, their metadata.
kernel: | $(VENV_OK) ## write data/COMP/kernel/{dataset,kernel}: the chain as a Kaggle kernel, KAGGLE_USER=you [GPU=1] [ARGS=...]
	$(PY) -m pipelines.kernel $(COMP) --data=$(call q,$(DATA)) --user=$(call q,$(KAGGLE_USER)) $(if $(call on,$(GPU)),--gpu) $(if $(ARGS),--args=$(call q,$(ARGS)))

kernel-push: kernel ## upload the project dataset (a new version when it exists) and push the kernel (needs credentials)
	$(PY) -m pipelines.kernel $(COMP) --data=$(call q,$(DATA)) --user=$(call q,$(KAGGLE_USER)) --push

# The oldest versions pyproject.toml claims (requirements-oldest.txt, without their own dependencies: the rest,
# torch included, comes from .venv through a .pth file), and the notebook-mode chain test run on them. Compiled on
# every core after pip, as .venv is: 52 -> 36 s on 2 AMD EPYC cores.
oldest-env: $(VENV_OK) ## .venv-oldest: the direct dependencies at their oldest supported versions
	@test -x .venv-oldest/bin/python || $(PYTHON) -m venv .venv-oldest
	.venv-oldest/bin/python -m pip install --disable-pip-version-check -q --no-deps --no-compile -r requirements-oldest.txt
	@.venv-oldest/bin/python -m compileall -q -j 0 .venv-oldest/lib > /dev/null || true
	$(PY) -c "import sysconfig; print(sysconfig.get_paths()['purelib'])" > "$$(.venv-oldest/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/project-venv.pth"

test-oldest: oldest-env ## the Kaggle-notebook chain test (read-only input, PY=, no venv) on the oldest versions
	CHAIN_PY=.venv-oldest/bin/python $(PY) -m pytest -p no:xdist tests/test_notebook.py

lint: $(VENV_OK) ## ruff check + format check
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

bench: $(VENV_OK) ## benchmarks on the real data in ../shared/data or SHARED_DATA (skips what is absent) [PARTS=...] [WINDOWS=... tabular cards]
	$(PY) -m pipelines.bench $(COMP) $(if $(PARTS),--parts=$(call q,$(PARTS))) $(if $(WINDOWS),--windows=$(call q,$(WINDOWS)))

# Bench-only: fastai beside ours (never a dependency of the project). Shares .venv's packages through a .pth file.
autogluon-env: ## .venv-autogluon: AutoGluon-Tabular 1.6.3, its own venv (pandas 2), for `make bench` of a tabular card
	@test -x .venv-autogluon/bin/python || $(PYTHON) -m venv .venv-autogluon
	.venv-autogluon/bin/python -m pip install --disable-pip-version-check -q "autogluon.tabular[lightgbm,catboost,xgboost]==1.6.3"

peers-env: $(VENV_OK) ## .venv-peers: fastai 2.8.12 for `make bench COMP=rossmann PARTS=peers`
	@test -x .venv-peers/bin/python || $(PYTHON) -m venv .venv-peers
	$(PY) -c "import sysconfig; print(sysconfig.get_paths()['purelib'])" > "$$(.venv-peers/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/project-venv.pth"
	.venv-peers/bin/python -m pip install --disable-pip-version-check -q fastai==2.8.12

clean: ## delete COMP's derived data (interim, processed, config); raw downloads and runs stay
	rm -rf $(call q,$(DIR)/interim) $(call q,$(DIR)/processed) $(call q,$(DIR)/config)

distclean: ## also delete the venv and the demo data
	rm -rf $(VENV) .venv-peers .venv-autogluon .venv-oldest data/demo submissions/demo
