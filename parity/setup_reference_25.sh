#!/usr/bin/env bash
# Creates the REFERENCE side of the IndexTTS-2.5 parity tooling: the official repository's own
# `indextts/` package at a pinned commit, and an isolated venv with the libraries it imports.
# Idempotent: a second run with the same commit and pins installs nothing.
#
#   bash parity/setup_reference_25.sh
#     -> .parity/official-2.5/indextts/   the official code (git archive of OFFICIAL_COMMIT)
#     -> .parity/venv-2.5/                its libraries (transformers 4.52.1 etc., the official pins)
#
# Why the official files and not the PyPI `indextts25-inference`: that package carries its own
# bug fixes (e.g. how text ids 0/1 are handled), and the issue makes the official code the
# reference. Running the files themselves needs no patching back and keeps every hook target
# (`indextts.infer_v2_5.IndexTTS2`, `indextts.gpt.model_v2.UnifiedVoice`) at its upstream name.
#
# Where the official files come from, first found wins:
#   OFFICIAL_GIT=/path/to/index-tts.git   a local clone or bare mirror that holds OFFICIAL_COMMIT
#   otherwise: git clone https://github.com/index-tts/index-tts into .parity/index-tts.git
#
# torch: the venv does not get its own copy. It shares the torch + torchaudio build of the
# project's `.venv` (the one compare.py runs on), through a folder of symlinks on a .pth path,
# so both sides of the comparison run the same kernels and no second ~4 GB torch lands on disk.
# PARITY_TORCH_SITE=/path/to/site-packages shares another venv's torch instead (e.g. the 2.0
# reference venv .parity/venv/lib/python3.11/site-packages).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PARITY="$ROOT/.parity"
VENV="$PARITY/venv-2.5"
OFFICIAL="$PARITY/official-2.5"
PYTHON="${PARITY_PYTHON:-python3}"
OFFICIAL_COMMIT="ee40fa7d6c6b8a2c7f06105f9f1e65775b74868c"
OFFICIAL_URL="https://github.com/index-tts/index-tts"

# The official pyproject's pins where it has them; the libraries its 2.5 path imports but does not
# declare (tiktoken, nemo-text-processing) pinned here. Torch is shared, see above.
PINS=(
  "transformers==4.52.1"
  "tokenizers==0.21.0"
  "accelerate==1.8.1"
  "safetensors==0.5.2"
  "huggingface-hub==0.36.0"
  "numpy==2.2.6"
  "librosa==0.10.2.post1"
  "numba==0.63.0"
  "omegaconf==2.3.0"
  "einops==0.8.1"
  "munch==4.0.0"
  "json5==0.10.0"
  "sentencepiece==0.2.1"
  "descript-audiotools==0.7.2"
  "modelscope==1.27.0"
  "openai-whisper==20250625"
  "tiktoken==0.14.0"
  "nemo-text-processing==1.1.0"
  "fugashi==1.5.2"
  "unidic-lite==1.0.8"
  "cn2an==0.5.22"
  "jieba==0.42.1"
  "pyyaml"
  "scipy"
)
# WeTextProcessing 1.0.4.1 (zh/en, the version our own front end uses) pins pynini==2.1.6 while
# nemo-text-processing 1.1.0 pins pynini==2.1.6.post1 (a packaging re-release of the same code):
# pip refuses both at once, so WeTextProcessing goes in afterwards without its pin.
NO_DEPS=("WeTextProcessing==1.0.4.1" "importlib-resources")
PIN_TEXT="$(printf '%s\n' "commit=$OFFICIAL_COMMIT" "${PINS[@]}" "${NO_DEPS[@]}")"
MARKER="$VENV/.parity-installed"

if [[ -f "$MARKER" ]] && [[ "$(cat "$MARKER")" == "$PIN_TEXT" ]] && [[ -x "$VENV/bin/python" ]] \
  && [[ -f "$OFFICIAL/COMMIT" ]] && [[ "$(cat "$OFFICIAL/COMMIT")" == "$OFFICIAL_COMMIT" ]]; then
  echo "parity-2.5: $VENV and $OFFICIAL are up to date (official $OFFICIAL_COMMIT); nothing to do."
  exit 0
fi

avail_gb=$(df -Pk "$ROOT" | awk 'NR==2 {print int($4 / 1048576)}')
if (( avail_gb < 6 )); then
  echo "parity-2.5: only ${avail_gb} GB free under $ROOT; the venv needs ~4 GB (torch shared)" >&2
  exit 1
fi
mkdir -p "$PARITY"

# 1. The official code at the pinned commit (only indextts/, read-only reference, never edited).
if [[ ! -f "$OFFICIAL/COMMIT" ]] || [[ "$(cat "$OFFICIAL/COMMIT")" != "$OFFICIAL_COMMIT" ]]; then
  GIT_DIR_SRC="${OFFICIAL_GIT:-}"
  if [[ -z "$GIT_DIR_SRC" ]]; then
    GIT_DIR_SRC="$PARITY/index-tts.git"
    if [[ ! -d "$GIT_DIR_SRC" ]]; then
      echo "parity-2.5: cloning $OFFICIAL_URL (bare) into $GIT_DIR_SRC"
      git clone --bare --filter=blob:none "$OFFICIAL_URL" "$GIT_DIR_SRC"
    fi
  fi
  if ! git --git-dir="$GIT_DIR_SRC" cat-file -e "$OFFICIAL_COMMIT^{commit}" 2>/dev/null; then
    echo "parity-2.5: $GIT_DIR_SRC does not hold commit $OFFICIAL_COMMIT" >&2
    exit 1
  fi
  rm -rf "$OFFICIAL.tmp"
  mkdir -p "$OFFICIAL.tmp"
  # File by file rather than `git archive`: a mirror may lack a few large blobs the 2.5 path never
  # reads (e.g. a facodec .t7 file); those are listed in MISSING_BLOBS instead of failing.
  git --git-dir="$GIT_DIR_SRC" ls-tree -r "$OFFICIAL_COMMIT" indextts LICENSE |
    while read -r _mode _type blob path; do
      mkdir -p "$OFFICIAL.tmp/$(dirname "$path")"
      if ! git --git-dir="$GIT_DIR_SRC" cat-file blob "$blob" > "$OFFICIAL.tmp/$path" 2>/dev/null; then
        rm -f "$OFFICIAL.tmp/$path"
        echo "$path" >> "$OFFICIAL.tmp/MISSING_BLOBS"
      fi
    done
  if [[ -f "$OFFICIAL.tmp/MISSING_BLOBS" ]]; then
    echo "parity-2.5: blobs absent from $GIT_DIR_SRC (not on the 2.5 path):"
    sed 's/^/  /' "$OFFICIAL.tmp/MISSING_BLOBS"
  fi
  echo "$OFFICIAL_COMMIT" > "$OFFICIAL.tmp/COMMIT"
  rm -rf "$OFFICIAL"
  mv "$OFFICIAL.tmp" "$OFFICIAL"
  echo "parity-2.5: official indextts/ at $OFFICIAL_COMMIT in $OFFICIAL"
fi

# 2. The venv, with torch shared from another venv's site-packages.
TORCH_SITE="${PARITY_TORCH_SITE:-}"
if [[ -z "$TORCH_SITE" ]]; then
  TORCH_SITE="$(cd "$ROOT" && .venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
fi
if [[ ! -d "$TORCH_SITE/torch" ]] || [[ ! -d "$TORCH_SITE/torchaudio" ]]; then
  echo "parity-2.5: no torch + torchaudio under $TORCH_SITE (set PARITY_TORCH_SITE)" >&2
  exit 1
fi
if [[ ! -x "$VENV/bin/python" ]]; then
  echo "parity-2.5: creating $VENV with $("$PYTHON" --version 2>&1)"
  "$PYTHON" -m venv "$VENV"
fi
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
SHARED="$VENV/shared-torch"
rm -rf "$SHARED"
mkdir -p "$SHARED"
# torch, its CUDA runtime wheels and its pure-Python dependencies, with their dist-info (so pip
# counts them as installed and does not fetch another torch for openai-whisper / accelerate).
shopt -s nullglob
for entry in "$TORCH_SITE"/{torch,torchaudio,torchgen,functorch,triton,nvidia,cuda,sympy,mpmath,networkx}{,-*.dist-info} \
  "$TORCH_SITE"/{nvidia_,cuda_}*.dist-info; do
  ln -s "$entry" "$SHARED/$(basename "$entry")"
done
shopt -u nullglob
echo "$SHARED" > "$SITE/parity-shared-torch.pth"

echo "parity-2.5: pip installing into $VENV (first time: ~3 GB, several minutes):"
printf '  %s\n' "${PINS[@]}"
"$VENV/bin/python" -m pip install --quiet "${PINS[@]}" 2>&1 | { grep -v "^WARNING: Location '.*' is ignored" || true; }
"$VENV/bin/python" -m pip install --quiet --no-deps "${NO_DEPS[@]}" 2>&1 | { grep -v "^WARNING: Location '.*' is ignored" || true; }

# 3. Fail here, not later: the official module must import from .parity/official-2.5 with the pins.
(cd "$PARITY" && PYTHONPATH="$OFFICIAL" "$VENV/bin/python" - "$OFFICIAL" <<'PY'
import importlib.metadata as md
import sys
from pathlib import Path

import torch, transformers
import indextts.infer_v2_5 as official

want = Path(sys.argv[1]).resolve()
assert want in Path(official.__file__).resolve().parents, official.__file__
assert md.version("transformers") == "4.52.1", md.version("transformers")
print(f"parity-2.5: official code at {official.__file__}; torch {torch.__version__} "
      f"({torch.__file__}), transformers {transformers.__version__}")
PY
)

printf '%s' "$PIN_TEXT" > "$MARKER"
echo "parity-2.5: done; see parity/README.md (IndexTTS-2.5) for the dump and the comparison"
