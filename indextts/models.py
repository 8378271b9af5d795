"""All the networks of one IndexTTS2 checkpoint, loaded once onto one device.

Legend: see each stage's module. The text-emotion model is loaded on first use only.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from indextts.checkpoint import CheckpointPaths, load_emotion_tensors, load_unified_voice, resolve_checkpoint
from indextts.config import ModelConfig, default_cache_dir
from indextts.emotion.text_emotion import TextEmotionModel
from indextts.emotion.vectors import EmotionMatrices
from indextts.errors import CheckpointError
from indextts.gpt.unified_voice import UnifiedVoice
from indextts.prompts import PromptEncoder
from indextts.s2mel.model import S2Mel, load_s2mel
from indextts.semantic.codec import SemanticCodec, load_semantic_codec
from indextts.semantic.features import load_semantic_features
from indextts.speaker import load_campplus
from indextts.text.frontend import TextFrontEnd
from indextts.vocoder import BigVGAN, load_bigvgan

log = logging.getLogger(__name__)


@dataclass
class Models:
    paths: CheckpointPaths
    device: torch.device
    dtype: torch.dtype  # of the GPT; every other stage runs in float32, as in the official code
    frontend: TextFrontEnd
    prompts: PromptEncoder
    codec: SemanticCodec
    gpt: UnifiedVoice
    s2mel: S2Mel
    vocoder: BigVGAN
    matrices: EmotionMatrices
    text_emotion: TextEmotionModel | None

    @property
    def cfg(self) -> ModelConfig:
        return self.paths.config


def _timed(what: str, load):
    started = time.perf_counter()
    value = load()
    log.info("loaded %s in %.2f s", what, time.perf_counter() - started)
    return value


def load_models(
    model_dir: str | Path,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
    cache_dir: Path | None = None,
    prompt_cache_size: int = 8,
) -> Models:
    paths = resolve_checkpoint(model_dir)
    cfg = paths.config

    frontend = _timed(
        "text front end", lambda: TextFrontEnd.from_checkpoint(paths.model_dir, cfg, cache_dir or default_cache_dir())
    )
    features = _timed("w2v-BERT", lambda: load_semantic_features(paths.w2v_bert, paths.w2v_stats, device))
    if features.width != cfg.semantic_dim:
        raise CheckpointError(
            f"w2v-BERT at {paths.w2v_bert} is {features.width} wide but config.yaml expects {cfg.semantic_dim} "
            "(semantic_codec.hidden_size)"
        )
    codec = _timed("semantic codec", lambda: load_semantic_codec(paths.semantic_codec, cfg.semantic_codec, device))
    campplus = _timed("CAMPPlus", lambda: load_campplus(paths.campplus, device))
    gpt = _timed("GPT", lambda: load_unified_voice(paths.gpt, cfg, device, dtype))
    s2mel = _timed("s2mel", lambda: load_s2mel(paths.s2mel, cfg, device))
    vocoder = _timed("BigVGAN", lambda: load_bigvgan(paths.bigvgan, device))
    for module in (features, codec, campplus, gpt, s2mel, vocoder):
        module.requires_grad_(False)  # inference only: no autograd bookkeeping anywhere
    spk_matrix, emo_matrix = load_emotion_tensors(paths)
    matrices = EmotionMatrices.from_tensors(
        spk_matrix, emo_matrix, cfg.emo_num, cfg.s2mel.style_encoder.dim, cfg.gpt.model_dim
    ).to(device)
    text_emotion = None
    if paths.qwen_emo.is_dir():
        text_emotion = TextEmotionModel(paths.qwen_emo, device=device)
    else:
        log.warning("no emotion-from-text model at %s: that mode is unavailable", paths.qwen_emo)
    prompts = PromptEncoder(cfg, features, codec, campplus, s2mel, device, prompt_cache_size)
    return Models(paths, device, dtype, frontend, prompts, codec, gpt, s2mel, vocoder, matrices, text_emotion)
