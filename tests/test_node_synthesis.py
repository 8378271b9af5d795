"""The serving core on the real pipeline (tiny random checkpoint, CPU): requests in, WAV files out."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from indextts.errors import CheckpointError
from serving.engine import EngineOptions, LoadedEngine, choose_model_dir
from serving.jobs import JobState
from serving.node import Node, NodeSettings
from serving.outputs import OutputStore
from serving.request import parse_request
from serving.sources import AudioSourceError
from tests.conftest import EXAMPLES, REPO

FAST = {"max_mel_tokens": 50, "num_beams": 1, "seed": 3}


@pytest.fixture
def node(engine, demo_dir: Path, tmp_path: Path):
    settings = NodeSettings(outputs_dir=tmp_path / "outputs", allowed_dirs=(EXAMPLES,), max_pending=4)
    node = Node(LoadedEngine(engine, demo_dir, True, "tests", 0.0), settings)
    yield node
    node.close()


def _request(**fields):
    return parse_request({"text": "你好。今天天气很好。", "spk_audio": "examples/voice_01.wav", **FAST, **fields})


def test_a_request_becomes_a_wav_file_in_outputs(node: Node, engine):
    text = "今天天气很好，我们一起去公园散步吧。明天如果下雨的话，我们就待在家里看书。"
    job = node.submit(_request(text=text, max_text_tokens_per_segment=24, interval_silence=300), origin="test")
    node.queue.wait_finished(job, timeout=300)
    assert job.state is JobState.COMPLETED, job.error
    result = job.result
    audio, rate = sf.read(result.path, dtype="int16")
    assert rate == 22050 and result.path.parent == node.settings.outputs_dir
    assert np.array_equal(audio, result.audio)
    count = len(engine.split_segments(text, 24))  # 2 on IndexTTS-2; more with the tiny 2.5 tokenizer
    assert count >= 2 and len(job.parts) == count  # short segments, streamed one by one …
    gap = int(0.3 * rate)
    assert audio.shape[0] == sum(p.audio.shape[0] for p in job.parts) + (count - 1) * gap  # … joined by 300 ms
    assert not audio[job.parts[0].audio.shape[0] :][:gap].any()
    assert result.rtf > 0 and node.queue.stats().completed == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"emo_mode": "audio", "emo_audio": "examples/emo_sad.wav", "emo_alpha": 0.9},
        {"emo_mode": "vector", "emo_vector": [0, 0.7, 0, 0, 0, 0, 0, 0], "use_random": True},
        {"emo_mode": "text", "emo_text": "非常害怕"},
    ],
)
def test_every_emotion_mode_synthesises(node: Node, fields):
    job = node.submit(_request(**fields), origin="test")
    node.queue.wait_finished(job, timeout=300)
    assert job.state is JobState.COMPLETED, job.error
    assert job.result.duration > 0


def test_the_same_seed_gives_the_same_audio(node: Node):
    first = node.submit(_request(num_beams=2), origin="test")
    second = node.submit(_request(num_beams=2), origin="test")
    for job in (first, second):  # the decode pool may finish either first
        node.queue.wait_finished(job, timeout=300)
    assert np.array_equal(first.result.audio, second.result.audio)


def test_bad_prompts_are_refused_before_queueing(node: Node, tmp_path: Path):
    (tmp_path / "noise.wav").write_bytes(b"RIFF not really a wave file" * 100)
    cases = {
        "examples/../pyproject.toml": "forbidden",
        "/etc/passwd": "forbidden",
        "examples/missing.wav": "invalid",
        str(REPO / "README.md"): "forbidden",
    }
    for value, kind in cases.items():
        with pytest.raises(AudioSourceError) as caught:
            node.submit(_request(spk_audio=value), origin="test")
        assert caught.value.kind == kind and str(caught.value).startswith("spk_audio: ")
    with pytest.raises(AudioSourceError, match=r"^spk_audio: "):
        node.submit(_request(spk_audio=b"\x00\x01garbage" * 50), origin="test")
    with pytest.raises(AudioSourceError, match=r"^emo_audio: "):
        node.submit(_request(emo_mode="audio", emo_audio="../etc/hosts"), origin="test")
    stats = node.queue.stats()
    assert (stats.pending, stats.running, stats.completed, stats.failed) == (0, 0, 0, 0)


def test_a_job_the_engine_rejects_fails_alone(node: Node):
    silent = node.submit(_request(text="\u200b\u200b"), origin="test")  # invisible: nothing to say
    good = node.submit(_request(), origin="test")
    node.queue.wait_finished(good, timeout=300)
    assert silent.state is JobState.FAILED and silent.error_kind == "invalid"
    assert "text" in silent.error
    assert good.state is JobState.COMPLETED


def test_output_retention_deletes_the_oldest_of_its_own_files(tmp_path: Path):
    store = OutputStore(tmp_path, max_files=2)
    keep = tmp_path / "someone_elses.wav"
    shutil.copy(EXAMPLES / "voice_01.wav", keep)
    audio = np.zeros(2205, dtype=np.int16)
    paths = [store.write(f"job{i}", audio, 22050) for i in range(4)]
    assert [p.exists() for p in paths] == [False, False, True, True]
    assert keep.exists()
    by_size = OutputStore(tmp_path, max_files=100, max_bytes=3 * paths[-1].stat().st_size)
    more = [by_size.write(f"big{i}", audio, 22050) for i in range(4)]
    assert len(by_size.files()) == 3 and more[-1].exists()


def test_no_weights_means_the_demo_checkpoint_and_half_weights_mean_an_error(tmp_path: Path, cache_dir: Path):
    empty = tmp_path / "checkpoints"
    empty.mkdir()
    shutil.copy(REPO / "checkpoints" / "config.yaml", empty)
    model_dir, reason = choose_model_dir(EngineOptions(model_dir=empty, cache_dir=cache_dir))
    assert (model_dir / "DEMO_CHECKPOINT.txt").is_file()
    assert "gpt.pth" in reason and "hf download IndexTeam/IndexTTS-2" in reason
    (empty / "gpt.pth").write_bytes(b"partial download")
    with pytest.raises(CheckpointError, match=r"s2mel\.pth"):
        choose_model_dir(EngineOptions(model_dir=empty, cache_dir=cache_dir))
