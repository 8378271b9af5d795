#!/usr/bin/env bash
# Run HERE (with network to PyPI), before the GPU run: puts into .whl/ (git-ignored) every package
# bench/gpu_report.sh needs beyond what the bare GPU machine has (Python 3.12, torch 2.11,
# torchaudio 2.11, transformers 5.17, numpy, scipy, pyyaml, sentencepiece, safetensors,
# huggingface_hub), plus the librosa stand-in's mel tables, and checks that the working tree that
# travels (tracked + untracked-not-ignored files + .whl/) stays within 64 MiB.
#
#   bash bench/prepare_gpu_report.sh          # PYTHON=... to choose the interpreter (needs pip and librosa)
#
# .whl/official/ holds the OFFICIAL implementation for the side-by-side rows: the PyPI repackaging
# of its code that parity/ also runs (indextts2-inference 2.1.1, pure Python) and the small
# packages its inference path needs (omegaconf + antlr4 runtime, munch, einops, accelerate +
# psutil). gpu_report.sh installs them into a folder of their own: the package's import name is
# `indextts`, like ours.
#
# Left out on purpose: librosa (numba + llvmlite alone are 64 MB: the stand-in in bench/standins/
# replaces its calls with identical numbers, librosa.load included) and the text normalisers
# (WeTextProcessing and nemo-text-processing need pynini, 166 MB: the report feeds text whose
# grammar step is the identity, through bench/standins/official/ on the official side).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO"
PY="${PYTHON:-$REPO/.venv/bin/python}"
WHEELS="$REPO/.whl"
mkdir -p "$WHEELS"
rm -f "$WHEELS"/*.whl
# Pinned: one version of each, matching what the test suite runs on.
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any -d "$WHEELS" \
    soundfile==0.14.0 cffi==2.1.1 pycparser==3.12 soxr==1.1.0 \
    pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
mkdir -p "$WHEELS/official"
rm -f "$WHEELS"/official/*.whl
# accelerate: its Qwen emotion model loads with device_map="auto", which transformers refuses without it.
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform any -d "$WHEELS/official" \
    indextts2-inference==2.1.1 omegaconf==2.3.0 munch==4.0.0 einops==0.8.2 accelerate==1.12.0 psutil==7.2.2
# omegaconf's parser runtime is published as a source archive only: built here into a pure wheel.
"$PY" -m pip wheel -q --no-deps -w "$WHEELS/official" antlr4-python3-runtime==4.9.3
"$PY" bench/librosa_tables.py "$WHEELS/librosa_tables.npz"
tracked=$(git ls-files -z --cached --others --exclude-standard | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
wheels=$(du -cb "$WHEELS" | tail -1 | cut -f1)
total=$((tracked + wheels))
echo "working tree $((tracked / 1024)) KiB + .whl $((wheels / 1024)) KiB = $((total / 1024 / 1024)) MiB of 64 MiB"
if [ "$total" -gt $((64 * 1024 * 1024)) ]; then
    echo "over the 64 MiB a device machine can carry" >&2
    exit 1
fi
