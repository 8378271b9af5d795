"""The DiT's transformer: gpt-fast style blocks conditioned on the diffusion time, with U-ViT skips.

Shapes: B batch (2 during CFG), T frames, D width (512), H heads (8), Dh head width (64),
F feed-forward width (1536).

Each block:  h = x + Attn(AdaRMS(x, c));  out = h + SwiGLU(AdaRMS(h, c))
where AdaRMS(x, c) = w ⊙ RMSNorm(x) + b with [w | b] = Linear(c), and c is the time embedding.
Attention is bidirectional with rotary positions on interleaved pairs (2j, 2j+1).

U-ViT skips: the outputs of the first depth // 2 blocks are pushed on a stack; every block after
the middle one pops the most recent and mixes it in with `skip_in_linear` before its own work
(depth 13: block 7 takes block 5's output, 8 takes 4's, … 12 takes 0's; block 6 does neither).
For an even depth the middle block neither pops nor pushes, so one pushed output is never used:
that is the official wiring, kept as is.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def ffn_hidden_size(dim: int, multiple_of: int = 256) -> int:
    """SwiGLU width: two thirds of 4·dim, rounded up to a multiple of 256 (512 → 1536)."""
    hidden = int(2 * (4 * dim) / 3)
    return -(-hidden // multiple_of) * multiple_of


def uvit_skip_layers(depth: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(blocks that push their output, blocks that pop one) for a stack of `depth` blocks."""
    middle = depth // 2
    return tuple(range(middle)), tuple(range(middle + 1, depth))


def rotary_table(positions: Tensor, head_dim: int, base: float = 10000.0) -> Tensor:
    """(cos, sin) of position · base^(−2j/Dh) for each position and pair j → (T, Dh/2, 2), float32."""
    inv_freq = 1.0 / (
        base ** (torch.arange(0, head_dim, 2, device=positions.device)[: head_dim // 2].float() / head_dim)
    )  # (Dh/2,)
    angles = torch.outer(positions, inv_freq)  # (T, Dh/2)
    # polar rather than cos/sin: it is how the reference table is built, to the last bit
    rot = torch.polar(torch.ones_like(angles), angles)  # (T, Dh/2) complex
    return torch.stack([rot.real, rot.imag], dim=-1)  # (T, Dh/2, 2)


def apply_rotary(x: Tensor, table: Tensor) -> Tensor:
    """Rotate each interleaved pair (x[2j], x[2j+1]) of x (B, T, H, Dh) by its angle, in float32."""
    pairs = x.float().reshape(*x.shape[:-1], -1, 2)  # (B, T, H, Dh/2, 2)
    table = table.view(1, pairs.shape[1], 1, pairs.shape[3], 2)  # (1, T, 1, Dh/2, 2)
    cos, sin = table[..., 0], table[..., 1]
    even, odd = pairs[..., 0], pairs[..., 1]
    rotated = torch.stack([even * cos - odd * sin, odd * cos + even * sin], dim=-1)  # (B, T, H, Dh/2, 2)
    return rotated.flatten(3).type_as(x)  # (B, T, H, Dh)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        xf = x.float()  # statistics in float32 whatever the model precision
        normed = xf * torch.rsqrt(torch.mean(xf * xf, dim=-1, keepdim=True) + self.eps)
        return normed.type_as(x) * self.weight


class AdaptiveRMSNorm(nn.Module):
    """RMSNorm (with its own weight) followed by a per-sample affine map computed from c."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.dim = dim
        self.project_layer = nn.Linear(dim, 2 * dim)
        self.norm = RMSNorm(dim, eps)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        """x (B, T, D), c (B, 1, D) → (B, T, D)."""
        weight, bias = torch.split(self.project_layer(c), self.dim, dim=-1)  # (B, 1, D) each
        return weight * self.norm(x) + bias


class Attention(nn.Module):
    def __init__(self, dim: int, n_heads: int, head_dim: int) -> None:
        super().__init__()
        self.n_heads, self.head_dim = n_heads, head_dim
        self.wqkv = nn.Linear(dim, 3 * n_heads * head_dim, bias=False)
        self.wo = nn.Linear(n_heads * head_dim, dim, bias=False)

    def forward(self, x: Tensor, rope: Tensor, mask: Tensor | None, query_from: int = 0) -> Tensor:
        """x (B, T, D), rope (T, Dh/2, 2), mask (B or 1, 1, T, T) bool, True = may attend → (B, Tq, D).

        Only the queries of frames query_from… are answered (Tq = T − query_from); every frame is a key.
        """
        B, T, _ = x.shape
        width = self.n_heads * self.head_dim
        q, k, v = self.wqkv(x).split(width, dim=-1)  # (B, T, H·Dh) each
        q = q[:, query_from:]  # (B, Tq, H·Dh)
        Tq = q.shape[1]
        q = apply_rotary(q.view(B, Tq, self.n_heads, self.head_dim), rope[query_from:])  # (B, Tq, H, Dh)
        k = apply_rotary(k.view(B, T, self.n_heads, self.head_dim), rope)  # (B, T, H, Dh)
        v = v.view(B, T, self.n_heads, self.head_dim)  # (B, T, H, Dh)
        q, k, v = (a.transpose(1, 2) for a in (q, k, v))  # (B, H, Tq or T, Dh)
        if mask is not None:
            mask = mask[:, :, query_from:]  # (B or 1, 1, Tq, T)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, H, Tq, Dh)
        y = y.transpose(1, 2).contiguous().view(B, Tq, width)  # (B, Tq, H·Dh)
        return self.wo(y)  # (B, Tq, D)


class FeedForward(nn.Module):
    """SwiGLU: w2(SiLU(w1 x) ⊙ w3 x)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))  # (B, T, D)


class TransformerBlock(nn.Module):
    def __init__(self, dim: int, n_heads: int, head_dim: int, ffn_hidden: int, eps: float, uvit_skip: bool) -> None:
        super().__init__()
        self.attention = Attention(dim, n_heads, head_dim)
        self.feed_forward = FeedForward(dim, ffn_hidden)
        self.ffn_norm = AdaptiveRMSNorm(dim, eps)
        self.attention_norm = AdaptiveRMSNorm(dim, eps)
        # Every block has one (and the checkpoint stores them all); only the late blocks use it.
        self.skip_in_linear = nn.Linear(2 * dim, dim) if uvit_skip else None

    def forward(
        self,
        x: Tensor,
        c: Tensor,
        rope: Tensor,
        mask: Tensor | None,
        skip: Tensor | None = None,
        query_from: int = 0,
    ) -> Tensor:
        """x (B, T, D), c (B, 1, D), skip (B, T, D) from an early block or None → (B, T − query_from, D).

        Rows before query_from are still read as attention keys, but their outputs are not computed.
        """
        if skip is not None:
            x = self.skip_in_linear(torch.cat([x, skip], dim=-1))  # (B, T, D)
        h = x[:, query_from:] + self.attention(self.attention_norm(x, c), rope, mask, query_from)  # (B, Tq, D)
        return h + self.feed_forward(self.ffn_norm(h, c))  # (B, Tq, D)


class Transformer(nn.Module):
    def __init__(
        self,
        dim: int = 512,
        depth: int = 13,
        n_heads: int = 8,
        head_dim: int | None = None,
        ffn_hidden: int | None = None,
        rope_base: float = 10000.0,
        eps: float = 1e-5,
        uvit_skip: bool = True,
    ) -> None:
        super().__init__()
        self.head_dim = head_dim or dim // n_heads
        self.rope_base = rope_base
        ffn_hidden = ffn_hidden or ffn_hidden_size(dim)
        self.layers = nn.ModuleList(
            TransformerBlock(dim, n_heads, self.head_dim, ffn_hidden, eps, uvit_skip) for _ in range(depth)
        )
        self.norm = AdaptiveRMSNorm(dim, eps)
        self.emit_skip, self.receive_skip = uvit_skip_layers(depth) if uvit_skip else ((), ())

    def forward(self, x: Tensor, c: Tensor, positions: Tensor, mask: Tensor | None, output_from: int = 0) -> Tensor:
        """x (B, T, D), c (B, 1, D), positions (T,) int, mask (B or 1, 1, T, T) bool → (B, T − output_from, D).

        Only the frames output_from… of the result are computed: every block but the last needs all
        frames (they are the next block's attention keys), the last one only the wanted rows.
        """
        rope = rotary_table(positions, self.head_dim, self.rope_base)  # (T, Dh/2, 2)
        last = len(self.layers) - 1
        skips: list[Tensor] = []
        for i, layer in enumerate(self.layers):
            skip = skips.pop() if i in self.receive_skip else None
            x = layer(x, c, rope, mask, skip, output_from if i == last else 0)  # (B, T, D); last (B, T − from, D)
            if i in self.emit_skip:  # never the last block: it is past the middle
                skips.append(x)
        return self.norm(x, c)  # (B, T − output_from, D)
