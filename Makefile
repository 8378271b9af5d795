# Two commands do all the set-up (see README): `make run` and `make test`.
# Each creates .venv and installs what is missing; a second run installs nothing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
# IndexTTS-2.5's Spanish normaliser: its pynini pin clashes with WeTextProcessing's, so it comes
# without dependencies (pyproject.toml lists the others); Linux only, like pynini.
NEMO := if [ "$$(uname -s)" = Linux ]; then $(PIP) --no-deps 'nemo-text-processing==1.2.0'; fi
# Commands the tests use, as command=debian-package.
TEST_SYSTEM_PACKAGES := ffmpeg=ffmpeg sox=sox espeak-ng=espeak-ng chromium=chromium redis-server=redis-server \
	systemd-analyze=systemd

.PHONY: run install test lint parity system-packages clean

# The web UI on http://localhost:7860 (PORT=… to change); the demo checkpoint when checkpoints/ has no weights.
PORT ?= 7860
run: $(VENV)/.installed-run
	@$(PY) webui.py --port $(PORT)

# Only the set-up of `make run` (a service installs once, then systemd starts the node).
install: $(VENV)/.installed-run

test: $(VENV)/.installed-test system-packages
	@$(PY) -m ruff check .
	@$(PY) -m pytest

lint: $(VENV)/.installed-test
	@$(PY) -m ruff check .
	@$(PY) -m ruff format --check .

# Opt-in numerical parity with the official implementation (see parity/README.md): ~15 GB disk,
# ~9 GB RAM, tens of minutes on a CPU. Not part of `make test`.
PARITY_DIR := .parity
parity: $(VENV)/.installed-run
	@bash parity/setup_reference.sh
	@$(PY) -m indextts make-checkpoint full $(PARITY_DIR)/checkpoint-full
	@cd $(PARITY_DIR) && venv/bin/python ../parity/reference_dump.py --model-dir checkpoint-full \
		--cases ../parity/cases.json --out ref.pt
	@$(PY) parity/compare.py --model-dir $(PARITY_DIR)/checkpoint-full --cases parity/cases.json --ref $(PARITY_DIR)/ref.pt

system-packages:
	@scripts/ensure-system-packages.sh $(TEST_SYSTEM_PACKAGES)

$(PY):
	@echo "Creating $(VENV) with $$($(PYTHON) --version)"
	@$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml | $(PY)
	@echo "Installing IndexTTS Node into $(VENV) (first time: a few GB for torch)…"
	@$(PIP) -e '.[webui]'
	@$(NEMO)
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	@echo "Installing IndexTTS Node and test tools into $(VENV) (first time: a few GB for torch)…"
	@$(PIP) -e '.[dev]'
	@$(NEMO)
	@touch $@ $(VENV)/.installed-run

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
