"""webui.py's flags: the official UI's names, each with an INDEXTTS_* environment twin."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from serving.options import demo_generation
from tests.conftest import REPO


@pytest.fixture
def parse(monkeypatch):
    import webui

    def parse(argv, **env):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return webui.parse_args(argv)

    return parse


def test_defaults_match_the_official_ui(parse):
    args = parse([])
    assert (args.port, args.host, args.model_dir, args.gui_seg_tokens) == (7860, "0.0.0.0", "./checkpoints", 120)
    assert not (args.fp16 or args.deepspeed or args.cuda_kernel or args.verbose or args.websocket_mode or args.demo)


def test_environment_twins_set_defaults_and_flags_win(parse):
    env = {"INDEXTTS_PORT": "9000", "INDEXTTS_FP16": "true", "INDEXTTS_WEBSOCKET_SPACE": "my-space"}
    args = parse([], **env)
    assert (args.port, args.fp16, args.websocket_space) == (9000, True, "my-space")
    assert parse(["--port", "9100"], **env).port == 9100
    assert parse([], INDEXTTS_DEMO="0").demo is False


def test_every_flag_of_the_official_ui_is_accepted(parse):
    argv = "--port 1 --host h --model_dir m --fp16 --deepspeed --cuda_kernel --gui_seg_tokens 80 --verbose"
    argv += " --websocket-server http://s --websocket-space x --websocket-mode --device cpu --demo"
    args = parse(argv.split())
    assert (args.websocket_server, args.websocket_space, args.device, args.gui_seg_tokens) == (
        "http://s",
        "x",
        "cpu",
        80,
    )


def test_help_names_each_env_twin():
    result = subprocess.run(
        [sys.executable, "webui.py", "--help"], cwd=REPO, capture_output=True, text=True, check=True
    )
    for twin in ("INDEXTTS_PORT", "INDEXTTS_MODEL_DIR", "INDEXTTS_WEBSOCKET_MODE", "INDEXTTS_DEVICE"):
        assert twin in result.stdout


def test_websocket_mode_without_a_server_is_refused_with_what_is_missing():
    result = subprocess.run(
        [sys.executable, "webui.py", "--websocket-mode"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert "--websocket-server" in result.stderr and "--websocket-space" in result.stderr


def test_demo_flag_takes_the_generation():
    assert [demo_generation(v) for v in ("", "0", "1", "true", "2", "2.5")] == [False, False, "2", "2", "2", "2.5"]
    with pytest.raises(argparse.ArgumentTypeError, match=r"2 or 2\.5"):
        demo_generation("3")
