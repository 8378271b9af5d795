"""The s2mel stage: checkpoint layout, strict loading, length rules, the regulator, the DiT pieces, the solver."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from indextts.errors import CheckpointError, ConfigError
from indextts.factory.configs import official_config, tiny_config
from indextts.s2mel import S2Mel, load_s2mel, nearest_source_index, s2mel_to_official, solve_cfm
from indextts.s2mel.dit import DiT, TimestepEmbedder
from indextts.s2mel.length_regulator import InterpolateRegulator
from indextts.s2mel.transformer import AdaptiveRMSNorm, Transformer, ffn_hidden_size, uvit_skip_layers
from indextts.s2mel.wavenet import ReflectConv1d, reflect_pad
from indextts.weights import build_on_meta


def _random_(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Every parameter perturbed, so roles that are swapped or unused show up in the outputs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=g) * (0.05 if p.dim() > 1 else 0.1))
    return module.eval()


@pytest.fixture(scope="module")
def tiny() -> S2Mel:
    torch.manual_seed(0)
    return _random_(S2Mel(tiny_config()))


# --- checkpoint layout ------------------------------------------------------------------------------


def _official_s2mel_keys() -> dict[str, dict[str, tuple[int, ...]]]:
    """§13.2 of the spec, written out: every key of s2mel.pth `net` with its shape."""
    wn = lambda o, i, k: {"weight_g": (o, 1, 1), "weight_v": (o, i, k), "bias": (o,)}  # noqa: E731
    cfm: dict[str, tuple[int, ...]] = {}
    e = "estimator."
    for i in range(13):
        p = f"{e}transformer.layers.{i}."
        cfm |= {
            p + "attention.wqkv.weight": (1536, 512),
            p + "attention.wo.weight": (512, 512),
            p + "feed_forward.w1.weight": (1536, 512),
            p + "feed_forward.w3.weight": (1536, 512),
            p + "feed_forward.w2.weight": (512, 1536),
            p + "skip_in_linear.weight": (512, 1024),
            p + "skip_in_linear.bias": (512,),
        }
        for norm in ("attention_norm", "ffn_norm"):
            cfm |= {
                f"{p}{norm}.project_layer.weight": (1024, 512),
                f"{p}{norm}.project_layer.bias": (1024,),
                f"{p}{norm}.norm.weight": (512,),
            }
    cfm |= {
        e + "transformer.norm.project_layer.weight": (1024, 512),
        e + "transformer.norm.project_layer.bias": (1024,),
        e + "transformer.norm.norm.weight": (512,),
        e + "x_embedder.weight_g": (512, 1),
        e + "x_embedder.weight_v": (512, 80),
        e + "x_embedder.bias": (512,),
        e + "cond_embedder.weight": (1024, 512),
        e + "cond_projection.weight": (512, 512),
        e + "cond_projection.bias": (512,),
        e + "input_pos": (16384,),
        e + "conv1.weight": (512, 512),
        e + "conv1.bias": (512,),
        e + "conv2.weight": (80, 512, 1),
        e + "conv2.bias": (80,),
        e + "final_layer.linear.weight_g": (512, 1),
        e + "final_layer.linear.weight_v": (512, 512),
        e + "final_layer.linear.bias": (512,),
        e + "final_layer.adaLN_modulation.1.weight": (1024, 512),
        e + "final_layer.adaLN_modulation.1.bias": (1024,),
        e + "res_projection.weight": (512, 512),
        e + "res_projection.bias": (512,),
        e + "content_mask_embedder.weight": (1, 512),
        e + "skip_linear.weight": (512, 592),
        e + "skip_linear.bias": (512,),
        e + "cond_x_merge_linear.weight": (512, 864),
        e + "cond_x_merge_linear.bias": (512,),
    }
    for t in ("t_embedder", "t_embedder2"):
        cfm |= {
            f"{e}{t}.freqs": (128,),
            f"{e}{t}.mlp.0.weight": (512, 256),
            f"{e}{t}.mlp.0.bias": (512,),
            f"{e}{t}.mlp.2.weight": (512, 512),
            f"{e}{t}.mlp.2.bias": (512,),
        }
    w = e + "wavenet."
    cfm |= {f"{w}cond_layer.conv.conv.{k}": s for k, s in wn(8192, 512, 1).items()}
    for j in range(8):
        cfm |= {f"{w}in_layers.{j}.conv.conv.{k}": s for k, s in wn(1024, 512, 5).items()}
        out = 1024 if j < 7 else 512
        cfm |= {f"{w}res_skip_layers.{j}.conv.conv.{k}": s for k, s in wn(out, 512, 1).items()}
    regulator = {"content_in_proj.weight": (512, 1024), "content_in_proj.bias": (512,)}
    for i in (0, 3, 6, 9):
        regulator |= {f"model.{i}.weight": (512, 512, 3), f"model.{i}.bias": (512,)}
        regulator |= {f"model.{i + 1}.weight": (512,), f"model.{i + 1}.bias": (512,)}
    regulator |= {"model.12.weight": (512, 512, 1), "model.12.bias": (512,)}
    regulator |= {"embedding.weight": (2048, 512), "mask_token": (1, 512)}
    gpt_layer = {
        "0.weight": (256, 1280),
        "0.bias": (256,),
        "1.weight": (128, 256),
        "1.bias": (128,),
        "2.weight": (1024, 128),
        "2.bias": (1024,),
    }
    return {"cfm": cfm, "length_regulator": regulator, "gpt_layer": gpt_layer}


def test_official_sizes_write_exactly_the_official_keys_and_shapes():
    net = s2mel_to_official(build_on_meta(lambda: S2Mel(official_config())))["net"]
    got = {group: {k: tuple(v.shape) for k, v in state.items()} for group, state in net.items()}
    expected = _official_s2mel_keys()
    for group in expected:
        assert got[group].keys() == expected[group].keys(), group
        assert got[group] == expected[group], group
    assert got.keys() == expected.keys()
    assert net["cfm"]["estimator.input_pos"].dtype == torch.int64


def _save(tmp_path: Path, checkpoint: dict, name: str = "s2mel.pth") -> Path:
    path = tmp_path / name
    torch.save(checkpoint, path)
    return path


def test_load_round_trip_gives_the_same_model(tmp_path: Path, tiny: S2Mel):
    checkpoint = s2mel_to_official(tiny)
    checkpoint["optimizer"] = {"state": {}}  # other top-level entries are ignored
    loaded = load_s2mel(_save(tmp_path, checkpoint), tiny_config())
    ours, theirs = tiny.state_dict(), loaded.state_dict()
    assert ours.keys() == theirs.keys()
    weight_normed = {"cfm.estimator.x_embedder.weight", "cfm.estimator.final_layer.linear.weight"}
    weight_normed |= {k for k in ours if k.startswith("cfm.estimator.wavenet.") and k.endswith(".weight")}
    for key in ours:
        if key in weight_normed:  # unfolded to g, v and folded again: equal up to rounding
            torch.testing.assert_close(theirs[key], ours[key], rtol=1e-6, atol=0)
        else:
            assert torch.equal(theirs[key], ours[key]), key
    assert not loaded.training

    g = torch.Generator().manual_seed(1)
    T, T_ref = 12, 5
    x = torch.randn(2, 80, T, generator=g)
    prompt = torch.randn(2, 80, T, generator=g)
    style = torch.randn(2, 192, generator=g)
    mu = torch.randn(2, T, 64, generator=g)
    t = torch.tensor([0.3, 0.3])
    with torch.no_grad():
        torch.testing.assert_close(
            loaded.estimator(x, prompt, torch.tensor([T]), t, style, mu),
            tiny.estimator(x, prompt, torch.tensor([T]), t, style, mu),
            rtol=1e-5,
            atol=1e-6,
        )
    noise = torch.randn(1, 80, T, generator=g)
    args = (mu[:1, :T_ref], mu[:1, T_ref:], prompt[:1, :, :T_ref], style[:1])
    torch.testing.assert_close(
        loaded.generate_mel(*args, steps=3, noise=noise), tiny.generate_mel(*args, steps=3, noise=noise)
    )


def test_module_prefix_is_stripped(tmp_path: Path, tiny: S2Mel):
    net = s2mel_to_official(tiny)["net"]
    net["gpt_layer"] = {f"module.{k}": v for k, v in net["gpt_layer"].items()}
    loaded = load_s2mel(_save(tmp_path, {"net": net}), tiny_config())
    assert torch.equal(loaded.gpt_layer[2].bias, tiny.gpt_layer[2].bias)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda net: net["cfm"].pop("estimator.transformer.layers.1.attention.wo.weight"), "missing keys"),
        (lambda net: net["length_regulator"].pop("mask_token"), "length_regulator.mask_token"),
        (lambda net: net["cfm"].__setitem__("estimator.spare.weight", torch.zeros(3)), "unexpected keys"),
        (lambda net: net["gpt_layer"].__setitem__("0.bias", torch.zeros(7)), "gpt_layer.0.bias (7,)"),
        (lambda net: net.pop("length_regulator"), "length_regulator"),
        (lambda net: net["cfm"].pop("estimator.final_layer.linear.weight_v"), "final_layer.linear.weight_g"),
    ],
)
def test_strict_load_names_every_bad_key(tmp_path: Path, tiny: S2Mel, edit, message: str):
    net = s2mel_to_official(tiny)["net"]
    edit(net)
    with pytest.raises(CheckpointError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_s2mel(_save(tmp_path, {"net": net}), tiny_config())


def test_missing_key_error_lists_the_key(tmp_path: Path, tiny: S2Mel):
    net = s2mel_to_official(tiny)["net"]
    del net["cfm"]["estimator.wavenet.in_layers.1.conv.conv.bias"]
    with pytest.raises(CheckpointError) as info:
        load_s2mel(_save(tmp_path, {"net": net}), tiny_config())
    assert "cfm.estimator.wavenet.in_layers.1.bias" in str(info.value)


def test_file_without_net_is_rejected(tmp_path: Path):
    with pytest.raises(CheckpointError, match="no 'net'"):
        load_s2mel(_save(tmp_path, {"model": {}}), tiny_config())


def test_unsupported_architecture_switches_are_config_errors():
    cfg = tiny_config()
    bad = dataclasses.replace(
        cfg, s2mel=dataclasses.replace(cfg.s2mel, dit=dataclasses.replace(cfg.s2mel.dit, time_as_token=True))
    )
    with pytest.raises(ConfigError, match="time_as_token"):
        S2Mel(bad)


# --- length bookkeeping -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_codes", "frames"),
    [
        (0, 0),
        (1, 1),
        (7, 12),  # 12.04
        (25, 43),  # exactly 43 in decimals; float32(1.72) is a hair above 1.72
        (100, 172),
        (581, 999),  # 999.32
        (305843, 526050),  # 526049.96 in decimals, rounds up to 526050.0 in float32
    ],
)
def test_target_frames_floor_of_float32_product(tiny: S2Mel, n_codes: int, frames: int):
    assert tiny.target_frames(n_codes) == frames


def test_target_frames_matches_torch_long_tensor_arithmetic(tiny: S2Mel):
    n = torch.arange(0, 4000)
    expected = (n * 1.72).long()
    assert [tiny.target_frames(int(k)) for k in n] == expected.tolist()


def test_nearest_index_rule():
    assert nearest_source_index(5, 5).tolist() == [0, 1, 2, 3, 4]
    assert nearest_source_index(4, 8).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert nearest_source_index(3, 7).tolist() == [0, 0, 0, 1, 1, 2, 2]
    assert nearest_source_index(7, 3).tolist() == [0, 2, 4]
    # float32 scale 26/44 is a hair low: output frame 22 copies code 12, not 22·26/44 = 13
    assert nearest_source_index(26, 44)[22].item() == 12
    assert nearest_source_index(2, 82)[41].item() == 0


def test_regulator_copies_frames_and_masks_past_each_length():
    reg = InterpolateRegulator(in_channels=4, channels=4, n_stages=0, codebook_size=8)
    with torch.no_grad():
        reg.content_in_proj.weight.copy_(torch.eye(4))
        reg.content_in_proj.bias.zero_()
        reg.model[0].weight.copy_(torch.eye(4)[:, :, None])
        reg.model[0].bias.zero_()
        x = torch.arange(2 * 3 * 4, dtype=torch.float32).view(2, 3, 4)  # (B, T_in, K)
        out = reg(x, torch.tensor([7, 5]))
    assert out.shape == (2, 7, 4)
    assert torch.equal(out[0], x[0, [0, 0, 0, 1, 1, 2, 2]])
    assert torch.equal(out[1, :5], x[1, [0, 0, 0, 1, 1]])
    assert torch.equal(out[1, 5:], torch.zeros(2, 4))


def test_regulator_from_config_has_one_conv_stage_per_sampling_ratio(tiny: S2Mel):
    kinds = [type(m).__name__ for m in tiny.length_regulator.model]
    assert kinds == ["Conv1d", "GroupNorm", "Mish"] * 4 + ["Conv1d"]
    assert tiny.regulate(torch.randn(1, 9, 64), 16).shape == (1, 16, 64)


def test_gpt_layer_is_three_affine_maps_without_activation(tiny: S2Mel):
    latent = torch.randn(1, 5, 64)
    with torch.no_grad():
        w = tiny.gpt_layer[2].weight @ tiny.gpt_layer[1].weight @ tiny.gpt_layer[0].weight
        b = tiny.gpt_layer[2].weight @ (tiny.gpt_layer[1].weight @ tiny.gpt_layer[0].bias + tiny.gpt_layer[1].bias)
        b = b + tiny.gpt_layer[2].bias
        torch.testing.assert_close(tiny.project_gpt_latent(latent), latent @ w.T + b, rtol=1e-4, atol=1e-5)


# --- DiT pieces ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("depth", "pairs"),
    [
        (13, {7: 5, 8: 4, 9: 3, 10: 2, 11: 1, 12: 0}),
        (2, {}),
        (3, {2: 0}),
        (4, {3: 1}),  # block 0's output is pushed and never used, as in the official wiring
        (5, {3: 1, 4: 0}),
    ],
)
def test_uvit_skips_pair_blocks_like_the_official_stack(depth: int, pairs: dict[int, int]):
    emit, receive = uvit_skip_layers(depth)
    stack, got = [], {}
    for i in range(depth):
        if i in receive:
            got[i] = stack.pop()
        if i in emit:
            stack.append(i)
    assert got == pairs

    torch.manual_seed(0)
    model = _random_(Transformer(dim=16, depth=depth, n_heads=2))
    outputs, skip_inputs = {}, {}
    for i, layer in enumerate(model.layers):
        layer.register_forward_hook(lambda m, a, out, i=i: outputs.__setitem__(i, out))
        layer.skip_in_linear.register_forward_hook(lambda m, a, out, i=i: skip_inputs.__setitem__(i, a[0]))
    x, c = torch.randn(1, 6, 16), torch.randn(1, 1, 16)
    with torch.no_grad():
        model(x, c, torch.arange(6), None)
    assert skip_inputs.keys() == pairs.keys()
    for receiver, emitter in pairs.items():
        assert torch.equal(skip_inputs[receiver][..., 16:], outputs[emitter])


def test_ffn_width_rounds_two_thirds_of_4d_up_to_256():
    assert ffn_hidden_size(512) == 1536
    assert ffn_hidden_size(64) == 256


def test_adaptive_rms_norm_is_rmsnorm_times_its_weight_then_modulated():
    norm = AdaptiveRMSNorm(2)
    with torch.no_grad():
        norm.norm.weight.copy_(torch.tensor([2.0, 1.0]))
        norm.project_layer.weight.zero_()
        norm.project_layer.bias.copy_(torch.tensor([3.0, 3.0, 1.0, -1.0]))  # [w | b]
        out = norm(torch.tensor([[[3.0, 4.0]]]), torch.zeros(1, 1, 2))
    rms = (12.5 + 1e-5) ** 0.5
    torch.testing.assert_close(out, torch.tensor([[[3 * 2 * 3 / rms + 1, 3 * 4 / rms - 1]]]))


def test_timestep_embedding_puts_cosines_first():
    emb = TimestepEmbedder(hidden=4, frequency_size=8)
    seen = {}
    emb.mlp[0].register_forward_hook(lambda m, a, out: seen.__setitem__("in", a[0]))
    emb(torch.tensor([0.0, 0.5]))
    assert torch.equal(seen["in"][0], torch.tensor([1.0, 1, 1, 1, 0, 0, 0, 0]))
    freqs = torch.tensor([10000.0 ** (-j / 4) for j in range(4)])
    torch.testing.assert_close(seen["in"][1, :4], torch.cos(500 * freqs))


def test_wavenet_convolutions_pad_by_reflection():
    x = torch.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0]]])
    conv = ReflectConv1d(1, 1, 5)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[[1.0, 0, 0, 0, 0]]]))  # reads the sample two steps back
        conv.bias.zero_()
        assert conv(x).flatten().tolist() == [3.0, 2.0, 1.0, 2.0, 3.0]
    # too short to reflect: zero-extended on the right first, as the official wrapper does
    assert reflect_pad(torch.tensor([[[7.0]]]), 2, 2).flatten().tolist() == [0, 0, 7, 0, 0]
    assert reflect_pad(torch.tensor([[[7.0, 8.0]]]), 2, 2).flatten().tolist() == [0, 8, 7, 8, 0, 8]


def test_dit_output_shape_and_length_limit():
    torch.manual_seed(0)
    dit = _random_(DiT(in_channels=6, hidden_dim=16, depth=2, num_heads=2, content_dim=8, style_dim=3,
                       content_codebook_size=4, wavenet_hidden=16, wavenet_layers=2, max_positions=10))  # fmt: skip
    args = lambda T: (torch.randn(2, 6, T), torch.randn(2, 6, T), torch.tensor([T]), torch.rand(2),  # noqa: E731
                      torch.randn(2, 3), torch.randn(2, T, 8))  # fmt: skip
    with torch.no_grad():
        assert dit(*args(10)).shape == (2, 6, 10)
        with pytest.raises(ValueError, match="at most 10 mel frames"):
            dit(*args(11))


# --- solver -------------------------------------------------------------------------------------------


class FakeEstimator:
    """Records every call; returns 2 on the conditional half of a CFG batch and 1 everywhere else."""

    def __init__(self) -> None:
        self.calls: list[tuple[torch.Tensor, ...]] = []

    def __call__(self, x, prompt_x, x_lens, t, style, cond):
        self.calls.append(tuple(a.clone() for a in (x, prompt_x, x_lens, t, style, cond)))
        v = torch.ones_like(x)
        if x.shape[0] == 2:
            v[0] = 2.0
        return v


def _solver_inputs(T: int = 9, P: int = 4):
    g = torch.Generator().manual_seed(3)
    mu = torch.randn(1, T, 5, generator=g)
    prompt = torch.randn(1, 80, P, generator=g)
    style = torch.randn(1, 7, generator=g)
    noise = torch.randn(1, 80, T, generator=g)
    return mu, prompt, style, noise


def test_solver_runs_the_estimator_once_per_step_on_a_cfg_batch():
    mu, prompt, style, noise = _solver_inputs()
    est = FakeEstimator()
    out = solve_cfm(est, mu, prompt, style, steps=5, noise=noise)
    assert out.shape == (1, 80, 5)
    assert len(est.calls) == 5
    expected_t = torch.zeros((), dtype=torch.float32)
    grid = torch.linspace(0, 1, 6)
    for k, (x, prompt_x, x_lens, t, style_2, cond_2) in enumerate(est.calls):
        assert x.shape == (2, 80, 9) and torch.equal(x[0], x[1])
        assert torch.equal(x[:, :, :4], torch.zeros(2, 80, 4))  # prompt frames of x are always zero
        assert torch.equal(prompt_x[0, :, :4], prompt[0]) and not prompt_x[0, :, 4:].any() and not prompt_x[1].any()
        assert torch.equal(style_2[0], style[0]) and not style_2[1].any()
        assert torch.equal(cond_2[0], mu[0]) and not cond_2[1].any()
        assert x_lens.tolist() == [9]
        assert t.tolist() == [expected_t.item()] * 2  # accumulated by addition, not read from the grid
        expected_t = expected_t + (grid[k + 1] - grid[k])
    # v = 1.7·2 − 0.7·1 = 2.7 on every step; the dts sum to 1
    torch.testing.assert_close(out, noise[:, :, 4:] + 2.7)


def test_solver_without_guidance_runs_a_batch_of_one():
    mu, prompt, style, noise = _solver_inputs()
    est = FakeEstimator()
    out = solve_cfm(est, mu, prompt, style, steps=3, cfg_rate=0.0, temperature=0.5, noise=noise)
    assert len(est.calls) == 3 and est.calls[0][0].shape == (1, 80, 9)
    torch.testing.assert_close(out, 0.5 * noise[:, :, 4:] + 1.0)


def test_solver_is_deterministic_and_leaves_the_noise_alone(tiny: S2Mel):
    mu, prompt, style, noise = _solver_inputs(T=10, P=3)
    mu = torch.randn(1, 10, 64)
    style = torch.randn(1, 192)
    kept = noise.clone()
    a = solve_cfm(tiny.estimator, mu, prompt, style, steps=4, noise=noise)
    b = solve_cfm(tiny.estimator, mu, prompt, style, steps=4, noise=noise)
    assert torch.equal(a, b) and torch.equal(noise, kept)
    assert a.shape == (1, 80, 7)
    c = solve_cfm(tiny.estimator, mu, prompt, style, steps=4, generator=torch.Generator().manual_seed(5))
    d = solve_cfm(tiny.estimator, mu, prompt, style, steps=4, generator=torch.Generator().manual_seed(5))
    assert torch.equal(c, d) and not torch.equal(a, c)


def test_generate_mel_checks_the_prompt_condition_length(tiny: S2Mel):
    with pytest.raises(ValueError, match="regulate the prompt"):
        tiny.generate_mel(torch.zeros(1, 4, 64), torch.zeros(1, 6, 64), torch.zeros(1, 80, 5), torch.zeros(1, 192))


# --- skipping the prompt frames' velocity (the sampler resets them after every step) ----------------


def _small_dit() -> DiT:
    torch.manual_seed(0)
    dit = DiT(
        in_channels=6,
        hidden_dim=16,
        depth=3,
        num_heads=2,
        content_dim=8,
        style_dim=3,
        content_codebook_size=4,
        wavenet_hidden=16,
        wavenet_layers=3,
        max_positions=64,
    )
    return _random_(dit)


def test_dit_output_from_gives_a_full_calls_velocity_from_that_frame_on():
    dit = _small_dit()
    T, P = 40, 25
    args = (torch.randn(2, 6, T), torch.randn(2, 6, T), torch.tensor([T]), torch.rand(2), torch.randn(2, 3))
    cond = torch.randn(2, T, 8)
    with torch.no_grad():
        full = dit(*args, cond)
        part = dit(*args, cond, output_from=P)
        unmasked = dit(*args, cond, all_frames_valid=True)
    assert dit.wavenet.receptive_halo == 6  # kernel 5 reads two frames back, in each of 3 layers
    torch.testing.assert_close(part[..., P:], full[..., P:], rtol=1e-5, atol=1e-6)
    assert not part[..., :P].any()
    assert torch.equal(unmasked, full)  # an all-True mask changes no number


def test_generate_mel_equals_the_solver_on_the_full_estimator(tiny: S2Mel):
    g = torch.Generator().manual_seed(1)
    P, G = 30, 9
    width = tiny.estimator.cond_projection.in_features
    prompt_condition, cond = torch.randn(1, P, width, generator=g), torch.randn(1, G, width, generator=g)
    ref_mel, noise = torch.randn(1, 80, P, generator=g), torch.randn(1, 80, P + G, generator=g)
    style = torch.randn(1, 192, generator=g)
    mu = torch.cat([prompt_condition, cond], dim=1)
    with torch.no_grad():
        fast = tiny.generate_mel(prompt_condition, cond, ref_mel, style, steps=4, noise=noise)
        full = solve_cfm(tiny.estimator, mu, ref_mel, style, steps=4, noise=noise)
    assert tiny.estimator.wavenet.receptive_halo < P  # the head really skips frames
    torch.testing.assert_close(fast, full, rtol=1e-5, atol=1e-6)
