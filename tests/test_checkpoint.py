"""Finding and loading checkpoint files: clear errors for missing files, wrong shapes, missing components."""

from __future__ import annotations

import shutil
from pathlib import Path

import huggingface_hub.constants
import pytest
import torch

from indextts.checkpoint import SEMANTIC_CODEC, load_unified_voice, resolve_checkpoint
from indextts.errors import CheckpointError

pytestmark = pytest.mark.generation(
    "2", reason="2.0's checkpoint files (test_v25_model.py checks 2.5's strict loading)"
)


@pytest.fixture
def copy_of(tmp_path: Path, demo_dir: Path):
    def make(skip: tuple[str, ...] = ()) -> Path:
        target = tmp_path / "model"
        shutil.copytree(demo_dir, target, ignore=lambda d, names: [n for n in names if n in skip])
        return target

    return make


def test_missing_model_file_is_named_with_the_download_command(copy_of):
    model_dir = copy_of(skip=("s2mel.pth",))
    with pytest.raises(CheckpointError) as err:
        resolve_checkpoint(model_dir)
    assert "s2mel.pth" in str(err.value)
    assert f"hf download IndexTeam/IndexTTS-2 --local-dir {model_dir}" in str(err.value)


def test_missing_external_components_are_all_listed_with_their_commands(copy_of, monkeypatch, tmp_path):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    model_dir = copy_of(skip=("bigvgan", "campplus_cn_common.bin"))
    with pytest.raises(CheckpointError) as err:
        resolve_checkpoint(model_dir)
    message = str(err.value)
    assert "BigVGAN" in message and "CAMPPlus" in message and "w2v-BERT" not in message
    assert "hf download nvidia/bigvgan_v2_22khz_80band_256x config.json bigvgan_generator.pt" in message
    assert "hf download funasr/campplus campplus_cn_common.bin" in message


def test_external_component_is_found_in_the_hugging_face_cache(copy_of, monkeypatch, tmp_path, demo_dir):
    hub = tmp_path / "hub"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))
    model_dir = copy_of(skip=("semantic_codec_model.safetensors",))
    repo = hub / "models--amphion--MaskGCT"
    snapshot = repo / "snapshots" / ("0" * 40) / "semantic_codec"
    snapshot.mkdir(parents=True)
    shutil.copy(demo_dir / "hf_cache" / SEMANTIC_CODEC.local_name, snapshot / "model.safetensors")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    paths = resolve_checkpoint(model_dir)
    assert paths.semantic_codec == snapshot / "model.safetensors"


def test_gpt_weights_of_the_wrong_shape_name_the_key(copy_of):
    model_dir = copy_of()
    state = torch.load(model_dir / "gpt.pth", weights_only=True)
    state["mel_head.weight"] = state["mel_head.weight"][:-1]
    del state["speed_emb.weight"]
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, model_dir / "gpt.pth")
    paths = resolve_checkpoint(model_dir)
    with pytest.raises(CheckpointError) as err:
        load_unified_voice(paths.gpt, paths.config)
    message = str(err.value)
    assert "mel_head.weight" in message and "speed_emb.weight" in message and "extra.weight" in message


def test_gpt_weights_nested_under_model_and_training_aliases_load(copy_of):
    model_dir = copy_of()
    state = torch.load(model_dir / "gpt.pth", weights_only=True)
    nested = {"model": {**state, "gpt.wte.weight": state["mel_embedding.weight"]}, "step": 1000}
    torch.save(nested, model_dir / "gpt.pth")
    paths = resolve_checkpoint(model_dir)
    model = load_unified_voice(paths.gpt, paths.config)
    assert torch.equal(model.mel_head.weight, state["mel_head.weight"])


def test_a_corrupt_file_is_a_checkpoint_error(copy_of):
    model_dir = copy_of()
    (model_dir / "gpt.pth").write_bytes(b"not a torch file")
    paths = resolve_checkpoint(model_dir)
    with pytest.raises(CheckpointError, match="download it again"):
        load_unified_voice(paths.gpt, paths.config)
