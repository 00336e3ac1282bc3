# The facet-joint clinic assistant. `make run` and `make test` work from a fresh clone:
# they install what is missing and train only when the training inputs changed.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_VERSION := 3.10
VENV := .venv
PY := $(VENV)/bin/python
RASA := $(PY) -m rasa
SETUP_STAMP := $(VENV)/.setup-done
SPACY_MODEL := build/spacy/en_facet_clinic/meta.json
MODEL := models/facet-assistant.tar.gz
WIDGET_BUNDLE := widget/dist/clinic-chat.js
WIDGET_SOURCES := widget/package.json widget/package-lock.json widget/vite.config.js $(shell find widget/src -type f 2>/dev/null)
TRAINING_INPUTS := config.yml domain.yml $(wildcard data/*.yml) $(wildcard bot/nlu/*.py) bot/nlu/red_flags.yml $(wildcard bot/*_policy.py) $(SPACY_MODEL)
export PYTHONPATH := $(CURDIR)
# Quieter TensorFlow; no usage telemetry from Rasa.
export TF_CPP_MIN_LOG_LEVEL := 2
export RASA_TELEMETRY_ENABLED := false

.PHONY: help setup widget train run shell cluster cluster-stop test test-fast lint eval crossval profile bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 12

setup: $(SETUP_STAMP) $(SPACY_MODEL) widget ## create .venv (Python 3.10), install pinned packages, build the spaCy pipeline and the chat widget

$(SETUP_STAMP): requirements.txt requirements.lock
	@command -v python$(PYTHON_VERSION) >/dev/null || { echo "python$(PYTHON_VERSION) is needed (see .python-version)"; exit 1; }
	test -x $(PY) || python$(PYTHON_VERSION) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==24.0"
	$(PY) -m pip install --quiet -r requirements.txt -c requirements.lock
	touch $@

$(SPACY_MODEL): $(SETUP_STAMP) bot/nlu/spacy_pipeline.py bot/nlu/red_flags.yml bot/nlu/red_flag_rules.py bot/nlu/word_normal.py
	$(PY) -m bot.nlu.spacy_pipeline

# The widget needs Node.js; without it the bot still runs (REST, SMS) and / says how to build it.
widget: ## build the website chat widget (npm ci + vite) when Node.js is installed
	@if command -v npm >/dev/null; then $(MAKE) --no-print-directory $(WIDGET_BUNDLE); \
	else echo "Node.js/npm not found: the chat widget is not built (the bot works without it)."; \
	  if [ -n "$$CI" ]; then exit 1; fi; fi

$(WIDGET_BUNDLE): $(WIDGET_SOURCES)
	cd widget && npm ci --no-audit --no-fund --loglevel=error && npm run build

train: $(MODEL) ## train the model (only when data, config or domain changed)

$(MODEL): $(SETUP_STAMP) $(TRAINING_INPUTS)
	$(RASA) train --fixed-model-name facet-assistant --out models

run: setup train ## start the action server and the Rasa server (Ctrl-C stops both)
	$(PY) -m bot run

cluster: setup train ## production topology here: haproxy, 2 Rasa replicas, PostgreSQL, Redis, model server (README, Production)
	bash scripts/local_services.sh
	$(PY) -m bot cluster start

cluster-stop: ## stop what `make cluster` started
	$(PY) -m bot cluster stop

shell: setup train ## chat with the bot in the terminal
	$(PY) -m bot shell

test: setup train ## everything CI checks: data validation, conversation tests, pytest
	$(RASA) data validate --fail-on-warnings
	@if command -v npm >/dev/null; then cd widget && npm test; else echo "No npm: widget unit tests skipped"; fi
	$(RASA) test core --model $(MODEL) --stories tests/test_stories.yml --fail-on-prediction-errors --out var/results/core
	$(PY) -m pytest

lint: setup ## ruff lint and format check
	$(PY) -m ruff check bot actions tests scripts
	$(PY) -m ruff format --check bot actions tests scripts

eval: setup train ## NLU report: held-out and blind sets (+ rasa's per-intent report in var/results/heldout)
	$(PY) scripts/evaluate.py --misses
	$(RASA) test nlu --model $(MODEL) --nlu tests/nlu_heldout.yml --out var/results/heldout

crossval: setup ## 5-fold cross-validation of the pipelines compared in docs/decisions.md
	$(PY) scripts/crossval.py

profile: setup train ## where the Rasa server's time goes under load (py-spy) -> docs/performance.md
	$(PY) scripts/profile_server.py

bench: setup train ## latency, throughput, memory, training and start-up time -> docs/performance.md
	$(PY) scripts/bench.py
	$(PY) scripts/bench_red_flags.py

clean: ## remove models, build outputs and results (keeps .venv and var/tracker.db)
	rm -rf models build var/results
