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
        'INDEXTTS_WEBSOCKET_SPACE="from-file"\nINDEXTTS_FP16=0\nINDEXTTS_FP16=1\n'  # a later line wins
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


def _render(unit: str, instance: str, etc: Path) -> dict[str, str]:
    """What systemd would start for `unit` instance N: the environment it sets, and the command.

    Only the directives these units use: Environment= (one assignment each), StateDirectory= (its
    path arrives as $STATE_DIRECTORY) and ExecStart=. Paths under /etc/indextts move to `etc`."""
    text = (REPO / "deploy" / "systemd" / unit).read_text().replace("%i", instance)
    text = text.replace("/etc/indextts", str(etc)).replace("/opt/indextts-node", str(REPO))
    env: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key == "Environment":
            name, _, setting = value.partition("=")
            env[name] = setting
        elif key == "StateDirectory":
            env["STATE_DIRECTORY"] = f"/var/lib/{value}"
        elif key == "ExecStart":
            env["__exec__"] = value
        assert key != "EnvironmentFile", "systemd lets EnvironmentFile= values beat the instance's own"
    return env


def _started_with(rendered: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """Run the unit's ExecStart with the unit's environment only; → the INDEXTTS_*/CUDA_* the node got."""
    fake_python = tmp_path / "python"
    fake_python.write_text('#!/bin/sh\nenv | grep -E "^(INDEXTTS_|CUDA_)" | sort\n')
    fake_python.chmod(0o755)
    command = rendered.pop("__exec__")
    environment = {"PATH": os.environ["PATH"], **rendered, "INDEXTTS_PYTHON": str(fake_python)}
    done = subprocess.run([command], env=environment, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line and "IndexTTS" not in line)


def test_each_gpu_instance_gets_its_own_port_gpu_and_journal_whatever_the_shared_file_says(tmp_path: Path):
    etc = tmp_path / "etc"
    etc.mkdir()
    # The shared file as the README has operators copy it: one port, one outputs folder, one GPU.
    example = (REPO / "deploy" / "indextts.env.example").read_text()
    (etc / "node.env").write_text(example + "CUDA_VISIBLE_DEVICES=0\n")
    (etc / "node-0.env").write_text("INDEXTTS_WEBSOCKET_SPACE=voice-gpu0\n")
    (etc / "node-1.env").write_text("INDEXTTS_WEBSOCKET_SPACE=voice-gpu1\n")
    (etc / "node-2.env").write_text("INDEXTTS_WEBSOCKET_SPACE=voice-gpu2\nINDEXTTS_PORT=9002\n")
    seen = {n: _started_with(_render("indextts@.service", n, etc), tmp_path) for n in ("0", "1", "2")}
    for n, env in seen.items():
        assert env["CUDA_VISIBLE_DEVICES"] == n
        assert env["INDEXTTS_WS_PORT"] == str(8770 + int(n))
        assert env["INDEXTTS_OUTPUTS_DIR"] == f"/var/lib/indextts/gpu{n}/outputs"
        assert env["INDEXTTS_WEBSOCKET_SPACE"] == f"voice-gpu{n}"
        assert env["INDEXTTS_WEBSOCKET_SERVER"] == "https://spaces.example.com"  # shared settings still apply
        assert env["INDEXTTS_FP16"] == "1"
    assert [seen[n]["INDEXTTS_PORT"] for n in ("0", "1", "2")] == ["7860", "7861", "9002"]  # node-N.env wins

    single = _started_with(_render("indextts.service", "", etc), tmp_path)
    assert single["INDEXTTS_PORT"] == "7860" and single["INDEXTTS_OUTPUTS_DIR"] == "./outputs"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_the_rendered_gpu_units_verify(tmp_path: Path):
    template = (REPO / "deploy" / "systemd" / "indextts@.service").read_text().replace("/opt/indextts-node", str(REPO))
    (tmp_path / "indextts@.service").write_text(template)
    units = [str(tmp_path / f"indextts@{n}.service") for n in (0, 1)]
    for unit in units:
        Path(unit).symlink_to(tmp_path / "indextts@.service")
    done = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
