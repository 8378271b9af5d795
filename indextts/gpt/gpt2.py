"""The GPT-2 decoder stack inside UnifiedVoice, with a preallocated key/value cache.

Same maths and parameter names as Hugging Face's GPT2Model (`h.{n}.ln_1`, `attn.c_attn` stored as
[in, out], `mlp.c_fc`, …, `ln_f`), but no token or position embeddings: UnifiedVoice adds its own
learned text/mel position tables to the input embeddings.

Legend: B batch (beams), T new positions this call, S cached + new positions, C model_dim,
H heads, D head dim (C / H).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


class Conv1D(nn.Module):
    """HF's GPT-2 projection: y = x·W + b with W stored [in, out]."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        self.bias = nn.Parameter(torch.empty(out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (*x.shape[:-1], self.weight.shape[1])
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).view(shape)

    def store_out_major(self) -> None:
        """Keep W's [in, out] shape (and state-dict layout) but store it [out, in] in memory.

        The one-token decode step is a (B, in) × W product that streams every weight once; with each
        output's weights contiguous, CPU BLAS streams them ~35 % faster (measured: 14 → 19 GB/s on the
        development VM, for torch 2.9 and 2.11 alike). Same values; the summation order may differ in
        the last bit.
        """
        self.weight.data = self.weight.data.t().contiguous().t()  # (in, out) view of an (out, in) buffer


def store_projections_out_major(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, Conv1D):
            module.store_out_major()


def gelu_new(x: torch.Tensor) -> torch.Tensor:
    """GPT-2's tanh approximation of GELU (HF `gelu_new`)."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


@dataclass
class KVCache:
    """Keys and values of every layer for positions [0, length): (layers, B, H, max_len, D) each.

    Rows of different prompt lengths share one cache left-padded: row b's real positions start at
    `starts[b]`, and no row ever attends to another row's padding. `starts` is None when no row is
    padded (one request), so that case runs exactly the unmasked computation.
    """

    keys: torch.Tensor
    values: torch.Tensor
    length: int = 0
    starts: torch.Tensor | None = None  # (B,) first real position of each row

    @classmethod
    def allocate(
        cls, layers: int, batch: int, heads: int, max_len: int, head_dim: int, device: torch.device, dtype: torch.dtype
    ) -> KVCache:
        shape = (layers, batch, heads, max_len, head_dim)
        return cls(torch.zeros(shape, device=device, dtype=dtype), torch.zeros(shape, device=device, dtype=dtype))

    @property
    def capacity(self) -> int:
        return self.keys.shape[3]

    def reorder(self, rows: torch.Tensor) -> None:
        """Row b of the cache becomes the old row rows[b] (beams followed, repeated or dropped)."""
        self.keys = self.keys.index_select(1, rows)
        self.values = self.values.index_select(1, rows)
        if self.starts is not None:
            self.starts = self.starts.index_select(0, rows)

    def attention_mask(self, new: int) -> torch.Tensor | None:
        """What each of `new` appended rows may attend to: (B, 1, T, S) or (T, S) bool, None = everything."""
        end = self.length + new
        if self.starts is None:
            if new == 1:
                return None
            return torch.ones(new, end, dtype=torch.bool, device=self.keys.device).tril(diagonal=self.length)  # (T, S)
        keys = torch.arange(end, device=self.keys.device)  # (S,)
        queries = self.length + torch.arange(new, device=self.keys.device)  # (T,)
        causal = keys[None, :] <= queries[:, None]  # (T, S)
        real = keys[None, :] >= self.starts[:, None]  # (B, S)
        # A padding row sees only itself: a row that sees nothing would turn into NaN, and the NaN
        # would reach real rows through 0 · NaN in the attention product.
        itself = keys[None, :] == queries[:, None]  # (T, S)
        return ((causal[None] & real[:, None]) | itself[None]).unsqueeze(1)  # (B, 1, T, S)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.c_attn = Conv1D(dim, 3 * dim)
        self.c_proj = Conv1D(dim, dim)

    def forward(
        self, x: torch.Tensor, layer: int, cache: KVCache | None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)  # 3 × (B, T, C)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))  # (B, H, T, D)
        if cache is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=T > 1)  # (B, H, T, D)
        else:
            start, end = cache.length, cache.length + T
            cache.keys[layer, :, :, start:end] = k
            cache.values[layer, :, :, start:end] = v
            k_all, v_all = cache.keys[layer, :, :, :end], cache.values[layer, :, :, :end]  # (B, H, S, D)
            y = F.scaled_dot_product_attention(q, k_all, v_all, attn_mask=mask)  # (B, H, T, D)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))  # (B, T, C)

    def step(
        self, x: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, column: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        """One new position per row, fixed shapes: x (B, 1, C); keys/values (B, H, W, D) written at `column` (1,)."""
        B, _, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)  # 3 × (B, 1, C)
        q, k, v = (t.view(B, 1, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))  # (B, H, 1, D)
        keys.index_copy_(2, column, k)
        values.index_copy_(2, column, v)
        y = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)  # (B, H, 1, D)
        return self.c_proj(y.transpose(1, 2).reshape(B, 1, C))


def norm32(norm: nn.LayerNorm, x: torch.Tensor) -> torch.Tensor:
    """LayerNorm computed in float32 whatever the weights' precision (as autocast does), result in x's dtype."""
    w, b = norm.weight.float(), norm.bias.float()
    return F.layer_norm(x.float(), norm.normalized_shape, w, b, norm.eps).to(x.dtype)


class MLP(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.c_fc = Conv1D(dim, hidden)
        self.c_proj = Conv1D(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(gelu_new(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, eps: float) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, heads)
        self.ln_2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = MLP(dim, 4 * dim)

    def forward(
        self, x: torch.Tensor, layer: int, cache: KVCache | None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), layer, cache, mask)
        return x + self.mlp(self.ln_2(x))

    def step(
        self, x: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, column: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        x = x + self.attn.step(norm32(self.ln_1, x), keys, values, column, mask)
        return x + self.mlp(norm32(self.ln_2, x))


class GPT2Stack(nn.Module):
    """h.0 … h.{L-1} then ln_f; input embeddings in, hidden states out."""

    def __init__(self, dim: int, layers: int, heads: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.heads = heads
        self.h = nn.ModuleList(Block(dim, heads, eps) for _ in range(layers))
        self.ln_f = nn.LayerNorm(dim, eps=eps)

    def new_cache(self, batch: int, max_len: int, device: torch.device, dtype: torch.dtype) -> KVCache:
        dim = self.ln_f.normalized_shape[0]
        return KVCache.allocate(len(self.h), batch, self.heads, max_len, dim // self.heads, device, dtype)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """x (B, T, C) → (B, T, C). With a cache, x continues the cached positions and is appended."""
        mask = None if cache is None else cache.attention_mask(x.shape[1])  # built once, shared by the layers
        for layer, block in enumerate(self.h):
            x = block(x, layer, cache, mask)
        if cache is not None:
            cache.length += x.shape[1]
        return self.ln_f(x)

    def step(
        self, x: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, column: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        """The decode step with nothing data-dependent on the host, so it can be captured as a CUDA graph.

        x (B, 1, C) is written into every layer's keys/values (L, B, H, W, D) at cache column `column`
        (1,) (a device tensor); `mask` (B, 1, 1, W) says which columns each row attends to (None: all). Norms run
        in float32 explicitly rather than through autocast, whose cast cache a captured graph must
        not depend on. → (B, 1, C) hidden states after ln_f.
        """
        for layer, block in enumerate(self.h):
            x = block.step(x, keys[layer], values[layer], column, mask)
        return norm32(self.ln_f, x)
