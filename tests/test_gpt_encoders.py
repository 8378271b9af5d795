"""The GPT's conditioning encoders: official key layout, lengths and masks, and the attention math."""

from __future__ import annotations

import math

import pytest
import torch

from indextts.config import ConformerConfig
from indextts.errors import CheckpointError, ConfigError
from indextts.gpt.conformer import ConformerEncoder, RelPositionAttention, sinusoid_table
from indextts.gpt.perceiver import PerceiverResampler
from indextts.weights import build_on_meta, init_random_, load_strict

SPEAKER = ConformerConfig(
    output_size=512, linear_units=2048, attention_heads=8, num_blocks=6, input_layer="conv2d2", perceiver_mult=2
)
EMOTION = ConformerConfig(
    output_size=512, linear_units=1024, attention_heads=4, num_blocks=4, input_layer="conv2d2", perceiver_mult=2
)
TINY = {"input_size": 9, "output_size": 8, "linear_units": 16, "attention_heads": 2, "num_blocks": 2}


def shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(t.shape) for name, t in module.state_dict().items()}


def official_conformer_shapes(blocks: int, heads: int, units: int) -> dict[str, tuple[int, ...]]:
    """Spec §13.1, `conditioning_encoder.*` with the prefix removed."""
    expected = {
        "embed.conv.0.weight": (512, 1, 3, 3),
        "embed.conv.0.bias": (512,),
        "embed.out.0.weight": (512, 261632),
        "embed.out.0.bias": (512,),
        "embed.pos_enc.pe": (1, 5000, 512),
        "after_norm.weight": (512,),
        "after_norm.bias": (512,),
    }
    for b in range(blocks):
        p = f"encoders.{b}."
        for lin in ("q", "k", "v", "out"):
            expected[f"{p}self_attn.linear_{lin}.weight"] = (512, 512)
            expected[f"{p}self_attn.linear_{lin}.bias"] = (512,)
        expected[f"{p}self_attn.linear_pos.weight"] = (512, 512)
        expected[f"{p}self_attn.pos_bias_u"] = (heads, 512 // heads)
        expected[f"{p}self_attn.pos_bias_v"] = (heads, 512 // heads)
        expected[f"{p}feed_forward.w_1.weight"] = (units, 512)
        expected[f"{p}feed_forward.w_1.bias"] = (units,)
        expected[f"{p}feed_forward.w_2.weight"] = (512, units)
        expected[f"{p}feed_forward.w_2.bias"] = (512,)
        expected[f"{p}conv_module.pointwise_conv1.weight"] = (1024, 512, 1)
        expected[f"{p}conv_module.pointwise_conv1.bias"] = (1024,)
        expected[f"{p}conv_module.depthwise_conv.weight"] = (512, 1, 15)
        expected[f"{p}conv_module.depthwise_conv.bias"] = (512,)
        expected[f"{p}conv_module.norm.weight"] = (512,)
        expected[f"{p}conv_module.norm.bias"] = (512,)
        expected[f"{p}conv_module.pointwise_conv2.weight"] = (512, 512, 1)
        expected[f"{p}conv_module.pointwise_conv2.bias"] = (512,)
        for norm in ("norm_ff", "norm_mha", "norm_conv", "norm_final"):
            expected[f"{p}{norm}.weight"] = (512,)
            expected[f"{p}{norm}.bias"] = (512,)
    return expected


def official_perceiver_shapes(dim: int, latents: int, heads: int, inner: int) -> dict[str, tuple[int, ...]]:
    """Spec §13.1, `perceiver_encoder.*` / `emo_perceiver_encoder.*` with the prefix removed."""
    expected = {
        "latents": (latents, dim),
        "proj_context.weight": (dim, 512),
        "proj_context.bias": (dim,),
        "norm.gamma": (dim,),
    }
    for layer in range(2):
        p = f"layers.{layer}."
        expected[f"{p}0.to_q.weight"] = (heads * 64, dim)
        expected[f"{p}0.to_kv.weight"] = (2 * heads * 64, dim)
        expected[f"{p}0.to_out.weight"] = (dim, heads * 64)
        expected[f"{p}1.0.weight"] = (2 * inner, dim)
        expected[f"{p}1.0.bias"] = (2 * inner,)
        expected[f"{p}1.2.weight"] = (dim, inner)
        expected[f"{p}1.2.bias"] = (dim,)
    return expected


@pytest.mark.parametrize(("cfg", "blocks", "heads", "units"), [(SPEAKER, 6, 8, 2048), (EMOTION, 4, 4, 1024)])
def test_conformer_keys_and_shapes_equal_the_official_ones(cfg, blocks, heads, units):
    encoder = build_on_meta(lambda: ConformerEncoder.from_config(cfg, input_size=1024))
    assert shapes(encoder) == official_conformer_shapes(blocks, heads, units)


@pytest.mark.parametrize(
    ("cfg", "dim", "latents", "heads", "inner"), [(SPEAKER, 1280, 32, 8, 1706), (EMOTION, 1024, 1, 4, 1365)]
)
def test_perceiver_keys_and_shapes_equal_the_official_ones(cfg, dim, latents, heads, inner):
    perceiver = build_on_meta(lambda: PerceiverResampler.from_config(cfg, dim=dim, num_latents=latents))
    assert shapes(perceiver) == official_perceiver_shapes(dim, latents, heads, inner)


def test_perceiver_has_no_projection_when_the_widths_agree():
    perceiver = build_on_meta(lambda: PerceiverResampler(dim=16, context_dim=16, num_latents=2, heads=2))
    assert not any(key.startswith("proj_context") for key in perceiver.state_dict())


def test_from_config_rejects_an_unsupported_input_layer():
    cfg = ConformerConfig(8, 16, 2, 1, input_layer="conv2d", perceiver_mult=2)
    with pytest.raises(ConfigError, match="conv2d2"):
        ConformerEncoder.from_config(cfg, input_size=9)


def test_fresh_position_table_is_the_sinusoid():
    table = sinusoid_table(50, 8)  # (1, 50, 8)
    for pos, i in [(0, 0), (1, 0), (7, 1), (49, 3)]:
        angle = pos / 10000 ** (2 * i / 8)
        assert table[0, pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
        assert table[0, pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)


def tiny_encoder(seed: int = 0, **overrides) -> ConformerEncoder:
    torch.manual_seed(seed)
    encoder = ConformerEncoder(**{**TINY, **overrides})
    return init_random_(encoder, torch.Generator().manual_seed(seed), std=0.3).eval()


@pytest.mark.parametrize(("frames", "subsampled"), [(3, 1), (4, 1), (5, 2), (6, 2), (7, 3), (300, 149), (301, 150)])
def test_subsampled_length_is_floor_of_t_minus_one_over_two(frames, subsampled):
    encoder = tiny_encoder()
    with torch.no_grad():
        out, mask = encoder(torch.randn(2, frames, 9), torch.tensor([frames, frames]))
    assert out.shape == (2, subsampled, 8)
    assert mask.shape == (2, 1, subsampled) and mask.dtype == torch.bool and bool(mask.all())


def test_mask_keeps_the_input_frames_with_indices_two_four_six():
    encoder = tiny_encoder()
    with torch.no_grad():
        _, mask = encoder(torch.randn(3, 11, 9), torch.tensor([11, 6, 3]))
    # Output frame j is real iff input frame 2j + 2 is.
    assert mask[:, 0].tolist() == [
        [True, True, True, True, True],
        [True, True, False, False, False],
        [True, False, False, False, False],
    ]


def test_length_1024_as_official_call_sites_pass_masks_frames_from_511_on():
    encoder = tiny_encoder()
    with torch.no_grad():
        _, mask = encoder(torch.randn(1, 1100, 9), torch.tensor([1024]))
    assert mask.shape == (1, 1, 549)
    assert int(mask.sum()) == 511 and bool(mask[0, 0, :511].all())


def test_padded_input_frames_do_not_change_the_real_output_frames():
    encoder = tiny_encoder()
    x = torch.randn(1, 21, 9)
    y = x.clone()
    y[:, 13:] = torch.randn(1, 8, 9) * 5
    with torch.no_grad():
        out_x, mask = encoder(x, torch.tensor([13]))
        out_y, _ = encoder(y, torch.tensor([13]))
    real = mask[0, 0]
    assert int(real.sum()) == 6  # output frame j is real iff input frame 2j + 2 < 13
    torch.testing.assert_close(out_x[:, real], out_y[:, real], rtol=0, atol=1e-6)
    assert not torch.allclose(out_x[:, ~real], out_y[:, ~real])


def test_too_long_input_for_the_position_table_is_an_error():
    encoder = tiny_encoder(pos_table_rows=10)
    with pytest.raises(ValueError, match="position table"):
        encoder(torch.randn(1, 21, 9), torch.tensor([21]))  # 10 subsampled frames, 10 rows


def test_relative_attention_has_no_relative_shift():
    torch.manual_seed(0)
    attn = RelPositionAttention(channels=8, heads=2)
    init_random_(attn, torch.Generator().manual_seed(1), std=0.4)
    x, pos = torch.randn(1, 5, 8), sinusoid_table(5, 8)
    mask = torch.tensor([[[True, True, True, True, False]]])
    with torch.no_grad():
        out = attn(x, mask, pos)
        # Score(i, j) = [(q_i + u)·k_j + (q_i + v)·p_j] / sqrt(d), with p_j the position of key j itself.
        q = attn.linear_q(x).view(5, 2, 4)
        k = attn.linear_k(x).view(5, 2, 4)
        v = attn.linear_v(x).view(5, 2, 4)
        p = attn.linear_pos(pos).view(5, 2, 4)
        scores = torch.einsum("ihd,jhd->hij", q + attn.pos_bias_u, k) + torch.einsum(
            "ihd,jhd->hij", q + attn.pos_bias_v, p
        )
        scores = (scores / 2.0).masked_fill(~mask[0], -float("inf"))
        ref = torch.einsum("hij,jhd->ihd", scores.softmax(-1), v).reshape(1, 5, 8)
        ref = attn.linear_out(ref)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)


def test_loaded_position_table_is_used_as_stored():
    encoder = tiny_encoder()
    state = encoder.state_dict()
    state["embed.pos_enc.pe"] = state["embed.pos_enc.pe"].bfloat16().float() + 0.25
    loaded = load_strict(build_on_meta(lambda: ConformerEncoder(**TINY)), state, "test").eval()
    assert torch.equal(loaded.embed.pos_enc.pe, state["embed.pos_enc.pe"])
    x = torch.randn(1, 15, 9)
    with torch.no_grad():
        assert not torch.allclose(loaded(x, torch.tensor([15]))[0], encoder(x, torch.tensor([15]))[0])


def test_strict_load_names_the_wrong_key():
    state = tiny_encoder().state_dict()
    state["encoders.0.self_attn.pos_bias_w"] = state.pop("encoders.0.self_attn.pos_bias_v")
    with pytest.raises(CheckpointError, match=r"pos_bias_v") as info:
        load_strict(build_on_meta(lambda: ConformerEncoder(**TINY)), state, "test")
    assert "pos_bias_w" in str(info.value)


def tiny_perceiver(seed: int = 0, **overrides) -> PerceiverResampler:
    args = {"dim": 12, "context_dim": 8, "num_latents": 3, "heads": 2, "dim_head": 4, **overrides}
    perceiver = PerceiverResampler(**args)
    return init_random_(perceiver, torch.Generator().manual_seed(seed), std=0.3).eval()


def test_perceiver_output_shape_and_rms_norm():
    perceiver = tiny_perceiver()
    with torch.no_grad():
        out = perceiver(torch.randn(2, 7, 8), None)
    assert out.shape == (2, 3, 12)
    # gamma is 1 after init_random_, so every latent row has L2 norm sqrt(dim).
    torch.testing.assert_close(out.norm(dim=-1), torch.full((2, 3), math.sqrt(12)))


def test_masked_context_frames_do_not_change_the_perceiver_output():
    perceiver = tiny_perceiver()
    context = torch.randn(2, 7, 8)
    changed = context.clone()
    changed[1, 4:] = torch.randn(3, 8) * 10
    mask = torch.tensor([[True] * 7, [True] * 4 + [False] * 3])
    with torch.no_grad():
        out = perceiver(context, mask)
        out_changed = perceiver(changed, mask)
        unmasked = perceiver(changed, None)
    torch.testing.assert_close(out, out_changed, rtol=0, atol=1e-6)
    assert not torch.allclose(unmasked[1], out[1])
    torch.testing.assert_close(perceiver(context, torch.ones(2, 7, dtype=torch.bool)), perceiver(context, None))


def test_perceiver_latents_attend_to_themselves_and_the_context():
    # One layer whose queries are zero: attention is uniform over [latents ; context], so each latent
    # gains to_out(mean of the values); the feed-forward's last layer is zeroed to isolate it.
    perceiver = tiny_perceiver(depth=1)
    attn, ff = perceiver.layers[0]
    with torch.no_grad():
        attn.to_q.weight.zero_()
        ff[2].weight.zero_()
        ff[2].bias.zero_()
        context = torch.randn(1, 5, 8)
        out = perceiver(context)
        projected = perceiver.proj_context(context)[0]  # (5, 12)
        keys_in = torch.cat((perceiver.latents, projected))  # (8, 12)
        values = attn.to_kv(keys_in)[:, 8:]  # (8, 8): second half of to_kv
        latents = perceiver.latents + attn.to_out(values.mean(0))
        ref = latents / latents.norm(dim=-1, keepdim=True) * math.sqrt(12)
    torch.testing.assert_close(out[0], ref, rtol=1e-5, atol=1e-6)
