"""The demo checkpoint: official layout and keys, a tokenizer with the official special pieces."""

from __future__ import annotations

import pytest
import sentencepiece as spm

from indextts.config import load_config
from indextts.demo_checkpoint import is_demo_checkpoint, train_demo_tokenizer
from indextts.text.segmenter import COMMAS, HYPHENS, QUOTES, SENTENCE_ENDS


def test_demo_checkpoint_reads_like_an_official_one(demo_dir):
    cfg = load_config(demo_dir)
    assert is_demo_checkpoint(demo_dir)
    assert cfg.gpt.model_dim < 1280 and cfg.version == 2.0
    sp = spm.SentencePieceProcessor(model_file=str(demo_dir / cfg.dataset.bpe_model))
    assert sp.GetPieceSize() <= cfg.gpt.number_text_tokens
    assert (sp.IdToPiece(0), sp.IdToPiece(1)) == ("<s>", "</s>")
    for piece in SENTENCE_ENDS | COMMAS | HYPHENS | QUOTES:
        assert sp.PieceToId(piece) != sp.unk_id(), piece
    assert sp.PieceToId("▁!") == sp.unk_id()  # as in the official vocabulary
    assert sp.PieceToId("▁中") != sp.unk_id() and sp.PieceToId("鑫") != sp.unk_id()  # all of GB 2312


def test_demo_tokenizer_training_is_deterministic(tmp_path, demo_dir):
    train_demo_tokenizer(tmp_path / "bpe.model")
    assert (tmp_path / "bpe.model").read_bytes() == (demo_dir / "bpe.model").read_bytes()


def test_stale_or_other_size_demo_folders_are_rewritten_and_real_ones_kept(tmp_path):
    from indextts.demo_checkpoint import DEMO_MARKER, write_demo_checkpoint

    folder = write_demo_checkpoint(tmp_path / "demo", "tiny")
    (folder / "bpe.model").write_bytes(b"stale")
    (folder / DEMO_MARKER).write_text("format: 0\n")
    write_demo_checkpoint(folder, "tiny")
    assert (folder / "bpe.model").read_bytes() != b"stale"
    write_demo_checkpoint(folder, "full")
    assert load_config(folder).gpt.model_dim == 1280

    real = tmp_path / "real"
    real.mkdir()
    (real / "bpe.model").write_bytes(b"the user's tokenizer")
    with pytest.raises(FileExistsError, match="not a demo checkpoint"):
        write_demo_checkpoint(real)
    assert (real / "bpe.model").read_bytes() == b"the user's tokenizer"
