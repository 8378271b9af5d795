"""CAMPPlus speaker encoder: official key layout, strict loading, eval semantics, shapes."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from indextts.errors import CheckpointError
from indextts.speaker import (
    CAMPPlus,
    campplus_from_official,
    campplus_to_official,
    frozen_batch_norm,
    load_campplus,
    segment_average,
)
from indextts.weights import build_on_meta

TINY = dict(feat_dim=16, embedding_size=6, growth_rate=4, bn_size=2, init_channels=8, m_channels=4,
            dense_blocks=((2, 3, 1), (3, 3, 2)), seg_len=5)  # fmt: skip


def _bn(keys: dict[str, tuple[int, ...]], prefix: str, channels: int, affine: bool = True) -> None:
    if affine:
        keys[f"{prefix}.weight"] = keys[f"{prefix}.bias"] = (channels,)
    keys[f"{prefix}.running_mean"] = keys[f"{prefix}.running_var"] = (channels,)
    keys[f"{prefix}.num_batches_tracked"] = ()


def official_keys() -> dict[str, tuple[int, ...]]:
    """`campplus_cn_common.bin` as listed in the spec (§4.3, §13.3), built independently of our modules."""
    keys: dict[str, tuple[int, ...]] = {"head.conv1.weight": (32, 1, 3, 3)}
    _bn(keys, "head.bn1", 32)
    for layer in ("layer1", "layer2"):
        for block in (0, 1):
            p = f"head.{layer}.{block}"
            keys[f"{p}.conv1.weight"] = keys[f"{p}.conv2.weight"] = (32, 32, 3, 3)
            _bn(keys, f"{p}.bn1", 32)
            _bn(keys, f"{p}.bn2", 32)
            if block == 0:  # the strided block has the projection shortcut
                keys[f"{p}.shortcut.0.weight"] = (32, 32, 1, 1)
                _bn(keys, f"{p}.shortcut.1", 32)
    keys["head.conv2.weight"] = (32, 32, 3, 3)
    _bn(keys, "head.bn2", 32)
    keys["xvector.tdnn.linear.weight"] = (128, 320, 5)
    _bn(keys, "xvector.tdnn.nonlinear.batchnorm", 128)
    channels = 128
    for b, (layers, _, _) in enumerate(((12, 3, 1), (24, 3, 2), (16, 3, 2)), start=1):
        for n in range(1, layers + 1):
            p = f"xvector.block{b}.tdnnd{n}"
            _bn(keys, f"{p}.nonlinear1.batchnorm", channels)
            keys[f"{p}.linear1.weight"] = (128, channels, 1)
            _bn(keys, f"{p}.nonlinear2.batchnorm", 128)
            keys[f"{p}.cam_layer.linear_local.weight"] = (32, 128, 3)
            keys[f"{p}.cam_layer.linear1.weight"], keys[f"{p}.cam_layer.linear1.bias"] = (64, 128, 1), (64,)
            keys[f"{p}.cam_layer.linear2.weight"], keys[f"{p}.cam_layer.linear2.bias"] = (32, 64, 1), (32,)
            channels += 32
        _bn(keys, f"xvector.transit{b}.nonlinear.batchnorm", channels)
        keys[f"xvector.transit{b}.linear.weight"] = (channels // 2, channels, 1)
        channels //= 2
    assert channels == 512
    _bn(keys, "xvector.out_nonlinear.batchnorm", 512)
    keys["xvector.dense.linear.weight"] = (192, 1024, 1)
    _bn(keys, "xvector.dense.nonlinear.batchnorm", 192, affine=False)
    return keys


def randomise_(model: CAMPPlus, seed: int = 0) -> CAMPPlus:
    """Random weights and running statistics far from the identity, so every BatchNorm matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.copy_(
                    (torch.rand(p.shape, generator=g) + 0.5)
                    if name.endswith("weight")
                    else torch.randn(p.shape, generator=g) * 0.1
                )
            else:
                p.copy_(torch.randn(p.shape, generator=g) * (2 / p[0].numel()) ** 0.5)
        for name, buf in model.named_buffers():
            if name.endswith("running_mean"):
                buf.copy_(torch.randn(buf.shape, generator=g) * 0.1)
            elif name.endswith("running_var"):
                buf.copy_(torch.rand(buf.shape, generator=g) + 0.5)
            else:
                buf.fill_(7)
    return model.eval()


@pytest.fixture(scope="module")
def full_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[CAMPPlus, Path]:
    model = randomise_(CAMPPlus())
    path = tmp_path_factory.mktemp("campplus") / "campplus_cn_common.bin"
    torch.save(campplus_to_official(model.state_dict()), path)
    return model, path


def test_official_size_model_has_the_official_keys_and_shapes():
    model = build_on_meta(CAMPPlus)
    ours = campplus_to_official(model.state_dict())
    assert {k: tuple(v.shape) for k, v in ours.items()} == official_keys()
    assert campplus_from_official(ours).keys() == ours.keys()


def test_loading_the_official_layout_gives_identical_outputs(full_file):
    model, path = full_file
    loaded = load_campplus(path)
    assert not loaded.training
    assert int(loaded.xvector.dense.nonlinear.batchnorm.num_batches_tracked) == 7
    fbank = torch.randn(2, 57, 80, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(loaded(fbank), model(fbank))


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda s: s.pop("xvector.block2.tdnnd7.cam_layer.linear1.bias"), "block2.tdnnd7.cam_layer.linear1.bias"),
        (lambda s: s.pop("head.bn1.num_batches_tracked"), "head.bn1.num_batches_tracked"),
        (lambda s: s.update({"xvector.dense.linear.weight": torch.zeros(512, 1024, 1)}), "xvector.dense.linear.weight"),
        (lambda s: s.update({"xvector.dense.nonlinear.batchnorm.weight": torch.ones(192)}), "batchnorm.weight"),
    ],
)  # fmt: skip
def test_bad_checkpoint_is_a_checkpoint_error_naming_the_key(full_file, tmp_path, edit, named):
    state = campplus_to_official(full_file[0].state_dict())
    edit(state)
    torch.save(state, tmp_path / "bad.bin")
    with pytest.raises(CheckpointError, match=named.replace(".", r"\.")):
        load_campplus(tmp_path / "bad.bin")


def test_missing_or_foreign_file_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_campplus(tmp_path / "nope.bin")
    torch.save([torch.zeros(1)], tmp_path / "list.bin")
    with pytest.raises(CheckpointError, match="not a state dict"):
        load_campplus(tmp_path / "list.bin")


def test_official_size_shapes_and_time_halving():
    model = randomise_(CAMPPlus())
    for frames in (60, 61):
        fbank = torch.randn(1, frames, 80)
        with torch.no_grad():
            head = model.head(fbank.transpose(1, 2))
            tdnn = model.xvector.tdnn(head)
            style = model(fbank)
        assert head.shape == (1, 32 * 10, frames)  # 80 bins → 10 after three halvings
        assert tdnn.shape == (1, 128, math.ceil(frames / 2))
        assert style.shape == (1, 192)


def test_tiny_model_shapes():
    model = randomise_(CAMPPlus(**TINY))
    assert model.head.out_channels == 4 * 2
    with torch.no_grad():
        assert model(torch.randn(3, 23, 16)).shape == (3, 6)
        assert model.xvector.tdnn(model.head(torch.randn(3, 16, 23))).shape == (3, 8, 12)


def test_segment_average_hand_case():
    x = torch.arange(250, dtype=torch.float32).reshape(1, 1, 250)
    out = segment_average(x, 100)
    assert out.shape == (1, 1, 250)
    assert out[0, 0, :100].eq(49.5).all() and out[0, 0, 100:200].eq(149.5).all()
    assert out[0, 0, 200:].eq(224.5).all()  # the short last segment averages its own 50 frames
    short = segment_average(torch.tensor([[[1.0, 2.0, 6.0]]]), 100)
    assert short.tolist() == [[[3.0, 3.0, 3.0]]]


def test_frozen_batch_norm_uses_running_statistics():
    bn = torch.nn.BatchNorm1d(2, eps=1e-5)
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor([1.0, -2.0]))
        bn.running_var.copy_(torch.tensor([4.0, 0.25]))
        bn.weight.copy_(torch.tensor([3.0, 1.0]))
        bn.bias.copy_(torch.tensor([0.5, 0.0]))
    bn.train()
    x = torch.tensor([[3.0, -1.0], [1.0, -2.0]])
    out = frozen_batch_norm(bn, x)
    std = torch.sqrt(torch.tensor([4.0, 0.25]) + 1e-5)
    torch.testing.assert_close(out, torch.tensor([[3.0 * 2.0 / std[0] + 0.5, 1.0 / std[1]], [0.5, 0.0]]))
    assert bn.running_mean.tolist() == [1.0, -2.0]  # not updated


def test_output_ignores_training_flag_and_other_batch_items():
    model = randomise_(CAMPPlus(**TINY), seed=3)
    fbank = torch.randn(3, 31, 16, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        batched = model(fbank)
        model.train()
        trained_flag = model(fbank)
        single = torch.cat([model(fbank[i : i + 1]) for i in range(3)])
    assert torch.equal(trained_flag, batched)
    torch.testing.assert_close(single, batched)
    assert model.xvector.tdnn.nonlinear.batchnorm.num_batches_tracked.item() == 7


def test_style_is_statistics_pooling_then_dense_then_affine_free_batch_norm():
    model = randomise_(CAMPPlus(**TINY), seed=4)
    fbank = torch.randn(2, 40, 16, generator=torch.Generator().manual_seed(5))
    xv = model.xvector
    with torch.no_grad():
        x = xv.tdnn(model.head(fbank.transpose(1, 2)))
        x = xv.transit2(xv.block2(xv.transit1(xv.block1(x))))
        x = xv.out_nonlinear(x)  # (B, C, T2)
        stats = torch.cat([x.mean(-1), x.std(-1)], dim=-1)  # (B, 2C), unbiased std
        bn = xv.dense.nonlinear.batchnorm
        expected = (stats @ xv.dense.linear.weight[:, :, 0].t() - bn.running_mean) / torch.sqrt(bn.running_var + 1e-5)
        torch.testing.assert_close(model(fbank), expected)
