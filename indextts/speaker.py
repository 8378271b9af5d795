"""CAM++ speaker encoder (3D-Speaker's CAMPPlus): Kaldi fbank of the prompt → global style vector.

Dimensions:
    B batch, T fbank frames (100 Hz), T2 = ⌈T/2⌉ frames after the TDNN, F fbank bins (`feat_dim`, 80),
    M front-end channels (`m_channels`, 32), F8 = ⌈⌈⌈F/2⌉/2⌉/2⌉ bins left after three stride-2 steps (10),
    C channels of the densely connected trunk, G growth rate (32), E embedding size (192).

    fbank (B, T, F) ─ FCM: 2-D res-net over (freq, time), frequency /8 ─ (B, M·F8, T)
      ─ TDNN k5 stride 2 ─ 3 × [dense CAM block, transit ½] ─ BN-ReLU ─ mean ‖ std over time
      ─ 1×1 dense + BatchNorm without affine ─ style (B, E)

Every BatchNorm runs on its running statistics, whatever the module's training flag: this is
an inference-only model, and its output must not depend on the other items of a batch.
Module names follow the official file (`head.*`, `xvector.*`), so `campplus_cn_common.bin`
loads unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from indextts.errors import CheckpointError
from indextts.weights import build_on_meta, load_strict, torch_load

# (layers, kernel size, dilation) of the three dense blocks.
DENSE_BLOCKS = ((12, 3, 1), (24, 3, 2), (16, 3, 2))


def frozen_batch_norm(bn: nn.modules.batchnorm._BatchNorm, x: Tensor) -> Tensor:
    """BatchNorm with its running statistics (eval semantics, never updating them)."""
    return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)


def segment_average(x: Tensor, seg_len: int) -> Tensor:
    """(B, C, T) → (B, C, T): each frame gets the mean of its `seg_len`-frame segment (last one may be short)."""
    seg = F.avg_pool1d(x, kernel_size=seg_len, stride=seg_len, ceil_mode=True)  # (B, C, ⌈T/seg_len⌉)
    return seg.repeat_interleave(seg_len, dim=-1)[..., : x.shape[-1]]  # (B, C, T)


class BatchNormReLU(nn.Module):
    """The official `nonlinear` unit: BatchNorm1d (child named `batchnorm`), then ReLU (optional)."""

    def __init__(self, channels: int, affine: bool = True, relu: bool = True):
        super().__init__()
        self.batchnorm = nn.BatchNorm1d(channels, affine=affine)
        self.relu = relu

    def forward(self, x: Tensor) -> Tensor:
        x = frozen_batch_norm(self.batchnorm, x)
        return F.relu(x) if self.relu else x


# --- front end (FCM) ---------------------------------------------------------------------------


class BasicResBlock(nn.Module):
    """Two 3×3 convs with a residual; a stride-2 block halves the frequency axis only."""

    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=(stride, 1), padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.project = stride != 1 or in_planes != planes
        # A strided or widening block needs a 1×1 projection on its skip path.
        self.shortcut = (
            nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=(stride, 1), bias=False), nn.BatchNorm2d(planes))
            if self.project
            else nn.Identity()
        )

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(frozen_batch_norm(self.bn1, self.conv1(x)))  # (B, M, F', T)
        out = frozen_batch_norm(self.bn2, self.conv2(out))  # (B, M, F', T)
        skip = frozen_batch_norm(self.shortcut[1], self.shortcut[0](x)) if self.project else x  # (B, M, F', T)
        return F.relu(out + skip)


class FCM(nn.Module):
    """2-D front end: treats (freq, time) as an image and flattens channels × remaining bins."""

    def __init__(self, feat_dim: int = 80, m_channels: int = 32, num_blocks: Sequence[int] = (2, 2)):
        super().__init__()
        self.conv1 = nn.Conv2d(1, m_channels, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(m_channels)
        self.layer1 = nn.Sequential(
            *(BasicResBlock(m_channels, m_channels, 2 if i == 0 else 1) for i in range(num_blocks[0]))
        )
        self.layer2 = nn.Sequential(
            *(BasicResBlock(m_channels, m_channels, 2 if i == 0 else 1) for i in range(num_blocks[1]))
        )
        self.conv2 = nn.Conv2d(m_channels, m_channels, 3, stride=(2, 1), padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(m_channels)
        bins = feat_dim
        for _ in range(3):  # layer1, layer2 and conv2 each halve the frequency axis, rounding up
            bins = (bins + 1) // 2
        self.out_channels = m_channels * bins

    def forward(self, x: Tensor) -> Tensor:
        x = x.unsqueeze(1)  # (B, 1, F, T)
        x = F.relu(frozen_batch_norm(self.bn1, self.conv1(x)))  # (B, M, F, T)
        x = self.layer2(self.layer1(x))  # (B, M, F/4, T)
        x = F.relu(frozen_batch_norm(self.bn2, self.conv2(x)))  # (B, M, F8, T)
        b, m, f, t = x.shape
        return x.reshape(b, m * f, t)  # (B, M·F8, T), channel-major


# --- densely connected TDNN trunk (xvector) ----------------------------------------------------


class TDNNLayer(nn.Module):
    """Strided 1-D conv (no bias) → BN → ReLU; 'same' padding before the stride."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 5, stride: int = 2):
        super().__init__()
        self.linear = nn.Conv1d(
            in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2, bias=False
        )
        self.nonlinear = BatchNormReLU(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.nonlinear(self.linear(x))  # (B, C, T2)


class CAMLayer(nn.Module):
    """Context-aware masking: a local conv gated by an MLP over global + 100-frame-segment means."""

    def __init__(
        self, channels: int, out_channels: int, kernel_size: int, dilation: int, reduction: int = 2, seg_len: int = 100
    ):
        super().__init__()
        self.seg_len = seg_len
        padding = (kernel_size - 1) // 2 * dilation
        self.linear_local = nn.Conv1d(
            channels, out_channels, kernel_size, padding=padding, dilation=dilation, bias=False
        )
        self.linear1 = nn.Conv1d(channels, channels // reduction, 1)
        self.linear2 = nn.Conv1d(channels // reduction, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        y = self.linear_local(x)  # (B, G, T)
        context = x.mean(-1, keepdim=True) + segment_average(x, self.seg_len)  # (B, C, T)
        gate = torch.sigmoid(self.linear2(F.relu(self.linear1(context))))  # (B, G, T)
        return y * gate  # (B, G, T)


class CAMDenseTDNNLayer(nn.Module):
    """BN-ReLU → 1×1 bottleneck → BN-ReLU → CAM layer: G new channels from all previous ones."""

    def __init__(
        self, in_channels: int, growth_rate: int, bn_channels: int, kernel_size: int, dilation: int, seg_len: int
    ):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"CAM kernel size must be odd for symmetric padding, got {kernel_size}")
        self.nonlinear1 = BatchNormReLU(in_channels)
        self.linear1 = nn.Conv1d(in_channels, bn_channels, 1, bias=False)
        self.nonlinear2 = BatchNormReLU(bn_channels)
        self.cam_layer = CAMLayer(bn_channels, growth_rate, kernel_size, dilation, seg_len=seg_len)

    def forward(self, x: Tensor) -> Tensor:
        return self.cam_layer(self.nonlinear2(self.linear1(self.nonlinear1(x))))  # (B, G, T)


class CAMDenseTDNNBlock(nn.Module):
    """Dense block: every layer's output is concatenated onto its input (layers `tdnnd1`, `tdnnd2`, …)."""

    def __init__(
        self,
        num_layers: int,
        in_channels: int,
        growth_rate: int,
        bn_channels: int,
        kernel_size: int,
        dilation: int,
        seg_len: int,
    ):
        super().__init__()
        for i in range(num_layers):
            layer = CAMDenseTDNNLayer(
                in_channels + i * growth_rate, growth_rate, bn_channels, kernel_size, dilation, seg_len
            )
            self.add_module(f"tdnnd{i + 1}", layer)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.children():
            x = torch.cat([x, layer(x)], dim=1)  # (B, C + G, T)
        return x


class TransitLayer(nn.Module):
    """BN-ReLU → 1×1 conv (no bias) that halves the channels after a dense block."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.nonlinear = BatchNormReLU(in_channels)
        self.linear = nn.Conv1d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.nonlinear(x))


class DenseLayer(nn.Module):
    """The embedding layer: 1×1 conv (no bias) on the pooled statistics, BatchNorm without affine."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.linear = nn.Conv1d(in_channels, out_channels, 1, bias=False)
        self.nonlinear = BatchNormReLU(out_channels, affine=False, relu=False)

    def forward(self, stats: Tensor) -> Tensor:
        x = self.linear(stats.unsqueeze(-1)).squeeze(-1)  # (B, E)
        return self.nonlinear(x)  # (B, E)


class XVector(nn.Module):
    """TDNN, the dense blocks with their transits (`block1`, `transit1`, …), pooling and embedding."""

    def __init__(
        self,
        in_channels: int,
        embedding_size: int,
        growth_rate: int,
        bn_size: int,
        init_channels: int,
        dense_blocks: Sequence[tuple[int, int, int]],
        seg_len: int,
    ):
        super().__init__()
        self.tdnn = TDNNLayer(in_channels, init_channels)
        channels = init_channels
        self.num_blocks = len(dense_blocks)
        for i, (num_layers, kernel_size, dilation) in enumerate(dense_blocks, start=1):
            block = CAMDenseTDNNBlock(
                num_layers, channels, growth_rate, bn_size * growth_rate, kernel_size, dilation, seg_len
            )
            self.add_module(f"block{i}", block)
            channels += num_layers * growth_rate
            self.add_module(f"transit{i}", TransitLayer(channels, channels // 2))
            channels //= 2
        self.out_nonlinear = BatchNormReLU(channels)
        self.dense = DenseLayer(2 * channels, embedding_size)

    def forward(self, x: Tensor) -> Tensor:
        x = self.tdnn(x)  # (B, C, T2)
        for i in range(1, self.num_blocks + 1):
            x = getattr(self, f"transit{i}")(getattr(self, f"block{i}")(x))  # (B, C, T2)
        x = self.out_nonlinear(x)  # (B, C, T2)
        stats = torch.cat([x.mean(dim=-1), x.std(dim=-1, unbiased=True)], dim=-1)  # (B, 2C)
        return self.dense(stats)  # (B, E)


class CAMPPlus(nn.Module):
    """CAM++ as IndexTTS2 builds it: `forward(fbank (B, T, F)) -> style (B, E)`."""

    def __init__(
        self,
        feat_dim: int = 80,
        embedding_size: int = 192,
        growth_rate: int = 32,
        bn_size: int = 4,
        init_channels: int = 128,
        m_channels: int = 32,
        dense_blocks: Sequence[tuple[int, int, int]] = DENSE_BLOCKS,
        seg_len: int = 100,
    ):
        super().__init__()
        self.head = FCM(feat_dim, m_channels)
        self.xvector = XVector(
            self.head.out_channels, embedding_size, growth_rate, bn_size, init_channels, dense_blocks, seg_len
        )

    def forward(self, fbank: Tensor) -> Tensor:
        return self.xvector(self.head(fbank.transpose(1, 2)))  # (B, F, T) → (B, E)


# --- weights -----------------------------------------------------------------------------------


def campplus_from_official(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Official `campplus_cn_common.bin` keys → ours: the names are the same."""
    return dict(state)


def campplus_to_official(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Our keys → the official file's (identical names; a plain state dict for `torch.save`)."""
    return dict(state)


def load_campplus(path: str | Path, device: torch.device | str = "cpu", embedding_size: int = 192) -> CAMPPlus:
    """Read the official plain state dict strictly (num_batches_tracked included); eval mode.

    `embedding_size` is config.yaml's `s2mel.style_encoder.dim` (192 for the published model).
    """
    state = torch_load(path, "CAMPPlus speaker encoder weights")
    if not isinstance(state, Mapping):
        raise CheckpointError(f"CAMPPlus weights at {path} are not a state dict (got {type(state).__name__})")
    model = build_on_meta(lambda: CAMPPlus(embedding_size=embedding_size))
    load_strict(model, campplus_from_official(state), f"CAMPPlus weights {path}")
    return model.to(device).eval()
