"""Random-weight files in the official formats, one function per file of the checkpoint folder.

Each writer builds our module for the component, gives it reproducible random values and saves
it under the official file name with the official keys (the inverse of that stage's loader), so a
folder written here loads through exactly the same code as IndexTeam/IndexTTS-2.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from indextts.config import ModelConfig
from indextts.weights import init_random_

# Emotion prototype rows are unit-scale vectors, as trained prototypes roughly are.
_PROTOTYPE_STD = 1.0


def _generator(seed: int, salt: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + salt)


def random_module(module: nn.Module, seed: int, salt: int) -> nn.Module:
    return init_random_(module.eval(), _generator(seed, salt))


def write_gpt(path: Path, cfg: ModelConfig, seed: int) -> None:
    from indextts.gpt.unified_voice import UnifiedVoice

    model = random_module(UnifiedVoice(cfg.gpt, cfg.semantic_dim), seed, 1)
    torch.save(model.state_dict(), path)  # flat, as the official file


def write_s2mel(path: Path, cfg: ModelConfig, seed: int) -> None:
    from indextts.s2mel.model import S2Mel, s2mel_to_official

    torch.save(s2mel_to_official(random_module(S2Mel(cfg), seed, 2)), path)


def write_w2v_stats(path: Path, cfg: ModelConfig, seed: int) -> None:
    g = _generator(seed, 3)
    width = cfg.semantic_dim
    mean = torch.randn(width, generator=g) * 0.1
    var = 0.5 + torch.rand(width, generator=g)
    torch.save({"mean": mean, "var": var}, path)


def write_emotion_matrices(spk_path: Path, emo_path: Path, cfg: ModelConfig, seed: int) -> None:
    g = _generator(seed, 4)
    rows = sum(cfg.emo_num)
    torch.save(torch.randn(rows, cfg.s2mel.style_encoder.dim, generator=g) * _PROTOTYPE_STD, spk_path)
    torch.save(torch.randn(rows, cfg.gpt.model_dim, generator=g) * 0.02, emo_path)


def write_w2v_bert(folder: Path, config: dict[str, Any], seed: int) -> None:
    """A Wav2Vec2BertModel folder as on the hub: config.json, model.safetensors, preprocessor_config.json."""
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertConfig, Wav2Vec2BertModel

    from indextts.audio import W2V_BERT_PREPROCESSOR

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed * 1_000_003 + 5)
        model = Wav2Vec2BertModel(Wav2Vec2BertConfig(**config)).eval()
    model.config.architectures = ["Wav2Vec2BertModel"]
    model.save_pretrained(str(folder))
    SeamlessM4TFeatureExtractor(**W2V_BERT_PREPROCESSOR).save_pretrained(str(folder))


def write_semantic_codec(path: Path, cfg: ModelConfig, seed: int) -> None:
    from safetensors.torch import save_file

    from indextts.semantic.codec import SemanticCodec, semantic_codec_to_official

    codec = random_module(SemanticCodec(cfg.semantic_codec), seed, 6)
    _fan_in_init_(codec, _generator(seed, 11))  # embeddings of the size of the features they stand for
    state = semantic_codec_to_official(codec.state_dict())
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))


def write_campplus(path: Path, cfg: ModelConfig, seed: int) -> None:
    from indextts.speaker import CAMPPlus, campplus_to_official

    model = random_module(CAMPPlus(embedding_size=cfg.s2mel.style_encoder.dim), seed, 7)
    _fan_in_init_(model, _generator(seed, 10))  # a style vector of order 1, not 1e-6
    torch.save(campplus_to_official(model.state_dict()), path)


def _fan_in_init_(model: nn.Module, generator: torch.Generator, output_gain: float = 1.0, last: str = "") -> None:
    """N(0, 1/fan_in) weights for every convolution and linear layer: they keep the signal's scale
    through deep stacks without normalisation (BigVGAN) or with frozen batch-norm statistics
    (CAMPPlus), where N(0, 0.02) would shrink it to nothing. The layer named `last` gets `output_gain`."""
    with torch.no_grad():
        for name, module in model.named_modules():
            if not isinstance(module, nn.Conv1d | nn.Conv2d | nn.ConvTranspose1d | nn.Linear):
                continue
            weight = module.weight
            if isinstance(module, nn.ConvTranspose1d):  # (in, out, k): each output sees in · k / stride inputs
                fan_in = weight.shape[0] * weight.shape[2] // module.stride[0]
            else:
                fan_in = weight[0].numel()
            gain = output_gain if name == last else 1.0
            weight.copy_(torch.randn(weight.shape, generator=generator) * gain / math.sqrt(fan_in))


def write_bigvgan_folder(folder: Path, config: dict[str, Any], seed: int) -> None:
    from indextts.vocoder import BigVGAN, BigVGANConfig, write_bigvgan

    model = random_module(BigVGAN(BigVGANConfig.from_dict(config)), seed, 8)
    # an output level of roughly 0.1–0.2 RMS: audible noise that rarely clips
    _fan_in_init_(model, _generator(seed, 9), output_gain=0.003, last="conv_post")
    write_bigvgan(folder, config, model)
