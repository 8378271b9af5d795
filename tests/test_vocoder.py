"""BigVGAN v2 vocoder: config parsing, shapes, official checkpoint layout, filters and activations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from indextts.errors import CheckpointError, ConfigError
from indextts.vocoder import (
    BigVGAN,
    BigVGANConfig,
    bigvgan_from_official,
    bigvgan_to_official,
    load_bigvgan,
    to_pcm16_scale,
    write_bigvgan,
)
from indextts.vocoder.alias_free import AntiAliasedActivation
from indextts.vocoder.snake import Snake, SnakeBeta
from indextts.weights import build_on_meta, init_random_

# Generator keys of nvidia/bigvgan_v2_22khz_80band_256x/config.json, plus some of its training keys.
OFFICIAL = {
    "resblock": "1",
    "num_gpus": 0,
    "learning_rate": 0.0001,
    "upsample_rates": [4, 4, 2, 2, 2, 2],
    "upsample_kernel_sizes": [8, 8, 4, 4, 4, 4],
    "upsample_initial_channel": 1536,
    "resblock_kernel_sizes": [3, 7, 11],
    "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
    "use_tanh_at_final": False,
    "use_bias_at_final": False,
    "activation": "snakebeta",
    "snake_logscale": True,
    "num_mels": 80,
    "hop_size": 256,
    "sampling_rate": 22050,
    "fmax": None,
    "dist_config": {"dist_backend": "nccl"},
}

TINY = {
    **OFFICIAL,
    "upsample_rates": [8, 8, 4],
    "upsample_kernel_sizes": [16, 16, 8],
    "upsample_initial_channel": 32,
    "resblock_kernel_sizes": [3, 7],
    "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5]],
}


def tiny_model(seed: int = 0, **overrides: object) -> BigVGAN:
    model = BigVGAN(BigVGANConfig.from_dict({**TINY, **overrides}))
    generator = torch.Generator().manual_seed(seed)
    init_random_(model, generator, std=0.1)
    return model.eval()


def random_mel(frames: int, batch: int = 1, seed: int = 1) -> torch.Tensor:
    return torch.randn(batch, 80, frames, generator=torch.Generator().manual_seed(seed)) - 4.0


# --- config ------------------------------------------------------------------------------------


def test_config_reads_generator_keys_and_ignores_training_keys():
    cfg = BigVGANConfig.from_dict(OFFICIAL)
    assert cfg.upsample_rates == (4, 4, 2, 2, 2, 2)
    assert cfg.resblock_dilation_sizes == ((1, 3, 5),) * 3
    assert (cfg.use_tanh_at_final, cfg.use_bias_at_final, cfg.snake_logscale) == (False, False, True)
    assert cfg.hop_length == 256


def test_config_final_flags_default_to_true_when_absent():
    mapping = {k: v for k, v in OFFICIAL.items() if k not in ("use_tanh_at_final", "use_bias_at_final")}
    cfg = BigVGANConfig.from_dict(mapping)
    assert cfg.use_tanh_at_final and cfg.use_bias_at_final


def test_config_errors_name_every_bad_key():
    mapping = {k: v for k, v in OFFICIAL.items() if k != "snake_logscale"}
    mapping["upsample_initial_channel"] = "1536"
    with pytest.raises(ConfigError) as err:
        BigVGANConfig.from_dict(mapping, "x/config.json")
    message = str(err.value)
    assert "x/config.json" in message
    assert "missing key 'snake_logscale'" in message
    assert "'upsample_initial_channel' must be an integer" in message


def test_config_rejects_inconsistent_structure():
    with pytest.raises(ConfigError, match="same length"):
        BigVGANConfig.from_dict({**OFFICIAL, "upsample_kernel_sizes": [8, 8, 4]})
    with pytest.raises(ConfigError, match="k − u even"):
        BigVGANConfig.from_dict({**OFFICIAL, "upsample_kernel_sizes": [7, 8, 4, 4, 4, 4]})
    with pytest.raises(ConfigError, match="activation"):
        BigVGANConfig.from_dict({**OFFICIAL, "activation": "relu"})


# --- generator ---------------------------------------------------------------------------------


def _run_capturing_conv_post(model: BigVGAN, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(waveform, conv_post output before the final bound) from one forward pass."""
    captured = []
    handle = model.conv_post.register_forward_hook(lambda _m, _i, out: captured.append(out))
    try:
        with torch.no_grad():
            wav = model(mel)
    finally:
        handle.remove()
    return wav, captured[0]


def test_output_is_hop_times_frames_long_and_clamped():
    wav, pre = _run_capturing_conv_post(tiny_model(), random_mel(3, batch=2))
    assert wav.shape == (2, 1, 256 * 3)
    # The random weights overshoot ±1 in places: the bound is a clamp, not a squashing.
    assert pre.abs().max() > 1.0 and (pre.abs() < 1.0).any()
    assert torch.equal(wav, pre.clamp(-1.0, 1.0))


def test_tanh_at_final_is_applied_instead_of_the_clamp():
    wav, pre = _run_capturing_conv_post(tiny_model(use_tanh_at_final=True), random_mel(1))
    assert wav.shape == (1, 1, 256)
    torch.testing.assert_close(wav, torch.tanh(pre))


def test_resblock_type_2_runs_with_its_own_layout():
    model = tiny_model(resblock="2")
    assert {k.split(".", 2)[2].split(".")[0] for k in model.state_dict() if k.startswith("resblocks.")} == {
        "convs",
        "activations",
    }
    with torch.no_grad():
        assert model(random_mel(2)).shape == (1, 1, 512)


def test_official_key_set_and_shapes():
    module = build_on_meta(lambda: BigVGAN(BigVGANConfig.from_dict(OFFICIAL)))
    state = bigvgan_to_official(module)["generator"]
    got = {key: tuple(t.shape) for key, t in state.items()}

    def conv(stem: str, c_out: int, c_in: int, k: int, bias: bool = True, transposed: bool = False) -> dict:
        w = (c_in, c_out, k) if transposed else (c_out, c_in, k)
        out = {f"{stem}.weight_g": (w[0], 1, 1), f"{stem}.weight_v": w}
        return {**out, f"{stem}.bias": (c_out,)} if bias else out

    def activation(stem: str, c: int) -> dict:
        return {
            f"{stem}.act.alpha": (c,),
            f"{stem}.act.beta": (c,),
            f"{stem}.upsample.filter": (1, 1, 12),
            f"{stem}.downsample.lowpass.filter": (1, 1, 12),
        }

    channels = [1536, 768, 384, 192, 96, 48, 24]
    expected = conv("conv_pre", 1536, 80, 7)
    for i, k in enumerate([8, 8, 4, 4, 4, 4]):
        expected |= conv(f"ups.{i}.0", channels[i + 1], channels[i], k, transposed=True)
    for r in range(18):
        c, k = channels[r // 3 + 1], [3, 7, 11][r % 3]
        for j in range(3):
            expected |= conv(f"resblocks.{r}.convs1.{j}", c, c, k) | conv(f"resblocks.{r}.convs2.{j}", c, c, k)
        for a in range(6):
            expected |= activation(f"resblocks.{r}.activations.{a}", c)
    expected |= activation("activation_post", 24) | conv("conv_post", 1, 24, 7, bias=False)
    assert got == expected


def test_dilations_and_padding_keep_length():
    model = build_on_meta(lambda: BigVGAN(BigVGANConfig.from_dict(OFFICIAL)))
    block = model.resblocks[2]
    assert [c.dilation[0] for c in block.convs1] == [1, 3, 5]
    assert [c.padding[0] for c in block.convs1] == [5, 15, 25]
    assert [c.dilation[0] for c in block.convs2] == [1, 1, 1]
    assert [(u.stride[0], u.padding[0]) for (u,) in model.ups] == [(4, 2), (4, 2), (2, 1), (2, 1), (2, 1), (2, 1)]


# --- checkpoint files --------------------------------------------------------------------------


def test_write_then_load_round_trip(tmp_path):
    model = tiny_model(seed=5)
    write_bigvgan(tmp_path, TINY, model)
    assert '"learning_rate"' in (tmp_path / "config.json").read_text()
    stored = torch.load(tmp_path / "bigvgan_generator.pt", weights_only=True)
    assert set(stored) == {"generator"}
    assert "conv_pre.weight_g" in stored["generator"] and "conv_pre.weight" not in stored["generator"]

    loaded = load_bigvgan(tmp_path)
    assert not loaded.training
    original, restored = model.state_dict(), loaded.state_dict()
    assert original.keys() == restored.keys()
    for key, value in original.items():
        if key.endswith(".weight") and value.dim() == 3 and "filter" not in key:
            # g·v/‖v‖ with g = ‖v‖ is the same weight up to float rounding of the norm
            torch.testing.assert_close(restored[key], value, rtol=1e-6, atol=0)
        else:
            assert torch.equal(restored[key], value), key
    mel = random_mel(3, batch=2)
    with torch.no_grad():
        expected, got = model(mel), loaded(mel)
    assert expected.std() > 0.1  # a real signal, not silence
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.filterwarnings("ignore:.*torch.nn.utils.weight_norm.*:FutureWarning")
def test_load_folds_weight_norm_as_torch_does():
    """Loaded weights equal what torch's weight_norm + remove_weight_norm make of (g, v), bit for bit."""
    generator = torch.Generator().manual_seed(7)
    reference = {
        "conv_pre": nn.Conv1d(80, 32, 7, padding=3),
        "ups.0.0": nn.ConvTranspose1d(32, 16, 16, 8, padding=4),
    }
    model = tiny_model()
    official = bigvgan_to_official(model)["generator"]
    for stem, conv in reference.items():
        conv = torch.nn.utils.weight_norm(conv)
        with torch.no_grad():
            conv.weight_g.copy_(torch.rand(conv.weight_g.shape, generator=generator) + 0.5)
            conv.weight_v.copy_(torch.randn(conv.weight_v.shape, generator=generator))
        official[f"{stem}.weight_g"] = conv.weight_g.detach().clone()
        official[f"{stem}.weight_v"] = conv.weight_v.detach().clone()
        torch.nn.utils.remove_weight_norm(conv)
        reference[stem] = conv.weight.detach()
    state = bigvgan_from_official(official)
    for stem, weight in reference.items():
        assert torch.equal(state[f"{stem}.weight"], weight), stem


def test_strict_load_names_the_bad_key(tmp_path):
    write_bigvgan(tmp_path, TINY, tiny_model())
    path = tmp_path / "bigvgan_generator.pt"
    state = torch.load(path, weights_only=True)
    state["generator"]["resblocks.0.convs1.0.bais"] = state["generator"].pop("resblocks.0.convs1.0.bias")
    torch.save(state, path)
    with pytest.raises(CheckpointError) as err:
        load_bigvgan(tmp_path)
    assert "resblocks.0.convs1.0.bais" in str(err.value)
    assert "resblocks.0.convs1.0.bias" in str(err.value)


def test_load_reports_a_config_that_does_not_match_the_weights(tmp_path):
    write_bigvgan(tmp_path, TINY, tiny_model())
    (tmp_path / "config.json").write_text(
        str({**TINY, "upsample_initial_channel": 64})
        .replace("'", '"')
        .replace("False", "false")
        .replace("True", "true")
        .replace("None", "null")
    )
    with pytest.raises(CheckpointError, match="wrong shapes"):
        load_bigvgan(tmp_path)


def test_write_refuses_a_config_of_another_model(tmp_path):
    with pytest.raises(ConfigError):
        write_bigvgan(tmp_path, {**TINY, "upsample_initial_channel": 64}, tiny_model())


def test_missing_files_are_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match=r"config\.json"):
        load_bigvgan(tmp_path)


# --- anti-aliasing filters and activations -----------------------------------------------------


def _reference_filter() -> np.ndarray:
    # 12 taps, cutoff 0.25 and half-width 0.3 cycles/sample; Kaiser β from the attenuation A (> 50 dB).
    attenuation = 2.285 * (6 - 1) * math.pi * (4 * 0.3) + 7.95
    beta = 0.1102 * (attenuation - 8.7)
    t = np.arange(-6, 6) + 0.5
    taps = np.kaiser(12, beta) * np.sinc(0.5 * t)
    return taps / taps.sum()


def test_filters_equal_the_kaiser_sinc_formula():
    model = tiny_model()
    activations = [model.activation_post, model.resblocks[3].activations[5]]
    reference = torch.from_numpy(_reference_filter()).float()
    for act in activations:
        for taps in (act.upsample.filter, act.downsample.lowpass.filter):
            assert taps.shape == (1, 1, 12)
            torch.testing.assert_close(taps.flatten(), reference, rtol=0, atol=1e-7)
            assert abs(taps.sum().item() - 1.0) < 1e-6
            torch.testing.assert_close(taps.flatten(), taps.flatten().flip(0), rtol=0, atol=1e-7)


def test_anti_aliased_activation_passes_a_constant_and_keeps_length():
    act = AntiAliasedActivation(nn.Identity())
    x = torch.full((1, 3, 11), 0.7)
    torch.testing.assert_close(act(x), x, rtol=0, atol=1e-6)
    # A tone well below the Nyquist frequency passes almost unchanged (edges aside).
    tone = torch.cos(0.1 * math.pi * torch.arange(200.0))[None, None]  # (1, 1, 200)
    torch.testing.assert_close(act(tone)[..., 20:-20], tone[..., 20:-20], rtol=0, atol=2e-3)


def test_snakebeta_hand_computed_values():
    act = SnakeBeta(2, alpha_logscale=True)
    with torch.no_grad():
        act.alpha.copy_(torch.tensor([math.log(2.0), 0.0]))
        act.beta.copy_(torch.tensor([math.log(4.0), 0.0]))
    y = act(torch.tensor([[[0.5], [0.5]]]))
    expected = torch.tensor([0.5 + math.sin(1.0) ** 2 / 4.0, 0.5 + math.sin(0.5) ** 2])
    torch.testing.assert_close(y.flatten(), expected, rtol=0, atol=1e-6)


def test_snake_linear_scale_uses_alpha_for_both():
    act = Snake(1)
    with torch.no_grad():
        act.alpha.fill_(3.0)
    y = act(torch.tensor([[[0.25]]]))
    assert y.item() == pytest.approx(0.25 + math.sin(0.75) ** 2 / 3.0, abs=1e-6)


def test_to_pcm16_scale():
    wav = torch.tensor([-2.0, -1.0, 0.5, 1.0, 2.0])
    assert to_pcm16_scale(wav).tolist() == [-32767.0, -32767.0, 16383.5, 32767.0, 32767.0]
