"""config.yaml → frozen dataclasses; every wrong or missing key is one error naming key and file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from indextts.config import RuntimeSettings, load_config
from indextts.errors import ConfigError
from indextts.factory import config_to_mapping, official_config, tiny_config, write_config

REPO = Path(__file__).resolve().parent.parent
OFFICIAL = REPO / "checkpoints" / "config.yaml"


def test_official_config_has_the_published_values():
    cfg = load_config(REPO / "checkpoints")
    assert (cfg.gpt.model_dim, cfg.gpt.layers, cfg.gpt.heads) == (1280, 24, 20)
    assert (cfg.gpt.start_mel_token, cfg.gpt.stop_mel_token, cfg.gpt.number_mel_codes) == (8192, 8193, 8194)
    assert (cfg.gpt.start_text_token, cfg.gpt.stop_text_token, cfg.gpt.number_text_tokens) == (0, 1, 12000)
    assert cfg.gpt.condition_module.num_blocks == 6 and cfg.gpt.emo_condition_module.num_blocks == 4
    assert cfg.semantic_codec.codebook_size == 8192 and cfg.semantic_codec.hidden_size == 1024
    spect = cfg.s2mel.preprocess_params.spect_params
    assert (cfg.s2mel.preprocess_params.sr, spect.n_fft, spect.hop_length, spect.n_mels) == (22050, 1024, 256, 80)
    assert spect.fmax is None  # "None" in the file: up to Nyquist
    assert cfg.s2mel.dit.depth == 13 and cfg.s2mel.dit.hidden_dim == 512  # read from the key "DiT"
    assert cfg.s2mel.length_regulator.sampling_ratios == (1, 1, 1, 1)
    assert cfg.emo_num == (3, 17, 2, 8, 4, 5, 10, 24) and sum(cfg.emo_num) == 73
    assert cfg.vocoder.name == "nvidia/bigvgan_v2_22khz_80band_256x"
    assert cfg.version == 2.0


def test_config_objects_are_frozen():
    cfg = load_config(OFFICIAL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.gpt.layers = 3  # type: ignore[misc]


def test_packaged_official_config_equals_the_checkpoint_folder_copy():
    assert official_config() == load_config(OFFICIAL)


def test_written_config_reads_back_identically(tmp_path):
    for cfg in (official_config(), tiny_config()):
        write_config(cfg, tmp_path / "config.yaml")
        assert load_config(tmp_path) == cfg
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["s2mel"]["DiT"]["depth"] == 2


def _write_modified(tmp_path: Path, edit) -> Path:
    mapping = config_to_mapping(official_config())
    edit(mapping)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(mapping, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda m: m["gpt"].pop("layers"), "missing key 'gpt.layers'"),
        (lambda m: m["s2mel"]["DiT"].pop("depth"), "missing key 's2mel.DiT.depth'"),
        (lambda m: m["gpt"].update(layerz=24), "unknown key 'gpt.layerz' (did you mean 'layers'?)"),
        (lambda m: m["gpt"].update(heads="twenty"), "key 'gpt.heads' must be an integer, got 'twenty'"),
        (lambda m: m["gpt"].update(use_mel_codes_as_input=1), "key 'gpt.use_mel_codes_as_input' must be true or false"),
        (lambda m: m.update(emo_num=[3, "x"]), "key 'emo_num' must be a list of integers"),
        (lambda m: m.update(gpt=[1, 2]), "key 'gpt' must be a mapping"),
        (lambda m: m["gpt"].update(heads=7), "'gpt.model_dim' (1280) must be divisible by 'gpt.heads' (7)"),
        (lambda m: m.update(version=2.5), "'version' is 2.5"),
    ],
)
def test_a_wrong_key_is_one_error_naming_the_key_and_the_file(tmp_path, edit, expected):
    path = _write_modified(tmp_path, edit)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_all_problems_are_reported_together(tmp_path):
    def edit(m):
        m["gpt"].pop("layers")
        m["semantic_codec"]["codebook_sise"] = 8192

    with pytest.raises(ConfigError) as err:
        load_config(_write_modified(tmp_path, edit))
    assert "missing key 'gpt.layers'" in str(err.value)
    assert "unknown key 'semantic_codec.codebook_sise' (did you mean 'codebook_size'?)" in str(err.value)


def test_missing_file_and_bad_yaml_say_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match=r"file not found.*checkpoints/README\.md"):
        load_config(tmp_path)
    (tmp_path / "config.yaml").write_text("gpt: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path)
    (tmp_path / "config.yaml").write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="expected a YAML mapping"):
        load_config(tmp_path)


def test_runtime_settings_are_validated_and_resolved():
    settings = RuntimeSettings(device="cpu", dtype="float16")
    assert str(settings.resolve_device()) == "cpu"
    import torch

    assert settings.resolve_dtype() == torch.float32  # half precision only on CUDA, as upstream
    with pytest.raises(ConfigError, match="dtype must be one of"):
        RuntimeSettings(dtype="int8")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="device must be"):
        RuntimeSettings(device="tpu")
    with pytest.raises(ConfigError, match="decode_step must be auto, graph, compile, fixed or exact"):
        RuntimeSettings(decode_step="compiled")
    if not torch.cuda.is_available():
        assert RuntimeSettings().resolve_device().type in ("cpu", "mps")
