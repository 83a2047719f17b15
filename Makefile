# cxo — every workflow is a make target. `make help` lists them.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
TARGET  ?= .
ISSUE   ?=
PORT    ?= 8765
HUBDATA ?= .hub-data
PYTEST_ARGS ?=

.PHONY: help install test lint setup status health run daemon hub demo demo-tree bench soak codex agents clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 12

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python  ## create .venv and install cxo editable with test extras
	$(BIN)/python -m pip install --quiet -e '.[test]'

test: install  ## run the test suite (fails when no test ran)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

soak: install  ## the operation state machine at length (SOAK_EXAMPLES=, SOAK_STEPS=): cycles, requests, violations
	CXO_SOAK_EXAMPLES=$(or $(SOAK_EXAMPLES),40) CXO_SOAK_STEPS=$(or $(SOAK_STEPS),25) \
	  $(BIN)/python -m pytest -q -s -p no:cacheprovider tests/operation

lint: install  ## ruff; mypy on the rooms with protocols (pyproject.toml [tool.mypy])
	$(BIN)/ruff check lib tests bench
	$(BIN)/mypy

setup:  ## write .codex-orchestrator/ policy and prompts in TARGET (add ARGS=--prepare-labels)
	$(BIN)/cxo-setup --target $(TARGET) $(ARGS)

status:  ## eligible and skipped issues of TARGET (read-only)
	$(BIN)/cxo-status --target $(TARGET) $(ARGS)

health:  ## check git, agent CLI, token, API, labels, policy
	$(BIN)/cxo-health --target $(TARGET) $(ARGS)

run:  ## run one issue end to end: make run ISSUE=123
	@test -n "$(ISSUE)" || { echo "make run: set ISSUE=<number>" >&2; exit 2; }
	$(BIN)/cxo-run --target $(TARGET) --issue $(ISSUE) $(ARGS)

daemon:  ## poll for eligible issues (ARGS=--once)
	$(BIN)/cxo-daemon --target $(TARGET) $(ARGS)

hub:  ## serve the embedded GitHub-compatible hub on 127.0.0.1:PORT
	$(BIN)/cxo-hub serve --host 127.0.0.1 --port $(PORT) --data $(HUBDATA)

demo: install  ## offline end-to-end demo: hub + sample repo + agent:auto issue -> draft PR
	$(BIN)/python -m cxo.demo $(ARGS)

demo-tree: install  ## the agent:plan-auto part: a parent planned into children, one integration draft PR
	$(BIN)/python -m cxo.demo --tree --dir .demo-tree $(ARGS)

bench: install  ## benchmarks: cold start, requests per operation, orchestration overhead
	$(BIN)/python bench/run.py $(ARGS)

codex:  ## install the pinned Codex CLI and actionlint into .tools/ (used by the real-Codex and workflow tests)
	bash scripts/install-codex.sh
	bash scripts/install-actionlint.sh

agents:  ## install the pinned agent CLIs into .tools/: Codex, Claude Code, Gemini (the real-agent tests use them)
	bash scripts/install-agents.sh

clean:  ## remove caches (keeps .venv)
	rm -rf .pytest_cache .ruff_cache .bench .demo .demo-tree
