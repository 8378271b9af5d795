"""The checkpoint factory: complete official-layout folders with random weights."""

from __future__ import annotations

import pytest
import sentencepiece as spm
import torch

from indextts.checkpoint import resolve_checkpoint
from indextts.config import load_config
from indextts.factory import DEMO_MARKER, is_demo_checkpoint, make_checkpoint
from indextts.factory.tokenizer import train_demo_tokenizer
from indextts.text.segmenter import COMMAS, HYPHENS, QUOTES, SENTENCE_ENDS

pytestmark = pytest.mark.generation("2", reason="the `tiny` factory folder and its SentencePiece tokenizer")


def test_tiny_checkpoint_reads_like_an_official_one(demo_dir):
    cfg = load_config(demo_dir)
    assert is_demo_checkpoint(demo_dir)
    assert cfg.gpt.model_dim < 1280 and cfg.version == 2.0
    paths = resolve_checkpoint(demo_dir)  # every file and external component is where the loader looks
    assert paths.w2v_bert == demo_dir / "hf_cache" / "w2v-bert-2.0"
    assert (paths.bigvgan / "bigvgan_generator.pt").is_file() and paths.qwen_emo.is_dir()
    gpt = torch.load(paths.gpt, weights_only=True)
    assert "gpt.h.0.attn.c_attn.weight" in gpt and not any(k.startswith("gpt.wte") for k in gpt)
    assert set(torch.load(paths.s2mel, weights_only=True)["net"]) == {"cfm", "length_regulator", "gpt_layer"}
    assert tuple(torch.load(paths.spk_matrix, weights_only=True).shape) == (73, 192)
    assert tuple(torch.load(paths.emo_matrix, weights_only=True).shape) == (73, cfg.gpt.model_dim)


def test_tiny_tokenizer_has_the_official_special_pieces(demo_dir):
    cfg = load_config(demo_dir)
    sp = spm.SentencePieceProcessor(model_file=str(demo_dir / cfg.dataset.bpe_model))
    assert sp.GetPieceSize() <= cfg.gpt.number_text_tokens
    assert (sp.IdToPiece(0), sp.IdToPiece(1)) == ("<s>", "</s>")
    for piece in SENTENCE_ENDS | COMMAS | HYPHENS | QUOTES:
        assert sp.PieceToId(piece) != sp.unk_id(), piece
    assert sp.PieceToId("▁!") == sp.unk_id()  # as in the official vocabulary
    assert sp.PieceToId("▁中") != sp.unk_id() and sp.PieceToId("鑫") != sp.unk_id()  # all of GB 2312


def test_tokenizer_training_is_deterministic(tmp_path, demo_dir):
    train_demo_tokenizer(tmp_path / "bpe.model")
    assert (tmp_path / "bpe.model").read_bytes() == (demo_dir / "bpe.model").read_bytes()


def test_same_seed_same_weights_and_stale_folders_are_rewritten_real_ones_kept(tmp_path, demo_dir):
    folder = make_checkpoint(tmp_path / "again", "tiny", seed=0)
    for name in ("gpt.pth", "feat2.pt", "hf_cache/campplus_cn_common.bin"):
        ours, theirs = torch.load(folder / name, weights_only=True), torch.load(demo_dir / name, weights_only=True)
        if isinstance(ours, torch.Tensor):
            ours, theirs = {"t": ours}, {"t": theirs}
        assert all(torch.equal(ours[k], theirs[k]) for k in ours), name

    (folder / "gpt.pth").write_bytes(b"stale")
    (folder / DEMO_MARKER).write_text("format: 0\n")
    make_checkpoint(folder, "tiny", seed=0)
    assert (folder / "gpt.pth").read_bytes() != b"stale"

    other = make_checkpoint(tmp_path / "seed1", "tiny", seed=1)
    a = torch.load(other / "gpt.pth", weights_only=True)["mel_head.weight"]
    assert not torch.equal(a, torch.load(demo_dir / "gpt.pth", weights_only=True)["mel_head.weight"])

    real = tmp_path / "real"
    real.mkdir()
    (real / "gpt.pth").write_bytes(b"the user's weights")
    with pytest.raises(FileExistsError, match="not written by the factory"):
        make_checkpoint(real)
    assert (real / "gpt.pth").read_bytes() == b"the user's weights"
