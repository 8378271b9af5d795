#!/usr/bin/env bash
# Creates the isolated venv of the REFERENCE side of the parity tooling: the third-party PyPI
# repackaging of the official IndexTTS2 code (`indextts2-inference`), with the versions of its
# own lock (newer transformers breaks its decode step). Idempotent: a second run installs nothing.
#
#   bash parity/setup_reference.sh          # -> .parity/venv (repo-root relative), ~8 GB
#
# The reference package's top-level import name is `indextts`, like ours: never install it into
# .venv, and never run it with the repo root on sys.path (see parity/reference_dump.py).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.parity/venv"
PYTHON="${PARITY_PYTHON:-python3}"

# One line per requirement; the marker below records exactly this list.
PINS=(
  "indextts2-inference==2.1.1"
  "torch==2.9.1"
  "torchaudio==2.9.1"
  "transformers==5.2.0"
  "huggingface-hub==1.4.1"
  "tokenizers==0.22.2"
  "accelerate==1.12.0"
  "safetensors==0.7.0"
  "nemo-text-processing==1.1.0"
)
PIN_TEXT="$(printf '%s\n' "${PINS[@]}")"
MARKER="$VENV/.parity-installed"

if [[ -f "$MARKER" ]] && [[ "$(cat "$MARKER")" == "$PIN_TEXT" ]] && [[ -x "$VENV/bin/python" ]]; then
  echo "parity: $VENV is up to date (indextts2-inference 2.1.1 and pins already installed); nothing to do."
  exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "parity: creating $VENV with $("$PYTHON" --version 2>&1)"
  mkdir -p "$ROOT/.parity"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
else
  echo "parity: reusing $VENV (pins changed or last install incomplete)"
fi

echo "parity: pip installing (first time: ~8 GB, several minutes):"
printf '  %s\n' "${PINS[@]}"
# The machine-wide constraint file may cap torch; our pins are below any such cap. pip's notes
# about local index folders that lack a package are noise: filtered out.
"$VENV/bin/python" -m pip install --quiet "${PINS[@]}" 2>&1 | { grep -v "^WARNING: Location '.*' is ignored" || true; }

# Fail here, not later, when the wrong `indextts` would be imported or the pins did not hold.
(cd "$ROOT/.parity" && "$VENV/bin/python" - <<'PY'
import importlib.metadata as md
import indextts, transformers, torch
assert "site-packages" in indextts.__file__, indextts.__file__
for name, want in [("indextts2-inference", "2.1.1"), ("transformers", "5.2.0"), ("torch", "2.9.1")]:
    got = md.version(name)
    assert got.split("+")[0] == want, (name, got, want)
print(f"parity: reference package at {indextts.__file__}; torch {torch.__version__}, transformers {transformers.__version__}")
PY
)

printf '%s' "$PIN_TEXT" > "$MARKER"
echo "parity: done; run the dump with: cd .parity && venv/bin/python ../parity/reference_dump.py --help"
