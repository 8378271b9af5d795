"""examples/: the project's own voice prompts and the WebUI example cases (official format)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import soundfile as sf

from tests.conftest import EXAMPLES

OFFICIAL_CASE_KEYS = {"prompt_audio", "text", "emo_mode", "emo_audio", "emo_weight", "emo_text"} | {
    f"emo_vec_{i}" for i in range(1, 9)
}


def _check_prompt(path):
    info = sf.info(path)
    assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16"), path.name
    assert 3.0 <= info.duration <= 15.0, path.name
    data, _ = sf.read(path)
    assert abs(data).max() > 0.3, f"{path.name} is (nearly) silent"


def test_eleven_voice_presets_for_the_openai_voices():
    presets = sorted(EXAMPLES.glob("voice_*.wav"))
    assert [p.name for p in presets] == [f"voice_{i:02d}.wav" for i in range(1, 12)]
    for path in presets:
        _check_prompt(path)


def test_cases_use_the_official_format_and_existing_files():
    lines = (EXAMPLES / "cases.jsonl").read_text(encoding="utf-8").splitlines()
    cases = [json.loads(line) for line in lines if line.strip()]
    assert len(cases) >= 8
    assert {case["emo_mode"] for case in cases} == {0, 1, 2, 3}
    for case in cases:
        assert set(case) <= OFFICIAL_CASE_KEYS, case
        assert case["text"].strip()
        _check_prompt(EXAMPLES / case["prompt_audio"])
        if case["emo_mode"] == 1:
            _check_prompt(EXAMPLES / case["emo_audio"])
        if case["emo_mode"] == 2:
            vector = [case.get(f"emo_vec_{i}", 0) for i in range(1, 9)]
            assert sum(vector) > 0 and all(0 <= v <= 1 for v in vector)
        assert 0 <= case.get("emo_weight", 1.0) <= 1


@pytest.mark.skipif(not (shutil.which("espeak-ng") and shutil.which("sox")), reason="needs espeak-ng and sox")
def test_generate_script_regenerates_every_example_wav(tmp_path):
    subprocess.run([str(EXAMPLES / "generate.sh"), str(tmp_path)], check=True, capture_output=True)
    made = sorted(p.name for p in tmp_path.glob("*.wav"))
    assert made == sorted(p.name for p in EXAMPLES.glob("*.wav"))
    for path in tmp_path.glob("*.wav"):
        _check_prompt(path)
