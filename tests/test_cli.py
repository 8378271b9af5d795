"""`python -m indextts` as a user runs it, on the demo checkpoint."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import EXAMPLES, REPO


def run_cli(*args: str, cache_dir) -> subprocess.CompletedProcess:
    env = {**os.environ, "INDEXTTS_CACHE_DIR": str(cache_dir), "INDEXTTS_MODEL_DIR": str(REPO / "checkpoints")}
    return subprocess.run(
        [sys.executable, "-m", "indextts", *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=300
    )


def test_frontend_report_on_the_demo_checkpoint(cache_dir):
    args = ["--text", "你好，世界。Hello world!", "--max-tokens", "4", "--prompt", str(EXAMPLES / "voice_09.wav")]
    result = run_cli("frontend", *args, cache_dir=cache_dir)
    assert result.returncode == 0, result.stderr
    assert "DEMO checkpoint" in result.stderr  # said loudly when no real model is present
    assert "normalised:  你 好 , 世 界 .HELLO WORLD!" in result.stdout
    assert "segments:    4 (at most 4 tokens each)" in result.stdout
    assert "22.05 kHz wave   (1, 265947)" in result.stdout  # voice_09.wav is 12.06 s
    assert "w2v-BERT input   (1, 602, 160)" in result.stdout  # 1204 fbank frames, stacked in pairs


def test_bad_prompt_is_a_clear_error_not_a_traceback(cache_dir, tmp_path):
    bogus = tmp_path / "voice.wav"
    bogus.write_text("not audio")
    result = run_cli("frontend", "--prompt", str(bogus), cache_dir=cache_dir)
    assert result.returncode == 2
    assert "error:" in result.stderr and "not audio" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_explains_the_commands(cache_dir):
    result = run_cli("frontend", "--help", cache_dir=cache_dir)
    assert result.returncode == 0
    assert "max_text_tokens_per_segment" in result.stdout and "INDEXTTS_MODEL_DIR" in result.stdout
