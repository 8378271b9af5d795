# Two commands do all the set-up (see README): `make run` and `make test`.
# Each creates .venv and installs what is missing; a second run installs nothing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
# Commands the tests use, as command=debian-package.
TEST_SYSTEM_PACKAGES := ffmpeg=ffmpeg sox=sox espeak-ng=espeak-ng

.PHONY: run test lint system-packages clean

run: $(VENV)/.installed-run
	@$(PY) -m indextts frontend --prompt examples/voice_09.wav

test: $(VENV)/.installed-test system-packages
	@$(PY) -m ruff check .
	@$(PY) -m pytest

lint: $(VENV)/.installed-test
	@$(PY) -m ruff check .
	@$(PY) -m ruff format --check .

system-packages:
	@scripts/ensure-system-packages.sh $(TEST_SYSTEM_PACKAGES)

$(PY):
	@echo "Creating $(VENV) with $$($(PYTHON) --version)"
	@$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml | $(PY)
	@echo "Installing IndexTTS Node into $(VENV) (first time: a few GB for torch)…"
	@$(PIP) -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	@echo "Installing IndexTTS Node and test tools into $(VENV) (first time: a few GB for torch)…"
	@$(PIP) -e '.[dev]'
	@touch $@ $(VENV)/.installed-run

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
