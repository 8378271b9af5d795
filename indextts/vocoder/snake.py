"""Snake activations with learned per-channel periodicity: y = x + sin²(α·x) / β.

Snake ties the magnitude to the frequency (β = α); SnakeBeta learns β separately. With
`alpha_logscale` the stored parameters are logarithms (α = e^alpha, β = e^beta), which is how
BigVGAN v2 is trained and stored. A tiny constant keeps the division finite when β → 0.

Legend: B batch, C channels, T time steps.
"""

from __future__ import annotations

import torch
from torch import nn

_EPS = 1e-9  # the official guard against division by zero, kept for identical numbers


class Snake(nn.Module):
    """y = x + sin²(α·x) / α, one α per channel."""

    def __init__(self, channels: int, alpha_logscale: bool = False) -> None:
        super().__init__()
        self.alpha_logscale = alpha_logscale
        # exp(0) = 1: both parametrisations start at α = 1
        init = torch.zeros(channels) if alpha_logscale else torch.ones(channels)
        self.alpha = nn.Parameter(init)  # (C,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha = self.alpha[None, :, None]  # (1, C, 1)
        if self.alpha_logscale:
            alpha = torch.exp(alpha)
        return x + (1.0 / (alpha + _EPS)) * torch.sin(x * alpha) ** 2  # (B, C, T)


class SnakeBeta(nn.Module):
    """y = x + sin²(α·x) / β, one α (frequency) and one β (magnitude) per channel."""

    def __init__(self, channels: int, alpha_logscale: bool = False) -> None:
        super().__init__()
        self.alpha_logscale = alpha_logscale
        init = torch.zeros(channels) if alpha_logscale else torch.ones(channels)
        self.alpha = nn.Parameter(init.clone())  # (C,)
        self.beta = nn.Parameter(init.clone())  # (C,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha = self.alpha[None, :, None]  # (1, C, 1)
        beta = self.beta[None, :, None]  # (1, C, 1)
        if self.alpha_logscale:
            alpha = torch.exp(alpha)
            beta = torch.exp(beta)
        return x + (1.0 / (beta + _EPS)) * torch.sin(x * alpha) ** 2  # (B, C, T)


def make_snake(activation: str, channels: int, alpha_logscale: bool) -> nn.Module:
    """The activation named by BigVGAN's `activation` config key."""
    if activation == "snake":
        return Snake(channels, alpha_logscale)
    if activation == "snakebeta":
        return SnakeBeta(channels, alpha_logscale)
    raise ValueError(f"unknown BigVGAN activation {activation!r} (expected 'snake' or 'snakebeta')")
