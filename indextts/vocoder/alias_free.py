"""Anti-aliased activation: run a nonlinearity at twice the sample rate.

A periodic activation creates harmonics above the Nyquist frequency that would fold back as
aliasing. BigVGAN therefore upsamples ×2 (ideal-interpolation approximated by a windowed-sinc
low-pass), applies the activation, low-passes again and keeps every second sample. The same
12-tap Kaiser-windowed sinc (cutoff a quarter of the doubled rate) serves both sides; the filters
are buffers, stored in the checkpoint and also computed here so a freshly built module is right.

Legend: B batch, C channels, T time steps, K filter taps.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn


def kaiser_beta(kernel_size: int, half_width: float) -> float:
    """Kaiser window β for the stop-band attenuation that this length and transition width reach.

    The attenuation A (dB) comes from Kaiser's length formula solved for A, with the transition
    width 4·half_width (in radians/π) and (K/2 − 1) as the effective order; β is Kaiser's
    empirical fit of the window shape to A.
    """
    half = kernel_size // 2
    attenuation = 2.285 * (half - 1) * math.pi * (4 * half_width) + 7.95
    if attenuation > 50.0:
        return 0.1102 * (attenuation - 8.7)
    if attenuation >= 21.0:
        return 0.5842 * (attenuation - 21) ** 0.4 + 0.07886 * (attenuation - 21.0)
    return 0.0


@functools.cache
def _kaiser_sinc_taps(cutoff: float, half_width: float, kernel_size: int) -> tuple[float, ...]:
    # Computed on the CPU whatever the ambient device: a model built on "meta" has hundreds of
    # these filters, and meta tensors would run every element-wise op through slow Python refs.
    cpu = torch.device("cpu")
    half = kernel_size // 2
    beta = kaiser_beta(kernel_size, half_width)
    window = torch.kaiser_window(kernel_size, periodic=False, beta=beta, dtype=torch.float32, device=cpu)  # (K,)
    if kernel_size % 2 == 0:
        # No centre tap: the taps sit at half-integer offsets around the middle.
        t = torch.arange(-half, half, dtype=torch.float32, device=cpu) + 0.5  # (K,)
    else:
        t = torch.arange(kernel_size, dtype=torch.float32, device=cpu) - half  # (K,)
    taps = 2 * cutoff * window * torch.sinc(2 * cutoff * t)  # (K,)
    # Unit DC gain: without it a constant input would leak a small gain error through every layer.
    taps = taps / taps.sum()
    return tuple(taps.tolist())  # float32 values, exactly representable as Python floats


def kaiser_sinc_filter(cutoff: float, half_width: float, kernel_size: int) -> torch.Tensor:
    """Low-pass FIR taps (1, 1, K) in float32: a Kaiser-windowed sinc, normalised to unit DC gain.

    cutoff and half_width are in cycles per sample (0.5 is the Nyquist frequency). The tensor is
    created on the default device, like any parameter of the module that registers it.
    """
    if not 0.0 < cutoff <= 0.5:
        raise ValueError(f"low-pass cutoff must be in (0, 0.5] cycles per sample, got {cutoff}")
    taps = _kaiser_sinc_taps(cutoff, half_width, kernel_size)
    return torch.tensor(taps, dtype=torch.float32).view(1, 1, kernel_size)  # (1, 1, K)


class LowPassFilter1d(nn.Module):
    """Depthwise FIR low-pass with replicate padding, optionally decimating by `stride`."""

    def __init__(self, cutoff: float, half_width: float, stride: int = 1, kernel_size: int = 12) -> None:
        super().__init__()
        self.stride = stride
        # An even filter has no centre: one sample less on the left keeps the output aligned.
        self.pad_left = kernel_size // 2 - (kernel_size % 2 == 0)
        self.pad_right = kernel_size // 2
        self.register_buffer("filter", kaiser_sinc_filter(cutoff, half_width, kernel_size))  # (1, 1, K)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        x = F.pad(x, (self.pad_left, self.pad_right), mode="replicate")  # (B, C, T + K - 1)
        return F.conv1d(x, self.filter.expand(channels, -1, -1), stride=self.stride, groups=channels)  # (B, C, T/s)


class UpSample1d(nn.Module):
    """×ratio upsampling: zero-stuffing and low-pass as one depthwise transposed convolution."""

    def __init__(self, ratio: int = 2, kernel_size: int = 12) -> None:
        super().__init__()
        self.ratio = ratio
        # Input samples replicated at each edge so the filter never sees an artificial step.
        self.pad = kernel_size // ratio - 1
        # The transposed conv output is longer by the edge context and the filter tails; crop to ratio·T.
        self.crop_left = self.pad * ratio + (kernel_size - ratio) // 2
        self.crop_right = self.pad * ratio + (kernel_size - ratio + 1) // 2
        self.register_buffer("filter", kaiser_sinc_filter(0.5 / ratio, 0.6 / ratio, kernel_size))  # (1, 1, K)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        x = F.pad(x, (self.pad, self.pad), mode="replicate")  # (B, C, T + 2p)
        # Only every ratio-th stuffed sample is non-zero, so a unit-DC filter alone would scale by 1/ratio.
        y = self.ratio * F.conv_transpose1d(
            x, self.filter.expand(channels, -1, -1), stride=self.ratio, groups=channels
        )  # (B, C, ratio·(T + 2p − 1) + K)
        return y[..., self.crop_left : y.shape[-1] - self.crop_right]  # (B, C, ratio·T)


class DownSample1d(nn.Module):
    """÷ratio downsampling: low-pass below the new Nyquist frequency, then keep every ratio-th sample."""

    def __init__(self, ratio: int = 2, kernel_size: int = 12) -> None:
        super().__init__()
        self.lowpass = LowPassFilter1d(0.5 / ratio, 0.6 / ratio, stride=ratio, kernel_size=kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lowpass(x)  # (B, C, T/ratio)


class AntiAliasedActivation(nn.Module):
    """upsample ×ratio → activation → downsample ÷ratio; same length in and out."""

    def __init__(self, act: nn.Module, ratio: int = 2, kernel_size: int = 12) -> None:
        super().__init__()
        self.act = act
        self.upsample = UpSample1d(ratio, kernel_size)
        self.downsample = DownSample1d(ratio, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.upsample(x)  # (B, C, 2T)
        x = self.act(x)  # (B, C, 2T)
        return self.downsample(x)  # (B, C, T)
