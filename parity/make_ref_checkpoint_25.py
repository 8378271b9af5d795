"""Test-fixture builder for the REFERENCE side of the 2.5 parity tooling (not our checkpoint factory).

Writes a random-weight checkpoint directory in the IndexTeam/IndexTTS-2.5 layout with the
official code's OWN module constructors, so `reference_dump_25.py` can run before, or
independently of, our factory (`python -m indextts make-checkpoint tiny-2.5`). Runs inside the
venv made by `parity/setup_reference_25.sh`:

    cd .parity && venv-2.5/bin/python ../parity/make_ref_checkpoint_25.py OUT_DIR

--size tiny: GPT 2 layers (1280 wide: the published s2mel.pth carries gpt_layer, Linear(1280, 256)
  hard-coded upstream, though 2.5 never runs it), small emotion conformer / codec / DiT / vocoder, a
  byte-level tiktoken vocabulary (256 bytes in GPT-2 order, so id 0 is "!" as in the published
  file, plus merges for the cases' words; --merge-free: the 256 bytes only). w2v-BERT keeps
  hidden 1024 and >= 17 layers, the codec hidden 1024: the official code hard-codes those.
--size full: the published sizes (number_text_tokens 60509; the tokenizer file stays the tiny
  one: the published vocabulary is not ours to redistribute).
Both: the Qwen emotion model is the tiny all-zero-logit stand-in of make_ref_checkpoint.py.

Files: config.yaml, gpt.pth, codec.pth ({"model": ...}), s2mel.pth, wav2vec2bert_stats.pt,
feat1.pt, feat2.pt, multilingual_zh_ja_yue_char_del.tiktoken, qwen0.6bemo4-merge/,
hf_cache/{w2v-bert-2.0/, campplus_cn_common.bin, bigvgan/{config.json, bigvgan_generator.pt}}.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path

import torch

PARITY_DIR = Path(__file__).resolve().parent
REPO_ROOT = PARITY_DIR.parent
TOKENIZER_FILE = "multilingual_zh_ja_yue_char_del.tiktoken"
# Words whose byte strings get merge chains in the tiny vocabulary (so ids are not all single bytes).
TINY_WORDS = (
    " the quick brown fox jumps over lazy dog hello there how are you today first sentence is here"
    " and this second one which follows it what wonderful morning did not expect to see"
    " buenos días cómo estás hoy mañana gracias"
)
TINY_CHARS = "你好世界今天天气很好我们一起去公园吧こんにちは元気ですか東京へ行きますありがとう。，！？"


def gpt2_byte_order() -> list[int]:
    """The byte order of GPT-2 / Whisper vocabularies: printable bytes first (so rank 0 is b"!")."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    return printable + [b for b in range(256) if b not in printable]


def tiny_ranks(merges: bool = True) -> list[bytes]:
    """256 single bytes, then every prefix chain of the tiny words and characters (each reachable by BPE)."""
    tokens = [bytes([b]) for b in gpt2_byte_order()]
    if not merges:
        return tokens
    seen = set(tokens)
    pieces = [" " + w for w in TINY_WORDS.split()] + list(TINY_CHARS)
    for piece in pieces:
        raw = piece.encode("utf-8")
        for end in range(2, len(raw) + 1):
            if raw[:end] not in seen:
                seen.add(raw[:end])
                tokens.append(raw[:end])
    return tokens


def write_tiktoken(path: Path, merges: bool = True) -> int:
    """The official file format: one `base64(token) rank` line per mergeable token. Returns the count."""
    ranks = tiny_ranks(merges)
    path.write_text("".join(f"{base64.b64encode(t).decode()} {i}\n" for i, t in enumerate(ranks)))
    return len(ranks)


def official_vocab_size(model_dir: Path) -> int:
    """Ranks + the specials indextts.utils.tokenizer.get_encoding appends (number_text_tokens)."""
    from indextts.utils.tokenizer import get_encoding

    return get_encoding(name=TOKENIZER_FILE.removesuffix(".tiktoken"), model_dir=str(model_dir)).n_vocab


def config_25(base_config: Path, size: str, vocab_size: int):
    """The 2.0 config.yaml with the 2.5 changes (see ../shared/indextts2-architecture.md section 16)."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(base_config)
    cfg.version = 2.5
    cfg.semantic_codec.update(num_quantizers=1, downsample_scale=2)
    cfg.vocoder = {"type": "bigvgan", "name": "nvidia/bigvgan_v2_22khz_80band_256x"}
    cfg.dataset.bpe_model = TOKENIZER_FILE  # not read by infer_v2_5 (it hard-codes the name); our loader reads it
    cfg.gpt.number_text_tokens = 60509 if size == "full" else vocab_size
    if size == "tiny":
        cfg.gpt.update(layers=2, max_text_tokens=120, max_mel_tokens=250)  # model_dim 1280: s2mel gpt_layer
        for key in ("condition_module", "emo_condition_module"):
            cfg.gpt[key].update(output_size=64, linear_units=128, attention_heads=2, num_blocks=2)
        cfg.semantic_codec.update(vocos_dim=32, vocos_intermediate_dim=64, vocos_num_layers=2)
        cfg.s2mel.length_regulator.channels = 64
        cfg.s2mel.DiT.update(hidden_dim=64, num_heads=2, depth=3, content_dim=64)
        cfg.s2mel.wavenet.update(hidden_dim=64, num_layers=2)
    return cfg


def build(out: Path, size: str, base_config: Path, seed: int, merges: bool = True) -> None:
    from make_ref_checkpoint import EMO_NUM, W2V_PREPROCESSOR, perturb_, write_qwen_stub
    from omegaconf import OmegaConf
    from reference_dump_25 import import_official

    import_official()
    from indextts.codec.models import EnhancedCodec
    from indextts.gpt.model_v2 import UnifiedVoice
    from indextts.s2mel.modules.bigvgan.bigvgan import BigVGAN
    from indextts.s2mel.modules.campplus.DTDNN import CAMPPlus
    from indextts.s2mel.modules.commons import AttrDict, MyModel
    from transformers import Wav2Vec2BertConfig, Wav2Vec2BertModel

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    out.mkdir(parents=True, exist_ok=True)
    hf = out / "hf_cache"
    hf.mkdir(exist_ok=True)
    write_tiktoken(out / TOKENIZER_FILE, merges)
    cfg = config_25(base_config, size, official_vocab_size(out))
    OmegaConf.save(cfg, out / "config.yaml")

    gpt = UnifiedVoice(**cfg.gpt, spk_cond_mode="campplus")  # as infer_v2_5.IndexTTS2 builds it
    perturb_(gpt, gen)
    torch.save(gpt.state_dict(), out / cfg.gpt_checkpoint)
    model_dim = cfg.gpt.model_dim
    del gpt

    # The published s2mel.pth still carries gpt_layer (unused by 2.5): keep it for the same layout.
    s2mel = MyModel(cfg.s2mel, use_gpt_latent=True)
    perturb_(s2mel, gen)
    torch.save({"net": {k: m.state_dict() for k, m in s2mel.models.items()}}, out / cfg.s2mel_checkpoint)
    del s2mel

    codec = EnhancedCodec(**cfg.semantic_codec, cfg=cfg.semantic_codec)
    perturb_(codec, gen)
    torch.save({"model": codec.state_dict()}, out / "codec.pth")
    del codec

    campplus = CAMPPlus(feat_dim=80, embedding_size=192)
    perturb_(campplus, gen)
    torch.save(campplus.state_dict(), hf / "campplus_cn_common.bin")

    official_bigvgan = Path(sys.modules["indextts"].__file__).parent / "s2mel/modules/bigvgan/config.json"
    h = json.loads(official_bigvgan.read_text(encoding="utf-8"))
    if size == "tiny":
        h["upsample_initial_channel"] = 128
    (hf / "bigvgan").mkdir(exist_ok=True)
    (hf / "bigvgan" / "config.json").write_text(json.dumps(h, indent=2))
    vocoder = BigVGAN(AttrDict(h))
    perturb_(vocoder, gen)
    torch.save({"generator": vocoder.state_dict()}, hf / "bigvgan" / "bigvgan_generator.pt")
    del vocoder

    w2v_sizes = {"num_hidden_layers": 18, "intermediate_size": 64} if size == "tiny" else {}
    w2v = Wav2Vec2BertModel(Wav2Vec2BertConfig(**w2v_sizes))
    perturb_(w2v, gen)
    w2v.save_pretrained(hf / "w2v-bert-2.0")
    del w2v
    (hf / "w2v-bert-2.0" / "preprocessor_config.json").write_text(json.dumps(W2V_PREPROCESSOR, indent=2))

    torch.save(
        {"mean": 0.1 * torch.randn(1024, generator=gen), "var": 0.5 + torch.rand(1024, generator=gen)},
        out / cfg.w2v_stat,
    )
    torch.save(torch.randn(sum(EMO_NUM), 192, generator=gen), out / cfg.spk_matrix)
    torch.save(0.5 * torch.randn(sum(EMO_NUM), model_dim, generator=gen), out / cfg.emo_matrix)
    write_qwen_stub(out / cfg.qwen_emo_path)
    # transformers 4.52's fast tokenizer also returns token_type_ids by default, which Qwen3's
    # generate() refuses: name the inputs the model takes.
    tok_config = out / cfg.qwen_emo_path / "tokenizer_config.json"
    tok_json = json.loads(tok_config.read_text(encoding="utf-8"))
    tok_json["model_input_names"] = ["input_ids", "attention_mask"]
    tok_config.write_text(json.dumps(tok_json, indent=2), encoding="utf-8")
    (out / "REFERENCE_FIXTURE.txt").write_text(
        f"Random-weight IndexTTS-2.5 fixture written by parity/make_ref_checkpoint_25.py (size {size}, "
        f"seed {seed}) with the official code's modules. Not meaningful speech.\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", choices=("tiny", "full"), default="tiny")
    parser.add_argument("--config", type=Path, default=REPO_ROOT / "checkpoints" / "config.yaml")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--merge-free", action="store_true", help="tokenizer of the 256 bytes only, no merges")
    args = parser.parse_args()
    build(args.out.resolve(), args.size, args.config.resolve(), args.seed, merges=not args.merge_free)
    print(f"wrote {args.size} IndexTTS-2.5 reference fixture to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
