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

.PHONY: run install test lint parity parity-25 system-packages clean

# The web UI on http://localhost:7860 (PORT=… to change); the demo checkpoint when checkpoints/ has no weights.
PORT ?= 7860
run: $(VENV)/.installed-run
	@$(PY) webui.py --port $(PORT)

# Only the set-up of `make run` (a service installs once, then systemd starts the node).
install: $(VENV)/.installed-run

# Two passes: IndexTTS-2 (every test), then IndexTTS-2.5 (the tests that touch a model; see README, Development).
test: $(VENV)/.installed-test system-packages
	@$(PY) -m ruff check .
	@$(PY) -m pytest --layout 2 --durations=15
	@$(PY) -m pytest --layout 2.5 --durations=15

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

# The same for IndexTTS-2.5 against the official repository's infer_v2_5.py (see parity/README.md):
# ~4 GB venv (torch shared with .venv); `make parity-25 PARITY25_SIZE=full` for published sizes.
PARITY25_SIZE ?= tiny
PARITY25_CKPT := checkpoint-$(PARITY25_SIZE)-2.5
parity-25: $(VENV)/.installed-run
	@bash parity/setup_reference_25.sh
	@$(PY) -m indextts make-checkpoint $(PARITY25_SIZE)-2.5 $(PARITY_DIR)/$(PARITY25_CKPT)
	@cd $(PARITY_DIR) && venv-2.5/bin/python ../parity/reference_dump_25.py --model-dir $(PARITY25_CKPT) \
		--cases ../parity/cases_25.json --out ref-2.5.pt
	@$(PY) parity/compare_25.py --model-dir $(PARITY_DIR)/$(PARITY25_CKPT) --cases parity/cases_25.json \
		--ref $(PARITY_DIR)/ref-2.5.pt

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
