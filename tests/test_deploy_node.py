"""Operations files: the space node's start script and the systemd units (nodes and Celery workers)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

SCRIPT = REPO / "start_indextts_websocket.sh"
UNITS = ("indextts.service", "indextts@.service", "indextts-worker.service", "indextts-worker@.service")


def _run_script(tmp_path: Path, env_file: str, **env: str) -> subprocess.CompletedProcess:
    """Run the script with a stand-in Python that prints what it was started with."""
    fake_python = tmp_path / "python"
    fake_python.write_text('#!/bin/sh\necho "ARGS $*"\nenv | grep ^INDEXTTS_ | sort\n')
    fake_python.chmod(0o755)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INDEXTTS_")}
    environment = {**clean, "INDEXTTS_PYTHON": str(fake_python), "INDEXTTS_ENV_FILE": env_file, **env}
    return subprocess.run([str(SCRIPT), "--port", "7999"], env=environment, capture_output=True, text=True)


def test_the_start_script_reads_the_env_file_and_lets_the_environment_win(tmp_path: Path):
    env_file = tmp_path / "node.env"
    env_file.write_text(
        "# a comment\n\nINDEXTTS_WEBSOCKET_SERVER=https://spaces.example.com\n"
        'INDEXTTS_WEBSOCKET_SPACE="from-file"\nINDEXTTS_FP16=1\n'
    )
    done = _run_script(tmp_path, str(env_file), INDEXTTS_WEBSOCKET_SPACE="from-env")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "ARGS webui.py --websocket-mode --port 7999" in lines
    assert "INDEXTTS_WEBSOCKET_SERVER=https://spaces.example.com" in lines
    assert "INDEXTTS_WEBSOCKET_SPACE=from-env" in lines
    assert "INDEXTTS_FP16=1" in lines


def test_the_start_script_says_which_setting_is_missing(tmp_path: Path):
    done = _run_script(tmp_path, str(tmp_path / "absent.env"))
    assert done.returncode != 0
    assert "INDEXTTS_WEBSOCKET_SERVER" in done.stderr and "ARGS" not in done.stdout


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_the_systemd_units_verify(tmp_path: Path):
    for unit in UNITS:
        # Installed, the units point at /opt/indextts-node; verify them against this checkout.
        text = (REPO / "deploy" / "systemd" / unit).read_text().replace("/opt/indextts-node", str(REPO))
        (tmp_path / unit).write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / unit) for unit in UNITS)], capture_output=True, text=True
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    for unit in UNITS:
        text = (REPO / "deploy" / "systemd" / unit).read_text()
        assert "Restart=always" in text and "RestartSec=10" in text
        assert ("CUDA_VISIBLE_DEVICES=%i" in text) == unit.endswith("@.service")
    assert "INDEXTTS_PORT=786%i" in (REPO / "deploy" / "systemd" / "indextts@.service").read_text()
