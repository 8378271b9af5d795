"""A checkpoint folder in the official layout, written by the project for tests, demos and benchmarks.

No weights can be downloaded everywhere the project runs, so tests and the demo UI use a folder
this module writes: `config.yaml` with the official keys (official sizes, or shrunk ones for
fast tests) and a `bpe.model` trained here on text the project wrote. Loading code treats it
exactly like the real IndexTeam/IndexTTS-2 folder. Its output is not meaningful speech.
"""

from __future__ import annotations

import dataclasses
import io
import logging
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from indextts.config import CONFIG_FILENAME, ModelConfig, load_config, parse_config
from indextts.text.rules import PINYIN_FINALS, PINYIN_INITIALS, replace_punctuation, split_cjk

log = logging.getLogger(__name__)

DemoSize = Literal["tiny", "full"]
DEMO_MARKER = "DEMO_CHECKPOINT.txt"
# Bumped whenever what this module writes changes, so stale demo folders are rewritten.
DEMO_FORMAT = 1


def _marker_text(size: DemoSize) -> str:
    return (
        f"format: {DEMO_FORMAT}\nsize: {size}\n\n"
        "This folder was written by indextts.demo_checkpoint for tests and demos: it is built by the\n"
        "project, not trained (random weights, a tokenizer trained on the project's own text). It\n"
        "exercises the real loading and inference code; its output is not meaningful speech.\n"
        "Download the real model as described in checkpoints/README.md.\n"
    )


def official_config() -> ModelConfig:
    """The published IndexTTS-2 hyper-parameters (shipped with the package)."""
    with resources.as_file(resources.files("indextts.data") / "indextts2_config.yaml") as path:
        return load_config(path)


def tiny_config() -> ModelConfig:
    """Official structure with small widths and depths: seconds per synthesis on a CPU.

    Widths the official code ties to external models (w2v-BERT's 1024, the 8192-code codebook,
    CAMPPlus' 192, 80 mel bins) keep their official values.
    """
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
    codec = dataclasses.replace(cfg.semantic_codec, vocos_dim=32, vocos_intermediate_dim=64, vocos_num_layers=1)
    s2mel = dataclasses.replace(
        cfg.s2mel,
        length_regulator=dataclasses.replace(cfg.s2mel.length_regulator, channels=64),
        dit=dataclasses.replace(cfg.s2mel.dit, hidden_dim=64, num_heads=2, depth=2, content_dim=64),
        wavenet=dataclasses.replace(cfg.s2mel.wavenet, hidden_dim=64, num_layers=2),
    )
    return dataclasses.replace(cfg, gpt=gpt, semantic_codec=codec, s2mel=s2mel)


def config_to_mapping(cfg: Any) -> Any:
    """The YAML mapping of a config dataclass, with the official key names."""
    if dataclasses.is_dataclass(cfg):
        return {f.metadata.get("key", f.name): config_to_mapping(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, tuple):
        return list(cfg)
    return "None" if cfg is None else cfg


def write_config(cfg: ModelConfig, path: Path) -> None:
    text = yaml.safe_dump(config_to_mapping(cfg), sort_keys=False, allow_unicode=True)
    parse_config(yaml.safe_load(text), str(path))  # what we write must read back
    path.write_text(text, encoding="utf-8")


# --- tokenizer ---------------------------------------------------------------------------------


def _gb2312_hanzi() -> Iterator[str]:
    """The 6763 characters of GB 2312 levels 1 and 2: nearly all modern written Chinese."""
    for row in range(0xB0, 0xF8):
        for col in range(0xA1, 0xFF):
            try:
                char = bytes((row, col)).decode("gb2312")
            except UnicodeDecodeError:
                continue
            if "\u4e00" <= char <= "\u9fff":
                yield char


def _toned_pinyin() -> Iterator[str]:
    """Every initial × final × tone, spelled as the normaliser hands pinyin to the tokenizer."""
    for initial in ("", *PINYIN_INITIALS):
        for final in PINYIN_FINALS:
            for tone in "12345":
                syllable = initial + final.replace("ü", "v") + tone
                yield syllable.upper() if initial[:1] in ("j", "q", "x") else syllable


def demo_corpus() -> Iterator[str]:
    """Lines in the GPT's text space (punctuation as the normaliser leaves it, CJK split)."""
    text = (resources.files("indextts.data") / "demo_corpus.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line and not line.startswith("#"):
            chinese = any("\u4e00" <= ch <= "\u9fff" for ch in line)
            yield split_cjk(replace_punctuation(line, chinese=chinese))
    hanzi = list(_gb2312_hanzi())
    for start in range(0, len(hanzi), 40):
        yield " ".join(hanzi[start : start + 40])
    yield " ".join(_toned_pinyin())
    yield " ".join("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def train_demo_tokenizer(path: Path, vocab_size: int = 12000) -> None:
    """A SentencePiece BPE model with the official special ids: <s>=0, </s>=1, <unk>=2."""
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=demo_corpus(),
        model_writer=model,
        model_type="bpe",
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        character_coverage=1.0,
        bos_id=0,
        eos_id=1,
        unk_id=2,
        pad_id=-1,
        num_threads=1,
        minloglevel=2,
    )
    path.write_bytes(model.getvalue())


# --- the folder --------------------------------------------------------------------------------


def write_demo_checkpoint(model_dir: str | Path, size: DemoSize = "tiny") -> Path:
    """Write a demo checkpoint folder, or complete one this version of the module wrote before.

    A folder written by another format or size is written anew; a real checkpoint (no demo
    marker but model files) is never touched.
    """
    model_dir = Path(model_dir)
    marker = model_dir / DEMO_MARKER
    cfg = tiny_config() if size == "tiny" else official_config()
    if not marker.is_file() and (model_dir / cfg.dataset.bpe_model).is_file():
        raise FileExistsError(f"{model_dir} holds a model that is not a demo checkpoint; not overwriting it")
    current = marker.is_file() and marker.read_text(encoding="utf-8") == _marker_text(size)
    model_dir.mkdir(parents=True, exist_ok=True)
    if not current or not (model_dir / CONFIG_FILENAME).is_file():
        write_config(cfg, model_dir / CONFIG_FILENAME)
    bpe = model_dir / cfg.dataset.bpe_model
    if not current or not bpe.is_file():
        log.info("Training the demo tokenizer into %s", bpe)
        train_demo_tokenizer(bpe, vocab_size=cfg.gpt.number_text_tokens)
    marker.write_text(_marker_text(size), encoding="utf-8")
    return model_dir


def is_demo_checkpoint(model_dir: str | Path) -> bool:
    return (Path(model_dir) / DEMO_MARKER).is_file()
