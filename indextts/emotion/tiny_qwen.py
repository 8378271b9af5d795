"""A tiny random-weight Qwen3 causal-LM folder in Hugging Face format, for tests and the demo checkpoint.

It stands in for the checkpoint's `qwen0.6bemo4-merge/` (a fine-tuned Qwen3-0.6B) so the real
loading path (AutoTokenizer + AutoModelForCausalLM, chat template, generate, `</think>` split) runs
offline. Its answers are noise, so the emotion parsed from them is almost always "calm".

What it keeps from Qwen3: the config keys and weight names of `Qwen3ForCausalLM` (tied embeddings,
per-head q/k RMSNorm), the chat format (`<|im_start|>role\\n…<|im_end|>\\n`), an empty think block
in the generation prompt when `enable_thinking=False`, `<think>` / `</think>` as added tokens that
are *not* special (so decoding with skip_special_tokens keeps them, as with the real tokenizer) and
`<|im_end|>` as end of sequence. What it changes: a byte-level tokenizer without merges (256 byte
tokens, then the five specials), hidden size 32, 2 layers, greedy decoding.

Every file is written from the seed alone with sorted keys, so the same seed gives the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

# Special tokens after the 256 byte tokens; the order mirrors Qwen's (151643 … 151645, 151667, 151668).
# `special` is Qwen3's own flag: the think markers are ordinary added tokens there.
SPECIAL_TOKENS: tuple[tuple[str, bool], ...] = (
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<think>", False),
    ("</think>", False),
)
VOCAB_SIZE = 256 + len(SPECIAL_TOKENS)
PAD_ID, IM_START_ID, IM_END_ID, THINK_ID, END_THINK_ID = range(256, VOCAB_SIZE)

# Model sizes: C = hidden, H / KV = query / key-value heads, D = head dim, I = MLP width, L = layers.
HIDDEN, HEADS, KV_HEADS, HEAD_DIM, MLP, LAYERS = 32, 4, 2, 8, 64, 2
MAX_POSITIONS = 2048

# A compact chat template with Qwen3's layout for system / user / assistant turns. Qwen3's own
# template also re-renders tool calls and past reasoning, which the emotion prompt never has.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- if enable_thinking is defined and enable_thinking is false -%}"
    "{{- '<think>\\n\\n</think>\\n\\n' -}}"
    "{%- endif -%}"
    "{%- endif -%}"
)


def _byte_alphabet() -> list[str]:
    """The printable stand-in character of each byte 0..255 that byte-level BPE vocabularies use (GPT-2's map)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars: dict[int, str] = {b: chr(b) for b in printable}
    shifted = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + shifted)  # non-printable bytes move above Latin-1
            shifted += 1
    return [chars[b] for b in range(256)]


def build_tokenizer() -> Tokenizer:
    """Byte-level BPE without merges: ids 0..255 are the bytes, then SPECIAL_TOKENS in order."""
    vocab = {char: byte for byte, char in enumerate(_byte_alphabet())}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tokenizer.decoder = decoders.ByteLevel()
    for content, special in SPECIAL_TOKENS:
        token = _added_token(content, special)
        tokenizer.add_special_tokens([token]) if special else tokenizer.add_tokens([token])
    return tokenizer


def _added_token(content: str, special: bool) -> AddedToken:
    return AddedToken(content, single_word=False, lstrip=False, rstrip=False, normalized=False, special=special)


def _tokenizer_config() -> dict:
    added = {
        str(256 + i): {
            "content": content,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": special,
        }
        for i, (content, special) in enumerate(SPECIAL_TOKENS)
    }
    return {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": added,
        "bos_token": None,
        "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": MAX_POSITIONS,
        "pad_token": "<|endoftext|>",
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }


def _model_config() -> dict:
    # Legacy key names (torch_dtype, rope_theta) so transformers 4.5x reads the folder as it reads
    # the real one; 5.x converts them on load.
    return {
        "architectures": ["Qwen3ForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": PAD_ID,
        "eos_token_id": IM_END_ID,
        "head_dim": HEAD_DIM,
        "hidden_act": "silu",
        "hidden_size": HIDDEN,
        "initializer_range": 0.02,
        "intermediate_size": MLP,
        "max_position_embeddings": MAX_POSITIONS,
        "max_window_layers": LAYERS,
        "model_type": "qwen3",
        "num_attention_heads": HEADS,
        "num_hidden_layers": LAYERS,
        "num_key_value_heads": KV_HEADS,
        "rms_norm_eps": 1e-06,
        "rope_scaling": None,
        "rope_theta": 1000000.0,
        "sliding_window": None,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": VOCAB_SIZE,
    }


def _generation_config() -> dict:
    # Greedy so tests are deterministic; the real folder's settings are unknown (spec §17).
    return {"bos_token_id": PAD_ID, "do_sample": False, "eos_token_id": [IM_END_ID, PAD_ID], "pad_token_id": PAD_ID}


def _random_weights(seed: int) -> dict[str, torch.Tensor]:
    """Qwen3ForCausalLM's parameters under their HF names; lm_head is tied to the embedding, so absent."""
    gen = torch.Generator().manual_seed(seed)

    def normal(*shape: int) -> torch.Tensor:
        # std 0.1 rather than Qwen's 0.02: visibly non-uniform logits without exploding activations
        return torch.randn(*shape, generator=gen) * 0.1

    def norm_weight(n: int) -> torch.Tensor:
        return 1.0 + 0.1 * torch.randn(n, generator=gen)

    state = {"model.embed_tokens.weight": normal(VOCAB_SIZE, HIDDEN)}  # (V, C)
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        state[p + "input_layernorm.weight"] = norm_weight(HIDDEN)  # (C,)
        state[p + "self_attn.q_proj.weight"] = normal(HEADS * HEAD_DIM, HIDDEN)  # (H*D, C)
        state[p + "self_attn.k_proj.weight"] = normal(KV_HEADS * HEAD_DIM, HIDDEN)  # (KV*D, C)
        state[p + "self_attn.v_proj.weight"] = normal(KV_HEADS * HEAD_DIM, HIDDEN)  # (KV*D, C)
        state[p + "self_attn.o_proj.weight"] = normal(HIDDEN, HEADS * HEAD_DIM)  # (C, H*D)
        state[p + "self_attn.q_norm.weight"] = norm_weight(HEAD_DIM)  # (D,)
        state[p + "self_attn.k_norm.weight"] = norm_weight(HEAD_DIM)  # (D,)
        state[p + "post_attention_layernorm.weight"] = norm_weight(HIDDEN)  # (C,)
        state[p + "mlp.gate_proj.weight"] = normal(MLP, HIDDEN)  # (I, C)
        state[p + "mlp.up_proj.weight"] = normal(MLP, HIDDEN)  # (I, C)
        state[p + "mlp.down_proj.weight"] = normal(HIDDEN, MLP)  # (C, I)
    state["model.norm.weight"] = norm_weight(HIDDEN)  # (C,)
    return state


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def write_tiny_qwen(folder: Path, seed: int = 0) -> Path:
    """Write a complete, offline-loadable Qwen3 causal-LM folder with random weights; returns `folder`.

    Files: config.json, generation_config.json, model.safetensors, tokenizer.json,
    tokenizer_config.json (with the chat template), special_tokens_map.json. About 120 kB.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _write_json(folder / "config.json", _model_config())
    _write_json(folder / "generation_config.json", _generation_config())
    _write_json(folder / "tokenizer_config.json", _tokenizer_config())
    _write_json(folder / "special_tokens_map.json", {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"})
    build_tokenizer().save(str(folder / "tokenizer.json"), pretty=True)
    save_file(_random_weights(seed), str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder
