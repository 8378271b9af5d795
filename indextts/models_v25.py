"""Loading every network of an IndexTTS-2.5 checkpoint into the shared `Models` (beside `models`)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from indextts.checkpoint_v25 import load_unified_voice_25, resolve_checkpoint_25
from indextts.config import default_cache_dir
from indextts.config_v25 import ModelConfig25
from indextts.errors import CheckpointError
from indextts.models import Models, _timed, load_emotion_models
from indextts.prompts_v25 import PromptEncoder25
from indextts.s2mel.model import load_s2mel
from indextts.semantic.codec_v25 import load_enhanced_codec
from indextts.semantic.features import load_semantic_features
from indextts.speaker import load_campplus
from indextts.text.frontend_v25 import MultilingualFrontEnd
from indextts.vocoder import load_bigvgan

log = logging.getLogger(__name__)


def _frontend(model_dir: Path, cfg: ModelConfig25, cache_dir: Path) -> MultilingualFrontEnd:
    """The 2.5 text front end: the checkpoint's tiktoken file, per-language normalisation."""
    return MultilingualFrontEnd.from_checkpoint(model_dir, cfg.tokenizer_file, cfg.gpt.max_text_tokens, cache_dir)


def load_models_25(
    model_dir: str | Path,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
    cache_dir: Path | None = None,
    prompt_cache_size: int = 8,
) -> Models:
    paths = resolve_checkpoint_25(model_dir)
    cfg = paths.config
    assert isinstance(cfg, ModelConfig25)
    frontend = _timed("text front end (2.5)", lambda: _frontend(paths.model_dir, cfg, cache_dir or default_cache_dir()))
    if frontend.tokenizer.vocab_size > cfg.gpt.number_text_tokens + 1:
        raise CheckpointError(
            f"{paths.bpe} has {frontend.tokenizer.vocab_size} tokens but the GPT's text table has "
            f"{cfg.gpt.number_text_tokens + 1} rows (gpt.number_text_tokens)"
        )
    features = _timed("w2v-BERT", lambda: load_semantic_features(paths.w2v_bert, paths.w2v_stats, device))
    if features.width != cfg.semantic_dim:
        raise CheckpointError(
            f"w2v-BERT at {paths.w2v_bert} is {features.width} wide but config.yaml expects {cfg.semantic_dim} "
            "(semantic_codec.hidden_size)"
        )
    codec = _timed(
        "semantic codec (codec.pth)", lambda: load_enhanced_codec(paths.semantic_codec, cfg.semantic_codec, device)
    )
    campplus = _timed("CAMPPlus", lambda: load_campplus(paths.campplus, device))
    gpt = _timed("GPT (2.5)", lambda: load_unified_voice_25(paths.gpt, cfg, device, dtype))
    s2mel = _timed("s2mel", lambda: load_s2mel(paths.s2mel, cfg, device))
    vocoder = _timed("BigVGAN", lambda: load_bigvgan(paths.bigvgan, device))
    for module in (features, codec, campplus, gpt, s2mel, vocoder):
        module.requires_grad_(False)
    matrices, text_emotion = load_emotion_models(paths, cfg, device)
    prompts = PromptEncoder25(cfg, features, codec, campplus, s2mel, device, prompt_cache_size)  # type: ignore[arg-type]
    return Models(paths, device, dtype, frontend, prompts, codec, gpt, s2mel, vocoder, matrices, text_emotion, "2.5")  # type: ignore[arg-type]
