"""MaskGCT semantic codec: official key layout, strict loading, cosine code selection, shapes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from indextts.config import SemanticCodecConfig
from indextts.errors import CheckpointError
from indextts.semantic.codec import (
    FactorizedVQ,
    SemanticCodec,
    load_semantic_codec,
    semantic_codec_from_official,
    semantic_codec_to_official,
)
from indextts.weights import build_on_meta, check_state_dict

# config.yaml's `semantic_codec` block (spec §3.2)
OFFICIAL = SemanticCodecConfig(
    codebook_size=8192,
    hidden_size=1024,
    codebook_dim=8,
    vocos_dim=384,
    vocos_intermediate_dim=2048,
    vocos_num_layers=12,
)
TINY = SemanticCodecConfig(
    codebook_size=32, hidden_size=12, codebook_dim=4, vocos_dim=8, vocos_intermediate_dim=16, vocos_num_layers=2
)


def official_keys(cfg: SemanticCodecConfig) -> dict[str, tuple[int, ...]]:
    """The `model.safetensors` layout as listed in the spec (§13.3), built independently of our modules."""
    h, c, i = cfg.hidden_size, cfg.vocos_dim, cfg.vocos_intermediate_dim
    keys: dict[str, tuple[int, ...]] = {}
    for part in ("encoder", "decoder"):
        p = f"{part}.0"
        keys[f"{p}.embed.weight"], keys[f"{p}.embed.bias"] = (c, h, 7), (c,)
        for norm in ("norm", "final_layer_norm"):
            keys[f"{p}.{norm}.weight"] = keys[f"{p}.{norm}.bias"] = (c,)
        for n in range(cfg.vocos_num_layers):
            b = f"{p}.convnext.{n}"
            keys[f"{b}.dwconv.weight"], keys[f"{b}.dwconv.bias"] = (c, 1, 7), (c,)
            keys[f"{b}.norm.weight"] = keys[f"{b}.norm.bias"] = (c,)
            keys[f"{b}.pwconv1.weight"], keys[f"{b}.pwconv1.bias"] = (i, c), (i,)
            keys[f"{b}.pwconv2.weight"], keys[f"{b}.pwconv2.bias"] = (c, i), (c,)
            keys[f"{b}.gamma"] = (c,)
        keys[f"{part}.1.weight"], keys[f"{part}.1.bias"] = (h, c), (h,)
    q, d = "quantizer.quantizers.0", cfg.codebook_dim
    keys.update(
        {
            f"{q}.in_project.weight_g": (d, 1, 1),
            f"{q}.in_project.weight_v": (d, h, 1),
            f"{q}.in_project.bias": (d,),
            f"{q}.out_project.weight_g": (h, 1, 1),
            f"{q}.out_project.weight_v": (h, d, 1),
            f"{q}.out_project.bias": (h,),
            f"{q}.codebook.weight": (cfg.codebook_size, d),
        }
    )
    return keys


def random_official_state(cfg: SemanticCodecConfig, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights in the file's layout, with non-trivial norms, gammas and weight_g."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in official_keys(cfg).items():
        if key.endswith("weight_g"):
            state[key] = torch.rand(shape, generator=g) + 0.5
        elif key.endswith("gamma") or "norm." in key:
            state[key] = 1 + 0.2 * torch.randn(shape, generator=g)
        else:
            fan_in = max(1, int(torch.tensor(shape[1:]).prod())) if len(shape) > 1 else 16
            state[key] = torch.randn(shape, generator=g) / fan_in**0.5
    return state


def write_codec(path: Path, state: dict[str, torch.Tensor]) -> Path:
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_codec(tmp_path_factory.mktemp("codec") / "model.safetensors", random_official_state(TINY))


@pytest.fixture(scope="module")
def tiny_codec(tiny_file: Path) -> SemanticCodec:
    return load_semantic_codec(tiny_file, TINY)


def test_official_size_model_has_the_official_keys_and_shapes():
    cfg = OFFICIAL
    codec = build_on_meta(lambda: SemanticCodec(cfg))
    ours = semantic_codec_to_official(codec.state_dict())
    assert {k: tuple(v.shape) for k, v in ours.items()} == official_keys(cfg)
    assert len(ours) == 2 * (2 + 2 + 2 + 9 * 12 + 2) + 7
    # and the official layout folds back onto exactly our modules
    meta_official = {k: torch.empty(s, device="meta") for k, s in official_keys(cfg).items()}
    check_state_dict(codec, semantic_codec_from_official(meta_official), "official layout")


def test_weight_norm_is_stored_folded():
    keys = SemanticCodec(TINY).state_dict().keys()
    assert "quantizer.quantizers.0.in_project.weight" in keys
    assert not any(k.endswith(("weight_g", "weight_v")) for k in keys)


def test_round_trip_through_the_official_layout_gives_identical_outputs(tiny_codec, tmp_path):
    rewritten = write_codec(tmp_path / "again.safetensors", semantic_codec_to_official(tiny_codec.state_dict()))
    again = load_semantic_codec(rewritten, TINY)
    x = torch.randn(2, 23, TINY.hidden_size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        codes_a, emb_a = tiny_codec.quantize(x)
        codes_b, emb_b = again.quantize(x)
    assert torch.equal(codes_a, codes_b)
    torch.testing.assert_close(emb_b, emb_a, rtol=1e-6, atol=1e-7)
    for key, value in again.state_dict().items():
        torch.testing.assert_close(value, tiny_codec.state_dict()[key], rtol=1e-6, atol=0)


def test_folded_weight_is_g_times_unit_v(tiny_codec, tiny_file):
    from safetensors.torch import load_file

    state = load_file(str(tiny_file))
    g, v = state["quantizer.quantizers.0.in_project.weight_g"], state["quantizer.quantizers.0.in_project.weight_v"]
    expected = g * v / v.reshape(v.shape[0], -1).norm(dim=1).reshape(-1, 1, 1)
    torch.testing.assert_close(tiny_codec.quantizer.quantizers[0].in_project.weight, expected)


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda s: s.pop("encoder.0.convnext.1.gamma"), "encoder.0.convnext.1.gamma"),
        (lambda s: s.pop("decoder.1.bias"), "decoder.1.bias"),
        (lambda s: s.update({"quantizer.quantizers.0.codebook.weight": torch.zeros(31, 4)}), "codebook.weight"),
        (lambda s: s.update({"encoder.0.embed.weight": torch.zeros(8, 12, 5)}), "encoder.0.embed.weight"),
        (lambda s: s.update({"quantizer.quantizers.0.out_project.weight_g": torch.ones(12)}), "out_project.weight_g"),
        (lambda s: s.pop("quantizer.quantizers.0.in_project.weight_v"), "in_project.weight"),
        (lambda s: s.update({"encoder.0.extra": torch.zeros(1)}), "encoder.0.extra"),
    ],
)
def test_bad_checkpoint_is_a_checkpoint_error_naming_the_key(tmp_path, edit, named):
    state = random_official_state(TINY)
    edit(state)
    path = write_codec(tmp_path / "bad.safetensors", state)
    with pytest.raises(CheckpointError, match=named.replace(".", r"\.")):
        load_semantic_codec(path, TINY)


def test_missing_or_unreadable_file_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_semantic_codec(tmp_path / "nope.safetensors", TINY)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file at all")
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_semantic_codec(junk, TINY)


def test_code_is_the_row_of_maximal_cosine_not_minimal_distance():
    vq = FactorizedVQ(input_dim=2, codebook_size=3, codebook_dim=2)  # same width: no projections
    with torch.no_grad():
        vq.codebook.weight.copy_(torch.tensor([[10.0, 0.0], [0.6, 0.8], [-1.0, 0.0]]))
    # (3, 0.5) is closest to row 1 in plain distance but points almost along row 0;
    # (0.5, 0.9) points along row 1; (-0.1, 0) along row 2.
    z = torch.tensor([[3.0, 0.5], [0.5, 0.9], [-0.1, 0.0]]).t().unsqueeze(0)  # (1, D, 3)
    z_q, codes = vq(z)
    assert codes.tolist() == [[0, 1, 2]]
    # the emitted vector is the stored (un-normalised) row
    torch.testing.assert_close(z_q[0].t(), torch.tensor([[10.0, 0.0], [0.6, 0.8], [-1.0, 0.0]]))


def test_quantize_matches_a_brute_force_cosine_search(tiny_codec):
    x = torch.randn(3, 17, TINY.hidden_size, generator=torch.Generator().manual_seed(2))
    vq = tiny_codec.quantizer.quantizers[0]
    with torch.no_grad():
        codes, emb = tiny_codec.quantize(x)
        z_e = vq.in_project(tiny_codec.encoder(x.transpose(1, 2)).transpose(1, 2))  # (B, D, T)
        cos = F.normalize(z_e.transpose(1, 2), dim=-1) @ F.normalize(vq.codebook.weight, dim=-1).t()  # (B, T, K)
        row = vq.codebook.weight[codes].transpose(1, 2)  # (B, D, T)
        straight_through = vq.out_project(z_e + (row - z_e)).transpose(1, 2)
    assert codes.shape == (3, 17) and codes.dtype == torch.int64
    assert emb.shape == (3, 17, TINY.hidden_size)
    assert torch.equal(codes, cos.argmax(dim=-1))
    assert torch.equal(emb, straight_through)  # the exact arithmetic upstream uses
    assert len(set(codes.flatten().tolist())) > 3  # a non-degenerate case


def test_embed_codes_is_the_projected_codebook_row(tiny_codec):
    codes = torch.tensor([[0, 5, 31, 5], [7, 7, 1, 2]])
    vq = tiny_codec.quantizer.quantizers[0]
    with torch.no_grad():
        emb = tiny_codec.embed_codes(codes)
        expected = F.linear(vq.codebook.weight[codes], vq.out_project.weight[:, :, 0], vq.out_project.bias)
    assert emb.shape == (2, 4, TINY.hidden_size)
    torch.testing.assert_close(emb, expected)
    assert torch.equal(emb[0, 1], emb[0, 3])  # same code, same vector


def test_embedding_of_quantized_codes_matches_quantize_output(tiny_codec):
    x = torch.randn(1, 9, TINY.hidden_size, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        codes, emb = tiny_codec.quantize(x)
        torch.testing.assert_close(tiny_codec.embed_codes(codes), emb, rtol=1e-5, atol=1e-6)


def test_batch_items_are_quantized_independently(tiny_codec):
    x = torch.randn(2, 30, TINY.hidden_size, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        codes, emb = tiny_codec.quantize(x)
        for b in range(2):
            codes_b, emb_b = tiny_codec.quantize(x[b : b + 1])
            assert torch.equal(codes_b[0], codes[b])
            torch.testing.assert_close(emb_b[0], emb[b])


def test_loaded_codec_is_in_eval_mode_on_the_requested_device(tiny_codec):
    assert not tiny_codec.training
    assert all(p.device.type == "cpu" for p in tiny_codec.parameters())
