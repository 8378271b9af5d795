#!/usr/bin/env bash
# ONE command for every GPU figure, on a bare GPU machine with no network (run
# bench/prepare_gpu_report.sh here first; it fills .whl/):
#
#   bash bench/gpu_report.sh --out "$OUT"                           # CUDA, full-size checkpoint
#   PYTHON=/work/venv312/bin/python bash bench/gpu_report.sh --device cpu --size tiny --out /tmp/r   # proof
#
# Installs .whl/ into a private folder and .whl/official/ (the official implementation) into
# another, which only the official child process sees (its package is also named `indextts`), puts
# the librosa stand-in on the path when librosa is missing, and runs bench/gpu_report.py with the
# arguments given (see its --help). Writes report.md and report.json into --out.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-python3}"
SITE="${INDEXTTS_REPORT_SITE:-/tmp/indextts-report-site}"
if compgen -G "$REPO/.whl/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$REPO"/.whl/*.whl
    export PYTHONPATH="$SITE:$REPO${PYTHONPATH:+:$PYTHONPATH}"
else
    export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
fi
OFFICIAL_SITE="${INDEXTTS_OFFICIAL_SITE:-/tmp/indextts-report-official}"
if compgen -G "$REPO/.whl/official/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$OFFICIAL_SITE" \
        "$REPO"/.whl/official/*.whl
    export INDEXTTS_OFFICIAL_SITE="$OFFICIAL_SITE"
fi
export INDEXTTS_REPORT_SITE="$SITE"
if ! "$PY" -c "import librosa" 2>/dev/null; then
    export PYTHONPATH="$PYTHONPATH:$REPO/bench/standins"
    export INDEXTTS_LIBROSA_TABLES="$REPO/.whl/librosa_tables.npz"
    echo "librosa is not installed: using bench/standins/librosa (identical numbers, checked when prepared)" >&2
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
exec "$PY" "$REPO/bench/gpu_report.py" "$@"
