"""WeNet-style Conformer encoder: w2v-BERT features → conditioning frames at half the frame rate.

Only the variant IndexTTS2 uses is implemented: "conv2d2" subsampling, relative-position
self-attention *without* the relative shift, pre-norm blocks with a convolution module and no
macaron feed-forward, dropout everywhere 0. Attribute names make the state-dict keys equal to the
official ones once the `conditioning_encoder.` / `emo_conditioning_encoder.` prefix is removed.

Dimension legend:
  B  batch
  T  input frames (w2v-BERT features, 50 per second)
  F  input features (input_size, 1024)
  Tc frames after subsampling: floor((T - 1) / 2)
  Fc feature columns after subsampling: floor((F - 1) / 2)
  C  model width (output_size, 512)
  H  attention heads, D = C // H the head width
  U  feed-forward width (linear_units)
  R  rows of the sinusoid table (5000)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from indextts.config import ConformerConfig
from indextts.errors import ConfigError


def sinusoid_table(rows: int, channels: int) -> torch.Tensor:
    """(1, R, C) table with sin(r·ω_i) in even and cos(r·ω_i) in odd channels, ω_i = 10000^(-2i/C).

    Computed with the same float32 operations as WeNet so a fresh table equals the official one
    bit for bit; a loaded checkpoint replaces it anyway.
    """
    position = torch.arange(0, rows).unsqueeze(1)  # (R, 1) int64
    omega = torch.exp(torch.arange(0, channels, 2) * -(math.log(10000.0) / channels))  # (C/2,) float32
    table = torch.zeros(rows, channels)  # (R, C)
    table[:, 0::2] = torch.sin(position * omega)
    table[:, 1::2] = torch.cos(position * omega)
    return table.unsqueeze(0)  # (1, R, C)


class RelPositionalEncoding(nn.Module):
    """Scales the frames by sqrt(C) and hands out the first Tc rows of the sinusoid table.

    The table is a persistent buffer: it is part of the official checkpoint, which may hold rounded
    values, and the official code uses whatever the file holds.
    """

    def __init__(self, channels: int, rows: int = 5000) -> None:
        super().__init__()
        self.xscale = math.sqrt(channels)
        self.register_buffer("pe", sinusoid_table(rows, channels), persistent=True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        frames = x.size(1)
        # WeNet asserts offset + size < max_len; keep the same limit so lengths behave alike.
        if frames >= self.pe.size(1):
            raise ValueError(f"{frames} subsampled frames do not fit the {self.pe.size(1)}-row position table")
        return x * self.xscale, self.pe[:, :frames]  # (B, Tc, C), (1, Tc, C)


class Conv2dSubsampling2(nn.Module):
    """Halve the frame rate: a stride-2 3×3 conv over the (T, F) "image", then flatten and project."""

    def __init__(self, input_size: int, channels: int, pos_table_rows: int = 5000) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, channels, kernel_size=3, stride=2), nn.ReLU())
        self.out = nn.Sequential(nn.Linear(channels * ((input_size - 1) // 2), channels))
        self.pos_enc = RelPositionalEncoding(channels, pos_table_rows)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.conv(x.unsqueeze(1))  # (B, C, Tc, Fc)
        b, c, t, f = x.shape
        # Flatten with the channel as the slower index, as the projection was trained.
        x = self.out(x.transpose(1, 2).reshape(b, t, c * f))  # (B, Tc, C)
        x, pos_emb = self.pos_enc(x)  # (B, Tc, C), (1, Tc, C)
        # Output frame j covers input frames 2j..2j+2; WeNet keeps the mask of the last one.
        return x, pos_emb, mask[:, :, 2::2]  # mask (B, 1, Tc)


class RelPositionAttention(nn.Module):
    """Self-attention with Transformer-XL position biases u, v, but no relative shift (legacy WeNet)."""

    def __init__(self, channels: int, heads: int) -> None:
        super().__init__()
        if channels % heads:
            raise ValueError(f"width {channels} is not divisible by {heads} heads")
        self.h = heads
        self.d_k = channels // heads
        self.linear_q = nn.Linear(channels, channels)
        self.linear_k = nn.Linear(channels, channels)
        self.linear_v = nn.Linear(channels, channels)
        self.linear_out = nn.Linear(channels, channels)
        self.linear_pos = nn.Linear(channels, channels, bias=False)
        self.pos_bias_u = nn.Parameter(torch.zeros(heads, self.d_k))  # (H, D)
        self.pos_bias_v = nn.Parameter(torch.zeros(heads, self.d_k))  # (H, D)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, pos_emb: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        q = self.linear_q(x).view(b, t, self.h, self.d_k)  # (B, Tc, H, D)
        k = self.linear_k(x).view(b, t, self.h, self.d_k).transpose(1, 2)  # (B, H, Tc, D)
        v = self.linear_v(x).view(b, t, self.h, self.d_k).transpose(1, 2)  # (B, H, Tc, D)
        p = self.linear_pos(pos_emb).view(pos_emb.size(0), -1, self.h, self.d_k).transpose(1, 2)  # (1, H, Tc, D)

        q_u = (q + self.pos_bias_u).transpose(1, 2)  # (B, H, Tc, D)
        q_v = (q + self.pos_bias_v).transpose(1, 2)  # (B, H, Tc, D)
        content = q_u @ k.transpose(-2, -1)  # (B, H, Tc, Tc)
        position = q_v @ p.transpose(-2, -1)  # (B, H, Tc, Tc)
        scores = (content + position) / math.sqrt(self.d_k)  # (B, H, Tc, Tc)

        # Padded keys are excluded; zeroing after the softmax also turns an all-padded row's NaNs into 0.
        padded = ~mask.unsqueeze(1)  # (B, 1, 1, Tc)
        attn = torch.softmax(scores.masked_fill(padded, -float("inf")), dim=-1).masked_fill(padded, 0.0)
        y = (attn @ v).transpose(1, 2).reshape(b, t, self.h * self.d_k)  # (B, Tc, C)
        return self.linear_out(y)  # (B, Tc, C)


class ConvolutionModule(nn.Module):
    """Pointwise conv + GLU → depthwise conv → LayerNorm → SiLU → pointwise conv, padding kept at 0."""

    def __init__(self, channels: int, kernel_size: int = 15) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"the depthwise kernel must be odd to keep the length, got {kernel_size}")
        self.pointwise_conv1 = nn.Conv1d(channels, 2 * channels, kernel_size=1)
        self.depthwise_conv = nn.Conv1d(
            channels, channels, kernel_size, padding=(kernel_size - 1) // 2, groups=channels
        )
        self.norm = nn.LayerNorm(channels)
        self.pointwise_conv2 = nn.Conv1d(channels, channels, kernel_size=1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        padded = ~mask  # (B, 1, Tc)
        x = x.transpose(1, 2).masked_fill(padded, 0.0)  # (B, C, Tc)
        x = F.glu(self.pointwise_conv1(x), dim=1)  # (B, C, Tc)
        x = self.depthwise_conv(x)  # (B, C, Tc)
        x = F.silu(self.norm(x.transpose(1, 2))).transpose(1, 2)  # (B, C, Tc)
        x = self.pointwise_conv2(x).masked_fill(padded, 0.0)  # (B, C, Tc)
        return x.transpose(1, 2)  # (B, Tc, C)


class FeedForward(nn.Module):
    def __init__(self, channels: int, units: int) -> None:
        super().__init__()
        self.w_1 = nn.Linear(channels, units)
        self.w_2 = nn.Linear(units, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w_2(F.silu(self.w_1(x)))  # (B, Tc, U) → (B, Tc, C)


class ConformerBlock(nn.Module):
    """Pre-norm residual attention, convolution and feed-forward, then a closing LayerNorm."""

    def __init__(self, channels: int, heads: int, units: int, kernel_size: int = 15) -> None:
        super().__init__()
        self.self_attn = RelPositionAttention(channels, heads)
        self.feed_forward = FeedForward(channels, units)
        self.conv_module = ConvolutionModule(channels, kernel_size)
        self.norm_ff = nn.LayerNorm(channels, eps=1e-5)
        self.norm_mha = nn.LayerNorm(channels, eps=1e-5)
        self.norm_conv = nn.LayerNorm(channels, eps=1e-5)
        self.norm_final = nn.LayerNorm(channels, eps=1e-5)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, pos_emb: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.norm_mha(x), mask, pos_emb)  # (B, Tc, C)
        x = x + self.conv_module(self.norm_conv(x), mask)  # (B, Tc, C)
        x = x + self.feed_forward(self.norm_ff(x))  # (B, Tc, C)
        return self.norm_final(x)  # (B, Tc, C)


class ConformerEncoder(nn.Module):
    """(B, T, F) features and their lengths → (B, Tc, C) frames and the (B, 1, Tc) validity mask."""

    def __init__(
        self,
        input_size: int = 1024,
        output_size: int = 512,
        linear_units: int = 2048,
        attention_heads: int = 8,
        num_blocks: int = 6,
        conv_kernel_size: int = 15,
        pos_table_rows: int = 5000,
    ) -> None:
        super().__init__()
        self.embed = Conv2dSubsampling2(input_size, output_size, pos_table_rows)
        self.encoders = nn.ModuleList(
            ConformerBlock(output_size, attention_heads, linear_units, conv_kernel_size) for _ in range(num_blocks)
        )
        self.after_norm = nn.LayerNorm(output_size, eps=1e-5)

    @classmethod
    def from_config(cls, cfg: ConformerConfig, input_size: int = 1024) -> ConformerEncoder:
        """The speaker (`gpt.condition_module`) or emotion (`gpt.emo_condition_module`) encoder."""
        if cfg.input_layer != "conv2d2":
            raise ConfigError(f"conformer input_layer {cfg.input_layer!r} is not supported; IndexTTS2 uses 'conv2d2'")
        if cfg.output_size % cfg.attention_heads:
            raise ConfigError(
                f"conformer output_size ({cfg.output_size}) must be divisible by "
                f"attention_heads ({cfg.attention_heads})"
            )
        return cls(
            input_size=input_size,
            output_size=cfg.output_size,
            linear_units=cfg.linear_units,
            attention_heads=cfg.attention_heads,
            num_blocks=cfg.num_blocks,
        )

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        frames = torch.arange(x.size(1), device=x.device)  # (T,)
        mask = (frames.unsqueeze(0) < lengths.unsqueeze(-1)).unsqueeze(1)  # (B, 1, T) True = real frame
        x, pos_emb, mask = self.embed(x, mask)  # (B, Tc, C), (1, Tc, C), (B, 1, Tc)
        for block in self.encoders:
            x = block(x, mask, pos_emb)  # (B, Tc, C)
        return self.after_norm(x), mask
