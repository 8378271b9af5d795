"""Perceiver resampler: a variable-length context → a fixed number of learned latent rows.

The speaker encoder uses 32 latents of the GPT width, the emotion encoder one latent of width
1024. Layers have no pre-normalisation; each latent attends to the latents *and* the context
(latents prepended), and one RMS-style norm closes the stack. Attribute names make the
state-dict keys equal to the official ones once the `perceiver_encoder.` /
`emo_perceiver_encoder.` prefix is removed.

Dimension legend:
  B  batch
  T  context frames
  K  context width (context_dim, the conformer output 512)
  N  latents (num_latents)
  E  latent width (dim)
  H  heads, D head width (dim_head, 64)
  I  feed-forward inner width: int(E · ff_mult · 2/3)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from indextts.config import ConformerConfig


class CrossAttention(nn.Module):
    """Latents query [latents ; context]; keys and values come from one projection, split in halves."""

    def __init__(self, dim: int, heads: int, dim_head: int = 64) -> None:
        super().__init__()
        self.heads = heads
        self.scale = dim_head**-0.5
        self.to_q = nn.Linear(dim, heads * dim_head, bias=False)
        self.to_kv = nn.Linear(dim, 2 * heads * dim_head, bias=False)
        self.to_out = nn.Linear(heads * dim_head, dim, bias=False)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.heads, -1).transpose(1, 2)  # (B, H, n, D)

    def forward(self, latents: torch.Tensor, context: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
        keys_in = torch.cat((latents, context), dim=-2)  # (B, N+T, E)
        k, v = self.to_kv(keys_in).chunk(2, dim=-1)  # (B, N+T, H·D) each
        q, k, v = map(self._split_heads, (self.to_q(latents), k, v))  # (B, H, N, D), (B, H, N+T, D) ×2
        sim = (q @ k.transpose(-2, -1)) * self.scale  # (B, H, N, N+T)
        if key_mask is not None:
            # The largest finite negative, not -inf, as the official code: a fully masked row stays finite.
            sim = sim.masked_fill(~key_mask[:, None, None, :], -torch.finfo(sim.dtype).max)
        out = sim.softmax(dim=-1) @ v  # (B, H, N, D)
        b, h, n, d = out.shape
        return self.to_out(out.transpose(1, 2).reshape(b, n, h * d))  # (B, N, E)


class GEGLU(nn.Module):
    """First half of the channels is the value, second half the (exact-GELU) gate."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value, gate = x.chunk(2, dim=-1)  # (B, N, I) each
        return F.gelu(gate) * value


def feed_forward(dim: int, mult: int) -> nn.Sequential:
    """Linear → GEGLU → Linear; the indices 0 and 2 are the official key names."""
    inner = int(dim * mult * 2 / 3)
    return nn.Sequential(nn.Linear(dim, 2 * inner), GEGLU(), nn.Linear(inner, dim))


class RMSNorm(nn.Module):
    """x / max(‖x‖₂, 1e-12) · sqrt(E) · gamma."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.scale = dim**0.5
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=-1) * self.scale * self.gamma


class PerceiverResampler(nn.Module):
    """(B, T, K) context with a (B, T) validity mask → (B, N, E) latents."""

    def __init__(
        self,
        dim: int,
        context_dim: int,
        num_latents: int,
        heads: int,
        dim_head: int = 64,
        depth: int = 2,
        ff_mult: int = 2,
    ) -> None:
        super().__init__()
        # The official module has no projection (and no keys for one) when the widths already agree.
        self.proj_context = nn.Linear(context_dim, dim) if context_dim != dim else nn.Identity()
        self.latents = nn.Parameter(torch.zeros(num_latents, dim))  # (N, E)
        self.layers = nn.ModuleList(
            nn.ModuleList([CrossAttention(dim, heads, dim_head), feed_forward(dim, ff_mult)]) for _ in range(depth)
        )
        self.norm = RMSNorm(dim)

    @classmethod
    def from_config(cls, cfg: ConformerConfig, dim: int, num_latents: int) -> PerceiverResampler:
        """The perceiver behind a conformer: its heads and ff_mult come from the same config block."""
        return cls(dim, cfg.output_size, num_latents, heads=cfg.attention_heads, ff_mult=cfg.perceiver_mult)

    def forward(self, context: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """`mask` marks real context frames (True); the latents themselves are always attended to."""
        context = self.proj_context(context)  # (B, T, E)
        latents = self.latents.unsqueeze(0).expand(context.size(0), -1, -1)  # (B, N, E)
        key_mask = None
        if mask is not None:
            key_mask = torch.cat((mask.new_ones(mask.size(0), latents.size(1)), mask), dim=1)  # (B, N+T)
        for attn, ff in self.layers:
            latents = attn(latents, context, key_mask) + latents  # (B, N, E)
            latents = ff(latents) + latents  # (B, N, E)
        return self.norm(latents)  # (B, N, E)
