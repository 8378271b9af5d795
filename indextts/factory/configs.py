"""Hyper-parameters of the checkpoints the factory writes: the official values, or a tiny variant.

`tiny` keeps the official structure (every module, every key) with small widths and depths, so a
whole synthesis takes seconds on a CPU. Widths the official code hard-codes are parameters in ours
(§14), so tiny shrinks them too: the w2v-BERT width (64 instead of 1024) flows into the codec, the
conformers, the emotion perceiver and the length regulator through `ModelConfig.semantic_dim`.
(`tiny-2.5` keeps 1024 there, so the official 2.5 code loads it: see `checkpoint_v25`.)
"""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from indextts.config import ModelConfig, load_config, parse_config

CheckpointSize = Literal["tiny", "full", "tiny-2.5", "full-2.5"]
SIZES: tuple[CheckpointSize, ...] = ("tiny", "full", "tiny-2.5", "full-2.5")

TINY_SEMANTIC_DIM = 64


def official_config() -> ModelConfig:
    """The published IndexTTS-2 hyper-parameters (shipped with the package)."""
    with resources.as_file(resources.files("indextts.data") / "indextts2_config.yaml") as path:
        return load_config(path)


def tiny_config() -> ModelConfig:
    """Official structure with small widths and depths: seconds per synthesis on a CPU."""
    cfg = official_config()
    small_conformer = dict(output_size=32, linear_units=64, attention_heads=2, num_blocks=1)
    gpt = dataclasses.replace(
        cfg.gpt,
        model_dim=64,
        heads=4,
        layers=2,
        condition_module=dataclasses.replace(cfg.gpt.condition_module, **small_conformer),
        emo_condition_module=dataclasses.replace(cfg.gpt.emo_condition_module, **small_conformer),
    )
    codec = dataclasses.replace(
        cfg.semantic_codec, hidden_size=TINY_SEMANTIC_DIM, vocos_dim=32, vocos_intermediate_dim=64, vocos_num_layers=1
    )
    s2mel = dataclasses.replace(
        cfg.s2mel,
        length_regulator=dataclasses.replace(cfg.s2mel.length_regulator, channels=64, in_channels=TINY_SEMANTIC_DIM),
        dit=dataclasses.replace(cfg.s2mel.dit, hidden_dim=64, num_heads=2, depth=2, content_dim=64),
        wavenet=dataclasses.replace(cfg.s2mel.wavenet, hidden_dim=64, num_layers=2),
    )
    return dataclasses.replace(cfg, gpt=gpt, semantic_codec=codec, s2mel=s2mel)


def model_config(size: CheckpointSize) -> ModelConfig:
    return tiny_config() if size.startswith("tiny") else official_config()


def config_to_mapping(cfg: Any) -> Any:
    """The YAML mapping of a config dataclass, with the official key names."""
    if dataclasses.is_dataclass(cfg):
        return {f.metadata.get("key", f.name): config_to_mapping(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, tuple):
        return list(cfg)
    return "None" if cfg is None else cfg


def write_config(cfg: ModelConfig, path: Path, cls: type[ModelConfig] = ModelConfig) -> None:
    text = yaml.safe_dump(config_to_mapping(cfg), sort_keys=False, allow_unicode=True)
    parse_config(yaml.safe_load(text), str(path), cls)  # what we write must read back
    path.write_text(text, encoding="utf-8")


# --- external components -----------------------------------------------------------------------


def w2v_bert_config(size: CheckpointSize, width: int = TINY_SEMANTIC_DIM) -> dict[str, Any]:
    """Keyword arguments of transformers' Wav2Vec2BertConfig (facebook/w2v-bert-2.0 for `full`).

    `width`: the hidden size of the tiny variant (the tiny 2.5 folder keeps the official 1024)."""
    if size == "full":
        return {}  # the transformers defaults are the w2v-bert-2.0 values
    return dict(
        hidden_size=width,
        output_hidden_size=width,
        num_hidden_layers=17,  # IndexTTS2 reads layer 17
        num_attention_heads=2,
        intermediate_size=128,
        conv_depthwise_kernel_size=7,
    )


def bigvgan_config(size: CheckpointSize) -> dict[str, Any]:
    """config.json of nvidia/bigvgan_v2_22khz_80band_256x (generator keys), or a tiny variant."""
    official: dict[str, Any] = {
        "resblock": "1",
        "upsample_rates": [4, 4, 2, 2, 2, 2],
        "upsample_kernel_sizes": [8, 8, 4, 4, 4, 4],
        "upsample_initial_channel": 1536,
        "resblock_kernel_sizes": [3, 7, 11],
        "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
        "use_tanh_at_final": False,
        "use_bias_at_final": False,
        "activation": "snakebeta",
        "snake_logscale": True,
        "num_mels": 80,
        "num_freq": 1025,
        "n_fft": 1024,
        "hop_size": 256,
        "win_size": 1024,
        "sampling_rate": 22050,
        "fmin": 0,
        "fmax": None,
        "fmax_for_loss": None,
    }
    if size == "full":
        return official
    return official | {
        "upsample_rates": [4, 4, 4, 4],
        "upsample_kernel_sizes": [8, 8, 8, 8],
        "upsample_initial_channel": 32,
        "resblock_kernel_sizes": [3, 7],
        "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5]],
    }
