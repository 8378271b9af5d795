"""`python -m indextts synth` as a user runs it: a WAV from the tiny checkpoint, help, and flag errors."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from indextts.cli import build_parser, main
from indextts.cli import options as opt
from indextts.cli.synth import _request
from indextts.emotion import EMOTIONS
from indextts.gpt.generation import GenerationSettings
from tests.conftest import EXAMPLES, REPO

HOP = 256
RATE = 22050


def run_cli(*args: str, cache_dir) -> subprocess.CompletedProcess:
    # One thread: the tiny model gains nothing from more, and they only fight the other test processes.
    env = {**os.environ, "INDEXTTS_CACHE_DIR": str(cache_dir), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "indextts", *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=300
    )


@pytest.fixture(scope="module")
def short_prompt(tmp_path_factory) -> str:
    """The first 1.5 s of a real voice: encoding a short prompt keeps the run fast."""
    wave, rate = sf.read(EXAMPLES / "voice_01.wav", dtype="float32")
    path = tmp_path_factory.mktemp("prompt") / "voice.wav"
    sf.write(path, wave[: int(1.5 * rate)], rate)
    return str(path)


def test_synth_writes_the_wav_the_summary_describes(demo_dir, layout, cache_dir, short_prompt, tmp_path):
    out = tmp_path / "nested" / "out.wav"
    text = "你好，世界。Hello world, this is a test of the command line."  # two segments of at most 20 tokens
    args = ["--text", text, "--prompt", short_prompt, "--out", str(out), "--model-dir", str(demo_dir)]
    args += ["--max-mel-tokens", "20", "--max-text-tokens-per-segment", "20", "--interval-silence", "150"]
    args += ["--emo-vector", "happy=0.5,calm=0.2", "--num-beams", "1", "--seed", "3", "--device", "cpu"]
    result = run_cli("synth", *args, cache_dir=cache_dir)
    assert result.returncode == 0, result.stderr
    assert "DEMO checkpoint" not in result.stderr  # a folder with a model is used as it is
    assert "[100%] done" in result.stderr

    info = sf.info(out)
    assert (info.samplerate, info.channels, info.subtype, info.format) == (RATE, 1, "PCM_16", "WAV")
    rows = re.findall(r"^\s+(\d+)\s+(\d+)\s+(\d+)\s+[\d.]+\s+\S", result.stdout, flags=re.MULTILINE)
    codes = [int(row[1]) for row in rows]
    assert [int(row[0]) for row in rows] == list(range(1, len(rows) + 1))
    assert len(codes) >= 2 and all(1 <= c <= 20 for c in codes)  # the text needs several 20-token segments
    if layout == "2.5":  # 25 Hz codes, doubled by the codec before s2mel
        frames = [int(2 * c * 1.72) for c in codes]
    else:
        frames = [int(np.floor(np.float32(c) * np.float32(1.72))) for c in codes]
    assert [int(row[2]) for row in rows] == frames
    silence = int(RATE * 150 / 1000)
    assert info.frames == sum(frames) * HOP + (len(codes) - 1) * silence
    assert f"segments: {len(codes)}, codes: {sum(codes)}" in result.stdout
    assert f"{info.frames} samples" in result.stdout
    for stage in ("text", "prompt", "gpt generate", "gpt latent", "s2mel", "vocoder", "RTF"):
        assert stage in result.stdout


def test_help_explains_every_group(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["synth", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for group in (
        "input and output",
        "emotion:",
        "text segments and pauses",
        "GPT code generation",
        "model and runtime",
        "example:",
    ):
        assert group in text
    assert "INDEXTTS_MODEL_DIR" in text and "(default: 1500)" in text and ", ".join(EMOTIONS) in text


BAD_FLAGS = [
    (["--prompt", "missing.wav"], "--prompt", "no such file"),
    (["--text", "   "], "--text", "empty"),
    (["--emo-vector", "0.1 0.2 0.3"], "--emo-vector", "needs 8 numbers"),
    (["--emo-vector", "0.1", "0.2", "0.3"], "--emo-vector", "got 3 numbers"),
    (["--emo-vector", "joyful=0.5"], "--emo-vector", "unknown emotion 'joyful'"),
    (["--emo-vector", "0 0 0 0 0 0 0 1.5"], "--emo-vector", "between 0.0 and 1.0"),
    (["--top-p", "1.5"], "--top-p", "between 0.0 and 1.0"),
    (["--temperature", "0"], "--temperature", "between 0.1 and 2.0"),
    (["--num-beams", "11"], "--num-beams", "between 1 and 10"),
    (["--top-k", "2.5"], "--top-k", "expected an integer"),
    (["--max-text-tokens-per-segment", "5"], "--max-text-tokens-per-segment", "between 20 and 600"),
    (["--emo-alpha", "2", "--emo-vector", "sad=1"], "--emo-alpha", "between 0.0 and 1.0"),
    (["--device", "gpu"], "--device", "expected auto, cpu"),
    (["--emo-audio", "{emo}", "--emo-vector", "sad=1"], "--emo-vector", "not allowed with argument --emo-audio"),
    (["--emo-alpha", "0.5"], "--emo-alpha", "none is given"),
    (["--use-random"], "--use-random", "only has an effect"),
    (["--out", "out.mp3"], "--out", "ending in .wav"),
    (["--prompt", "{not_audio}"], "--prompt", "not audio"),
]


@pytest.mark.parametrize(("extra", "flag", "message"), BAD_FLAGS, ids=[case[1] + ":" + case[2] for case in BAD_FLAGS])
def test_bad_flags_name_the_flag_and_exit_2(extra, flag, message, tmp_path, capsys):
    not_audio = tmp_path / "voice.wav"
    not_audio.write_text("not audio")
    base = {"--text": "你好", "--prompt": str(EXAMPLES / "voice_01.wav"), "--out": str(tmp_path / "out.wav")}
    extra = [arg.format(emo=EXAMPLES / "emo_happy.wav", not_audio=not_audio) for arg in extra]
    argv = ["synth", "--model-dir", str(tmp_path / "no-model")]
    for key, value in base.items():
        if key not in extra:
            argv += [key, value]
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, *extra])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"error: argument {flag}" in err and message in err, err
    assert not (tmp_path / "out.wav").exists()


def test_a_bad_flag_is_one_line_of_error_not_a_traceback(cache_dir, tmp_path):
    args = ["--text", "hi", "--prompt", str(EXAMPLES / "voice_01.wav"), "--out", str(tmp_path / "o.wav")]
    result = run_cli("synth", *args, "--repetition-penalty", "50", cache_dir=cache_dir)
    assert result.returncode == 2
    assert "error: argument --repetition-penalty: must be between 0.1 and 20.0, got 50" in result.stderr
    assert "Traceback" not in result.stderr


def test_flags_become_the_pipeline_arguments(tmp_path):
    base = ["synth", "--text", "hi", "--prompt", str(EXAMPLES / "voice_01.wav"), "--out", str(tmp_path / "o.wav")]
    request = _request(build_parser().parse_args([*base, "--no-sample", "--top-k", "0", "--emo-text", "so sad"]))
    assert (request["do_sample"], request["top_k"], request["use_emo_text"], request["emo_text"]) == (
        False,
        None,
        True,
        "so sad",
    )
    for vector in (["0,0,0.8,0,0,0,0,0.2"], ["0", "0", "0.8", "0", "0", "0", "0", "0.2"], ["sad=0.8,", "calm=0.2"]):
        request = _request(build_parser().parse_args([*base, "--emo-vector", *vector, "--emo-alpha", "0.5"]))
        assert request["emo_vector"] == [0, 0, 0.8, 0, 0, 0, 0, 0.2] and request["emo_alpha"] == 0.5
        assert not request["use_emo_text"] and request["emo_audio_prompt"] is None
    request = _request(build_parser().parse_args([*base, "--emo-vector", "surprised=1", "--normalize-emo-vector"]))
    assert request["emo_vector"] == pytest.approx([0, 0, 0, 0, 0, 0, 0.6875, 0])  # the WebUI's damping
    defaults = _request(build_parser().parse_args(base))
    settings = {f.name: defaults[f.name] for f in dataclasses.fields(GenerationSettings)}
    assert GenerationSettings(**settings) == GenerationSettings()
    assert (defaults["emo_alpha"], defaults["interval_silence"], defaults["max_text_tokens_per_segment"]) == (
        1,
        200,
        120,
    )


def test_the_options_repeat_the_library_vocabulary():
    assert dataclasses.asdict(GenerationSettings()) == opt.GENERATION_DEFAULTS
    assert opt.EMOTIONS == EMOTIONS
