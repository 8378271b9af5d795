"""Checkpoint factory: complete official-layout checkpoint folders with random weights.

No weights can be downloaded everywhere the project runs, so tests, the demo UI and benchmarks use
a folder written here: config.yaml, gpt.pth, s2mel.pth, bpe.model, wav2vec2bert_stats.pt, feat1.pt,
feat2.pt, a tiny Qwen emotion folder, and under hf_cache/ the four external components with their
official file names and formats. Loading code treats it exactly like the real IndexTeam/IndexTTS-2
folder. `tiny` builds and runs in seconds on a CPU; `full` has the official sizes (parity and
benchmarks). Its output is not meaningful speech.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from indextts.checkpoint import BIGVGAN, CAMPPLUS, HF_CACHE_DIRNAME, SEMANTIC_CODEC, W2V_BERT
from indextts.config import CONFIG_FILENAME
from indextts.factory import writers
from indextts.factory.configs import (
    SIZES,
    CheckpointSize,
    bigvgan_config,
    config_to_mapping,
    model_config,
    official_config,
    tiny_config,
    w2v_bert_config,
    write_config,
)
from indextts.factory.multilingual_vocab import write_multilingual_tokenizer
from indextts.factory.tokenizer import train_demo_tokenizer

__all__ = [
    "DEMO_MARKER",
    "SIZES",
    "CheckpointSize",
    "config_to_mapping",
    "is_demo_checkpoint",
    "make_checkpoint",
    "official_config",
    "tiny_config",
    "write_config",
    "write_multilingual_tokenizer",
]

log = logging.getLogger(__name__)

DEMO_MARKER = "DEMO_CHECKPOINT.txt"
# Bumped whenever what the factory writes changes, so stale folders are rewritten.
FACTORY_FORMAT = 4
# The same for the 2.5 layout (2: real tiktoken vocabulary; 3: 107 language rows; 4: tiny keeps width 1024).
FACTORY_FORMAT_25 = 4


def _marker_text(size: CheckpointSize, seed: int) -> str:
    return (
        f"format: {FACTORY_FORMAT_25 if size.endswith('-2.5') else FACTORY_FORMAT}\nsize: {size}\nseed: {seed}\n\n"
        "This folder was written by `python -m indextts make-checkpoint` for tests, demos and benchmarks:\n"
        "random weights and a tokenizer trained on the project's own text, in the official layout.\n"
        "It exercises the real loading and inference code; its output is not meaningful speech.\n"
        "Download the real model as described in checkpoints/README.md.\n"
    )


def is_demo_checkpoint(model_dir: str | Path) -> bool:
    return (Path(model_dir) / DEMO_MARKER).is_file()


def make_checkpoint(model_dir: str | Path, size: CheckpointSize = "tiny", seed: int = 0) -> Path:
    """Write a complete checkpoint folder; a folder this factory already wrote with the same
    format, size and seed is kept as it is. A real checkpoint (model files, no marker) is never touched."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, not {size!r}")
    model_dir = Path(model_dir)
    marker = model_dir / DEMO_MARKER
    if not marker.is_file() and any((model_dir / name).exists() for name in ("gpt.pth", "bpe.model", "codec.pth")):
        raise FileExistsError(f"{model_dir} holds a model that was not written by the factory; not overwriting it")
    if marker.is_file() and marker.read_text(encoding="utf-8") == _marker_text(size, seed):
        return model_dir
    started = time.perf_counter()
    log.info("Writing a %s random-weight checkpoint (seed %d) into %s", size, seed, model_dir)
    marker.unlink(missing_ok=True)  # an interrupted write must not look complete
    if size.endswith("-2.5"):
        from indextts.factory.checkpoint_v25 import write_folder_25

        model_dir.mkdir(parents=True, exist_ok=True)
        write_folder_25(model_dir, size.removesuffix("-2.5"), seed)
        marker.write_text(_marker_text(size, seed), encoding="utf-8")
        log.info("Checkpoint written in %.1f s", time.perf_counter() - started)
        return model_dir
    cfg = model_config(size)
    hf_cache = model_dir / HF_CACHE_DIRNAME
    hf_cache.mkdir(parents=True, exist_ok=True)
    write_config(cfg, model_dir / CONFIG_FILENAME)
    train_demo_tokenizer(model_dir / cfg.dataset.bpe_model, vocab_size=cfg.gpt.number_text_tokens)
    writers.write_gpt(model_dir / cfg.gpt_checkpoint, cfg, seed)
    writers.write_s2mel(model_dir / cfg.s2mel_checkpoint, cfg, seed)
    writers.write_w2v_stats(model_dir / cfg.w2v_stat, cfg, seed)
    writers.write_emotion_matrices(model_dir / cfg.spk_matrix, model_dir / cfg.emo_matrix, cfg, seed)
    from indextts.emotion.tiny_qwen import write_tiny_qwen

    write_tiny_qwen(model_dir / cfg.qwen_emo_path, seed)
    writers.write_w2v_bert(hf_cache / W2V_BERT.local_name, w2v_bert_config(size), seed)
    writers.write_semantic_codec(hf_cache / SEMANTIC_CODEC.local_name, cfg, seed)
    writers.write_campplus(hf_cache / CAMPPLUS.local_name, cfg, seed)
    writers.write_bigvgan_folder(hf_cache / BIGVGAN.local_name, bigvgan_config(size), seed)
    marker.write_text(_marker_text(size, seed), encoding="utf-8")
    log.info("Checkpoint written in %.1f s", time.perf_counter() - started)
    return model_dir
