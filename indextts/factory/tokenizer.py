"""A SentencePiece BPE for factory checkpoints, trained on the project's own text.

Same special ids as the official bpe.model (<s>=0, </s>=1, <unk>=2) and 12000 pieces, covering all
of GB 2312 and the toned pinyin the normaliser emits, so any Chinese or English text tokenises.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from indextts.text.rules import PINYIN_FINALS, PINYIN_INITIALS, replace_punctuation, split_cjk


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
