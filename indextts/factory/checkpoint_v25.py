"""Random-weight IndexTTS-2.5 checkpoint folders (`make-checkpoint tiny-2.5 | full-2.5`).

The official 2.5 layout: config.yaml (version 2.5), gpt.pth (campplus-mode UnifiedVoice: spk_emb_proj
and lang_embedding, no speaker conformer/perceiver/speed_emb), s2mel.pth, codec.pth ({"model": …},
EnhancedCodec with down/up), the tiktoken file, wav2vec2bert_stats.pt, feat1.pt, feat2.pt, a tiny
Qwen emotion folder, and under hf_cache/ w2v-BERT, CAMPPlus and BigVGAN (no MaskGCT codec).
Sizes: `full` the official widths; `tiny` the 2.0 tiny (seconds on a CPU) except for the one width
the official 2.5 code hard-codes, so that `infer_v2_5.IndexTTS2` loads the folder unchanged (the
parity tooling runs it on our factory's files): the semantic width stays 1024 — w2v-BERT's hidden
size (17 layers, small heads and feed-forward), the codec's `hidden_size` and the length regulator's
`in_channels` (upstream, the emotion conformer input, the emotion perceiver and `emovec_layer` are
`1024` literals). The GPT width is free: the official 2.5 s2mel is built without `gpt_layer`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from indextts.config import parse_config
from indextts.config_v25 import DEFAULT_TOKENIZER_FILE, VERSION_25, ModelConfig25, SemanticCodecConfig25
from indextts.factory import writers
from indextts.factory.configs import config_to_mapping, official_config, tiny_config
from indextts.factory.multilingual_vocab import write_multilingual_tokenizer

OFFICIAL_TEXT_TOKENS = 60509  # number_text_tokens of the released 2.5 GPT
# The w2v-BERT width the official 2.5 code hard-codes (emotion conformer, perceiver, emovec_layer).
OFFICIAL_SEMANTIC_DIM = 1024


def config_25(base_size: str) -> ModelConfig25:
    """The 2.0 hyper-parameters of that size, turned into the 2.5 layout."""
    base = tiny_config() if base_size == "tiny" else official_config()
    mapping = config_to_mapping(base)
    mapping["version"] = VERSION_25
    mapping["dataset"]["bpe_model"] = DEFAULT_TOKENIZER_FILE
    mapping["gpt"]["number_text_tokens"] = OFFICIAL_TEXT_TOKENS
    codec = config_to_mapping(SemanticCodecConfig25(**dataclasses.asdict(base.semantic_codec)))
    mapping["semantic_codec"] = codec
    codec["hidden_size"] = OFFICIAL_SEMANTIC_DIM  # semantic_dim; a tiny base shrinks it, the official code cannot
    mapping["s2mel"]["length_regulator"]["in_channels"] = OFFICIAL_SEMANTIC_DIM
    cfg = parse_config(mapping, "<factory 2.5>", ModelConfig25)
    assert isinstance(cfg, ModelConfig25)
    return cfg


def write_gpt_25(path: Path, cfg: ModelConfig25, seed: int) -> None:
    from indextts.gpt.unified_voice_v25 import UnifiedVoice25

    model = writers.random_module(UnifiedVoice25(cfg.gpt, cfg.semantic_dim), seed, 1)
    torch.save(model.state_dict(), path)  # flat, as the official file


def write_codec_25(path: Path, cfg: ModelConfig25, seed: int) -> None:
    from indextts.semantic.codec_v25 import EnhancedCodec, codec_to_official

    codec = writers.random_module(EnhancedCodec(cfg.semantic_codec), seed, 6)
    writers._fan_in_init_(codec, writers._generator(seed, 11))
    torch.save(codec_to_official(codec), path)


def write_folder_25(model_dir: Path, size: str, seed: int) -> ModelConfig25:
    """Everything but the marker; returns the config written. `size`: "tiny" or "full"."""
    from indextts.checkpoint import BIGVGAN, CAMPPLUS, HF_CACHE_DIRNAME, W2V_BERT
    from indextts.config_v25 import CODEC_CHECKPOINT
    from indextts.emotion.tiny_qwen import write_tiny_qwen
    from indextts.factory.configs import bigvgan_config, w2v_bert_config, write_config

    cfg = config_25(size)
    vocab = write_multilingual_tokenizer(model_dir / cfg.tokenizer_file, size)  # type: ignore[arg-type]
    if size == "tiny":  # a tiny text table: as many rows as the tiny tokenizer has ids
        cfg = dataclasses.replace(cfg, gpt=dataclasses.replace(cfg.gpt, number_text_tokens=vocab))
    hf_cache = model_dir / HF_CACHE_DIRNAME
    hf_cache.mkdir(parents=True, exist_ok=True)
    write_config(cfg, model_dir / "config.yaml", ModelConfig25)
    write_gpt_25(model_dir / cfg.gpt_checkpoint, cfg, seed)
    writers.write_s2mel(model_dir / cfg.s2mel_checkpoint, cfg, seed)
    write_codec_25(model_dir / CODEC_CHECKPOINT, cfg, seed)
    writers.write_w2v_stats(model_dir / cfg.w2v_stat, cfg, seed)
    writers.write_emotion_matrices(model_dir / cfg.spk_matrix, model_dir / cfg.emo_matrix, cfg, seed)
    write_tiny_qwen(model_dir / cfg.qwen_emo_path, seed)
    writers.write_w2v_bert(hf_cache / W2V_BERT.local_name, w2v_bert_config(size, cfg.semantic_dim), seed)  # type: ignore[arg-type]
    writers.write_campplus(hf_cache / CAMPPLUS.local_name, cfg, seed)
    writers.write_bigvgan_folder(hf_cache / BIGVGAN.local_name, bigvgan_config(size), seed)  # type: ignore[arg-type]
    return cfg
