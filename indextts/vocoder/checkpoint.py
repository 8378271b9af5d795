"""BigVGAN checkpoint folders in the official layout (`nvidia/bigvgan_v2_22khz_80band_256x`).

The folder holds `config.json` (generator and training hyper-parameters) and
`bigvgan_generator.pt`, a dict whose `generator` entry is the state dict with every convolution in
weight-norm form (`weight_g`, `weight_v`). The official code loads that strictly and then removes
weight norm; we fold the pairs into plain weights before a strict load, which gives the same
weights (same kernel) without the weight-norm machinery. A file already stored without weight
norm loads too, as it does officially.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from indextts.errors import CheckpointError, ConfigError
from indextts.vocoder.bigvgan import BigVGAN, BigVGANConfig
from indextts.weights import build_on_meta, fold_weight_norms, load_strict, torch_load, unfold_weight_norms

CONFIG_FILENAME = "config.json"
GENERATOR_FILENAME = "bigvgan_generator.pt"
GENERATOR_KEY = "generator"


def load_bigvgan_config(folder: str | Path) -> BigVGANConfig:
    path = Path(folder) / CONFIG_FILENAME
    if not path.is_file():
        raise CheckpointError(f"BigVGAN config not found: {path}. See checkpoints/README.md for the download commands.")
    try:
        mapping = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    return BigVGANConfig.from_dict(mapping, str(path))


def _weight_norm_stems(module: nn.Module) -> list[str]:
    """Every convolution of the generator is weight-normed in the official file; nothing else is."""
    return [name for name, m in module.named_modules() if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d))]


def bigvgan_from_official(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The official `generator` state dict → ours: weight-norm pairs folded into plain weights."""
    return fold_weight_norms(state)


def bigvgan_to_official(module: BigVGAN) -> dict[str, Any]:
    """The contents of an official `bigvgan_generator.pt` for `module` (weights in weight-norm form)."""
    state = {key: t.detach() for key, t in module.state_dict().items()}
    return {GENERATOR_KEY: unfold_weight_norms(state, _weight_norm_stems(module))}


def load_bigvgan(folder: str | Path, device: str | torch.device = "cpu") -> BigVGAN:
    """Build the generator described by `folder/config.json` and load `bigvgan_generator.pt` strictly.

    Returned in eval mode, without gradients, in float32 (the official pipeline always vocodes in fp32).
    """
    folder = Path(folder)
    config = load_bigvgan_config(folder)
    path = folder / GENERATOR_FILENAME
    checkpoint = torch_load(path, "BigVGAN generator")
    if not isinstance(checkpoint, Mapping) or GENERATOR_KEY not in checkpoint:
        raise CheckpointError(f"{path} has no '{GENERATOR_KEY}' entry; is it a BigVGAN generator checkpoint?")
    module = build_on_meta(lambda: BigVGAN(config))
    load_strict(module, bigvgan_from_official(checkpoint[GENERATOR_KEY]), str(path))
    return module.to(device=device, dtype=torch.float32).eval().requires_grad_(False)


def write_bigvgan(folder: str | Path, config: Mapping[str, Any], module: BigVGAN) -> Path:
    """Write `config.json` (as given, training keys included) and `bigvgan_generator.pt` in the official layout."""
    parsed = BigVGANConfig.from_dict(config, "config to write")
    if parsed != module.config:
        raise ConfigError("the config to write does not describe the given BigVGAN module")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_FILENAME).write_text(json.dumps(dict(config), indent=4) + "\n", encoding="utf-8")
    generator = bigvgan_to_official(module)[GENERATOR_KEY]
    torch.save({GENERATOR_KEY: {key: t.cpu() for key, t in generator.items()}}, folder / GENERATOR_FILENAME)
    return folder
