#!/usr/bin/env bash
# Start an IndexTTS node in websocket mode: the web UI on :7860 plus the space client that takes
# jobs from a central spaces site. Used by deploy/systemd/indextts{,@}.service; fine by hand too.
#
#   ./start_indextts_websocket.sh [extra webui.py flags…]
#
# Settings, strongest first: flags given here > variables already in the environment > the env
# file ($INDEXTTS_ENV_FILE, default ./indextts.env; see deploy/indextts.env.example). Every
# webui.py flag has an INDEXTTS_* twin, e.g. INDEXTTS_PORT, INDEXTTS_MODEL_DIR, INDEXTTS_FP16.
#
# One node per GPU (indextts@N sets INDEXTTS_INSTANCE=N): between the environment and the shared
# env file come, strongest first, the instance's own file ($INDEXTTS_INSTANCE_ENV_FILE, default
# the shared file's name with -N: /etc/indextts/node-N.env) and then N's defaults: GPU N
# (CUDA_VISIBLE_DEVICES), UI port 7860+N, stream port 8770+N, outputs and space journal in
# $STATE_DIRECTORY/outputs (systemd's StateDirectory; ./instances/gpuN/outputs by hand). So the
# shared file can never give two instances the same port, GPU or journal.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

skip='^[[:space:]]*(#.*)?$'  # comments and blank lines
load_env_file() {  # export file $1's NAME=value lines, except names set before it (a later line wins)
    local file="$1" line name value
    local -A preset=()
    [[ -f "$file" ]] || return 0
    while IFS= read -r line || [[ -n "$line" ]]; do
        [[ "$line" =~ $skip ]] && continue
        name="${line%%=*}"
        name="${name//[[:space:]]/}"
        value="${line#*=}"
        value="${value%\"}"; value="${value#\"}"
        [[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || { echo "ignoring a malformed line in $file: $line" >&2; continue; }
        [[ -z "${preset[$name]+seen}" ]] && preset[$name]="${!name+set}"
        [[ -z "${preset[$name]}" ]] && export "$name=$value"
    done < "$file"
    return 0  # not the status of the last line's test (set -e)
}

env_file="${INDEXTTS_ENV_FILE:-./indextts.env}"
if [[ -n "${INDEXTTS_INSTANCE:-}" ]]; then
    n="$INDEXTTS_INSTANCE"
    [[ "$n" =~ ^[0-9]+$ ]] || { echo "INDEXTTS_INSTANCE must be a GPU number, not '$n'" >&2; exit 2; }
    n=$((10#$n))
    load_env_file "${INDEXTTS_INSTANCE_ENV_FILE:-${env_file%.env}-$n.env}"
    export CUDA_VISIBLE_DEVICES="${CUDA_VISIBLE_DEVICES:-$n}"
    export INDEXTTS_PORT="${INDEXTTS_PORT:-$((7860 + n))}"
    export INDEXTTS_WS_PORT="${INDEXTTS_WS_PORT:-$((8770 + n))}"
    export INDEXTTS_OUTPUTS_DIR="${INDEXTTS_OUTPUTS_DIR:-${STATE_DIRECTORY:-./instances/gpu$n}/outputs}"
fi
load_env_file "$env_file"

: "${INDEXTTS_WEBSOCKET_SERVER:?set INDEXTTS_WEBSOCKET_SERVER (the spaces site URL) in $env_file or the environment}"
: "${INDEXTTS_WEBSOCKET_SPACE:?set INDEXTTS_WEBSOCKET_SPACE (the space name of this node) in $env_file or the environment}"
python="${INDEXTTS_PYTHON:-.venv/bin/python}"
[[ -x "$python" ]] || { echo "no Python at $python: run 'make install' once, or set INDEXTTS_PYTHON" >&2; exit 1; }

echo "IndexTTS node${INDEXTTS_INSTANCE:+ $INDEXTTS_INSTANCE}: space '$INDEXTTS_WEBSOCKET_SPACE' at $INDEXTTS_WEBSOCKET_SERVER," \
    "UI on :${INDEXTTS_PORT:-7860}, GPU ${CUDA_VISIBLE_DEVICES:-any}, outputs and journal in ${INDEXTTS_OUTPUTS_DIR:-./outputs}"
exec "$python" webui.py --websocket-mode "$@"
