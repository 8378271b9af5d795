"""Test-fixture builder for the REFERENCE side of the parity tooling (not our checkpoint factory).

Writes a random-weight checkpoint directory in the official IndexTeam/IndexTTS-2 layout using
the reference package's OWN modules (`indextts2-inference`), so `reference_dump.py` can be
exercised before, or independently of, our factory (`python -m indextts make-checkpoint`).
Runs inside the `.parity/venv` made by `parity/setup_reference.sh`:

    cd .parity && venv/bin/python ../parity/make_ref_checkpoint.py --size tiny OUT_DIR

--size full: the published config.yaml sizes (~6 GB on disk, ~3 min).
--size tiny: every size the package reads from config.yaml / the component configs shrunk
(GPT model_dim stays 1280 and w2v-BERT keeps hidden 1024 with >= 17 layers: the package
hard-codes those). Either way the Qwen emotion model is a tiny stand-in whose every logit is 0,
so greedy decoding emits its end token first (emotion-from-text then yields calm = 1.0).

Files: config.yaml, gpt.pth, s2mel.pth, bpe.model, wav2vec2bert_stats.pt, feat1.pt, feat2.pt,
qwen0.6bemo4-merge/, hf_cache/{w2v-bert-2.0/, semantic_codec_model.safetensors,
campplus_cn_common.bin, bigvgan/{config.json, bigvgan_generator.pt}}.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
from importlib import resources
from pathlib import Path

import torch
from reference_dump import REPO_ROOT, import_reference_package

EMO_NUM = [3, 17, 2, 8, 4, 5, 10, 24]
# The w2v-bert-2.0 preprocessor_config.json (SeamlessM4TFeatureExtractor) as published.
W2V_PREPROCESSOR = {
    "feature_extractor_type": "SeamlessM4TFeatureExtractor",
    "feature_size": 80,
    "num_mel_bins": 80,
    "padding_side": "right",
    "padding_value": 1,
    "processor_class": "Wav2Vec2BertProcessor",
    "return_attention_mask": True,
    "sampling_rate": 16000,
    "stride": 2,
}
CORPUS_WORDS = (
    "the quick brown fox jumps over a lazy dog welcome to index node voice text speech model "
    "today we read any short sentence aloud with the same timbre hello world this is only a test "
    "of parity between two implementations numbers are spelled out here good morning everyone "
    "please listen carefully while she reads what he wrote yesterday evening in the garden it is "
    "raining again and they are happy because summer will come soon after winter ends"
)


def shrink(cfg) -> None:
    """Smallest sizes the package still builds from config.yaml (1280 / 1024 are hard-coded)."""
    cfg.gpt.layers = 2
    for key in ("condition_module", "emo_condition_module"):
        cfg.gpt[key].update(output_size=64, linear_units=128, attention_heads=2, num_blocks=2)
    cfg.semantic_codec.update(vocos_dim=32, vocos_intermediate_dim=64, vocos_num_layers=2)
    cfg.s2mel.length_regulator.channels = 64
    cfg.s2mel.DiT.update(hidden_dim=64, num_heads=2, depth=3, content_dim=64)
    cfg.s2mel.wavenet.update(hidden_dim=64, num_layers=2)


def perturb_(module: torch.nn.Module, gen: torch.Generator) -> None:
    """Move norm weights/biases and BatchNorm statistics off their 1/0 init, so a mis-mapped norm shows."""
    for name, tensor in module.state_dict(keep_vars=True).items():
        leaf = name.rsplit(".", 1)[-1]
        if not tensor.is_floating_point():
            continue
        with torch.no_grad():
            if leaf == "running_var":
                tensor.copy_(1 + 0.2 * torch.rand(tensor.shape, generator=gen))
            elif leaf == "running_mean":
                tensor.copy_(0.1 * torch.randn(tensor.shape, generator=gen))
            elif (tensor == 1).all() and tensor.ndim == 1:  # norm weights / gammas at init
                tensor.copy_(1 + 0.1 * torch.randn(tensor.shape, generator=gen))
            elif (tensor == 0).all() and leaf in ("bias", "weight"):  # zero biases, zero-init embeddings
                tensor.copy_(0.02 * torch.randn(tensor.shape, generator=gen))


def train_bpe(path: Path, vocab_size: int, seed: int) -> None:
    import sentencepiece as spm

    rng = random.Random(seed)
    words = CORPUS_WORDS.upper().split()
    lines = [" ".join(rng.choices(words, k=rng.randint(4, 14))) + rng.choice(".,!?") for _ in range(4000)]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="bpe",
        character_coverage=1.0,
        bos_id=0,
        eos_id=1,
        unk_id=2,
        pad_id=-1,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    path.write_bytes(model.getvalue())


def write_qwen_stub(folder: Path) -> None:
    """A 1-layer Qwen3 with all-zero output logits and a byte-level tokenizer whose id 0 is <|im_end|>."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import GenerationConfig, PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

    specials = ["<|im_end|>", "<|im_start|>", "<|endoftext|>"]
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {tok: i for i, tok in enumerate(specials + alphabet)}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core, eos_token="<|im_end|>", pad_token="<|endoftext|>", chat_template=template
    )
    tok.add_special_tokens({"additional_special_tokens": specials[1:2]})
    tok.save_pretrained(folder)
    config = Qwen3Config(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=40960,
        tie_word_embeddings=False,
        eos_token_id=0,
        pad_token_id=2,
        bos_token_id=2,
    )
    model = Qwen3ForCausalLM(config)
    with torch.no_grad():
        model.lm_head.weight.zero_()
    model.generation_config = GenerationConfig(eos_token_id=0, pad_token_id=2, do_sample=False)
    model.save_pretrained(folder)


def build(out: Path, size: str, config_path: Path, seed: int) -> None:
    indextts = import_reference_package()
    from indextts.gpt.model_v2 import UnifiedVoice
    from indextts.s2mel.modules.bigvgan.bigvgan import BigVGAN
    from indextts.s2mel.modules.campplus.DTDNN import CAMPPlus
    from indextts.s2mel.modules.commons import AttrDict, MyModel
    from indextts.utils.maskgct_utils import build_semantic_codec
    from omegaconf import OmegaConf
    from safetensors.torch import save_file
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertConfig, Wav2Vec2BertModel

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    out.mkdir(parents=True, exist_ok=True)
    hf = out / "hf_cache"
    hf.mkdir(exist_ok=True)
    cfg = OmegaConf.load(config_path)
    if size == "tiny":
        shrink(cfg)
    OmegaConf.save(cfg, out / "config.yaml")

    # gpt.pth: flat UnifiedVoice state dict (indextts.gpt.model_v2.UnifiedVoice)
    gpt = UnifiedVoice(**cfg.gpt)
    perturb_(gpt, gen)
    torch.save(gpt.state_dict(), out / cfg.gpt_checkpoint)
    model_dim = cfg.gpt.model_dim
    del gpt

    # s2mel.pth: {"net": {"cfm", "length_regulator", "gpt_layer"}} (indextts.s2mel.modules.commons.MyModel)
    s2mel = MyModel(cfg.s2mel, use_gpt_latent=True)
    perturb_(s2mel, gen)
    torch.save({"net": {k: m.state_dict() for k, m in s2mel.models.items()}}, out / cfg.s2mel_checkpoint)
    del s2mel

    # semantic codec (RepCodec) as safetensors
    codec = build_semantic_codec(cfg.semantic_codec)
    perturb_(codec, gen)
    save_file({k: v.contiguous() for k, v in codec.state_dict().items()}, hf / "semantic_codec_model.safetensors")

    # CAMPPlus
    campplus = CAMPPlus(feat_dim=80, embedding_size=192)
    perturb_(campplus, gen)
    torch.save(campplus.state_dict(), hf / "campplus_cn_common.bin")

    # BigVGAN: the package's bundled copy of the published config.json
    h = json.loads(
        resources.files("indextts.s2mel.modules.bigvgan").joinpath("config.json").read_text(encoding="utf-8")
    )
    if size == "tiny":
        h["upsample_initial_channel"] = 128
    (hf / "bigvgan").mkdir(exist_ok=True)
    (hf / "bigvgan" / "config.json").write_text(json.dumps(h, indent=2))
    vocoder = BigVGAN(AttrDict(h))
    perturb_(vocoder, gen)
    torch.save({"generator": vocoder.state_dict()}, hf / "bigvgan" / "bigvgan_generator.pt")
    del vocoder

    # w2v-BERT 2.0: transformers' Wav2Vec2BertConfig defaults are the published model's
    w2v_kwargs = {"num_hidden_layers": 18, "intermediate_size": 64} if size == "tiny" else {}
    w2v = Wav2Vec2BertModel(Wav2Vec2BertConfig(**w2v_kwargs))
    perturb_(w2v, gen)
    w2v.save_pretrained(hf / "w2v-bert-2.0")
    del w2v
    SeamlessM4TFeatureExtractor(**{k: v for k, v in W2V_PREPROCESSOR.items() if k != "feature_extractor_type"})
    (hf / "w2v-bert-2.0" / "preprocessor_config.json").write_text(json.dumps(W2V_PREPROCESSOR, indent=2))

    # small tensors
    torch.save(
        {"mean": 0.1 * torch.randn(1024, generator=gen), "var": 0.5 + torch.rand(1024, generator=gen)},
        out / cfg.w2v_stat,
    )
    torch.save(torch.randn(sum(EMO_NUM), 192, generator=gen), out / cfg.spk_matrix)
    torch.save(0.5 * torch.randn(sum(EMO_NUM), model_dim, generator=gen), out / cfg.emo_matrix)
    train_bpe(out / cfg.dataset.bpe_model, vocab_size=600, seed=seed)
    write_qwen_stub(out / cfg.qwen_emo_path)
    (out / "REFERENCE_FIXTURE.txt").write_text(
        f"Random-weight fixture written by parity/make_ref_checkpoint.py (size {size}, seed {seed}) "
        f"with {indextts.__name__} from indextts2-inference. Not meaningful speech.\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", choices=("tiny", "full"), default="tiny")
    parser.add_argument("--config", type=Path, default=REPO_ROOT / "checkpoints" / "config.yaml")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    build(args.out.resolve(), args.size, args.config.resolve(), args.seed)
    print(f"wrote {args.size} reference fixture to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
