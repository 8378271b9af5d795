#!/usr/bin/env bash
# Start an IndexTTS node in websocket mode: the web UI on :7860 plus the space client that takes
# jobs from a central spaces site. Used by deploy/systemd/indextts{,@}.service; fine by hand too.
#
#   ./start_indextts_websocket.sh [extra webui.py flags…]
#
# Settings, strongest first: flags given here > variables already in the environment > the env
# file ($INDEXTTS_ENV_FILE, default ./indextts.env; see deploy/indextts.env.example). Every
# webui.py flag has an INDEXTTS_* twin, e.g. INDEXTTS_PORT, INDEXTTS_MODEL_DIR, INDEXTTS_FP16.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

env_file="${INDEXTTS_ENV_FILE:-./indextts.env}"
skip='^[[:space:]]*(#.*)?$'  # comments and blank lines
if [[ -f "$env_file" ]]; then
    while IFS= read -r line || [[ -n "$line" ]]; do
        [[ "$line" =~ $skip ]] && continue
        name="${line%%=*}"
        name="${name//[[:space:]]/}"
        value="${line#*=}"
        value="${value%\"}"; value="${value#\"}"
        [[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || { echo "ignoring a malformed line in $env_file: $line" >&2; continue; }
        [[ -z "${!name+set}" ]] && export "$name=$value"
    done < "$env_file"
fi

: "${INDEXTTS_WEBSOCKET_SERVER:?set INDEXTTS_WEBSOCKET_SERVER (the spaces site URL) in $env_file or the environment}"
: "${INDEXTTS_WEBSOCKET_SPACE:?set INDEXTTS_WEBSOCKET_SPACE (the space name of this node) in $env_file or the environment}"
python="${INDEXTTS_PYTHON:-.venv/bin/python}"
[[ -x "$python" ]] || { echo "no Python at $python: run 'make run' once, or set INDEXTTS_PYTHON" >&2; exit 1; }

echo "IndexTTS node: space '$INDEXTTS_WEBSOCKET_SPACE' at $INDEXTTS_WEBSOCKET_SERVER, UI on :${INDEXTTS_PORT:-7860}"
exec "$python" webui.py --websocket-mode "$@"
