"""WaveNet (WN) block of the DiT's output head: gated dilated convolutions with a global condition.

Shapes: B batch, C hidden channels (512), G global-condition channels (512), T frames, L layers (8).

    g (B, G, 1) ─ cond_layer ─ (B, 2C·L, 1) ─ slice 2C per layer, broadcast over T
    layer i:  z = in_layer_i(x) + g_i;  a = tanh(z[:C]) ⊙ σ(z[C:]);  r = res_skip_i(a)
              i < L−1: x ← (x + r[:C]) ⊙ mask, skip += r[C:]     last: skip += r
    output = skip ⊙ mask

Quirk kept on purpose: the convolutions pad by *reflection* (the official wrapper ignores the zero
padding it is given and reflect-pads itself), including its trick for inputs shorter than the pad.
The official layers are weight-normed; here they hold the folded weight (see `s2mel.model`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def reflect_pad(x: Tensor, left: int, right: int) -> Tensor:
    """Reflect-pad the last dim; an input too short to reflect is first zero-extended on the right."""
    length = x.shape[-1]
    extra = max(left, right) - length + 1 if length <= max(left, right) else 0
    if extra:
        x = F.pad(x, (0, extra))  # (B, C, T + extra)
    padded = F.pad(x, (left, right), mode="reflect")  # (B, C, left + T + extra + right)
    return padded[..., : padded.shape[-1] - extra]  # (B, C, left + T + right)


def reflect_index(lengths: Tensor, total: int, left: int, right: int) -> Tensor:
    """Source frame of each padded position when sample b of a padded batch reflects at lengths[b].

    lengths (B,) valid frames of each sample, total T the padded length → (B, left + T + right).
    Positions 0…lengths[b] + right − 1 read what `reflect_pad` of that sample alone would put there,
    so a convolution's outputs on the valid frames are those of the sample alone; later positions
    (whose outputs are thrown away) read some valid frame.
    """
    if bool((lengths <= max(left, right)).any()):
        raise ValueError(f"every sample needs more than {max(left, right)} frames to reflect, got {lengths.tolist()}")
    position = torch.arange(-left, total + right, device=lengths.device).abs()  # (left + T + right,)
    last = lengths[:, None] - 1  # (B, 1)
    index = torch.where(position > last, 2 * last - position, position)  # (B, left + T + right)
    return index.clamp(0, total - 1)


class ReflectConv1d(nn.Conv1d):
    """Stride-1 Conv1d that keeps the length by reflect padding (the extra sample goes on the left)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1) -> None:
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation)
        total = (kernel_size - 1) * dilation
        self.pad_right = total // 2
        self.pad_left = total - self.pad_right

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """x (B, C_in, T) → (B, C_out, T); with `lengths` (B,), sample b reflects at its own end lengths[b]."""
        if self.pad_left or self.pad_right:
            if lengths is None:
                x = reflect_pad(x, self.pad_left, self.pad_right)  # (B, C_in, T + k − 1)
            else:
                index = reflect_index(lengths, x.shape[-1], self.pad_left, self.pad_right)  # (B, T + k − 1)
                x = x.gather(2, index.unsqueeze(1).expand(-1, x.shape[1], -1))  # (B, C_in, T + k − 1)
        return super().forward(x)  # (B, C_out, T)


class WaveNet(nn.Module):
    def __init__(
        self,
        hidden_channels: int = 512,
        kernel_size: int = 5,
        dilation_rate: int = 1,
        n_layers: int = 8,
        gin_channels: int = 512,
    ) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"WaveNet kernel_size must be odd, got {kernel_size}")
        self.hidden_channels = hidden_channels
        self.n_layers = n_layers
        self.cond_layer = ReflectConv1d(gin_channels, 2 * hidden_channels * n_layers, 1)
        self.in_layers = nn.ModuleList(
            ReflectConv1d(hidden_channels, 2 * hidden_channels, kernel_size, dilation=dilation_rate**i)
            for i in range(n_layers)
        )
        # The last layer only feeds the skip sum, so it needs half the outputs.
        self.res_skip_layers = nn.ModuleList(
            ReflectConv1d(hidden_channels, 2 * hidden_channels if i < n_layers - 1 else hidden_channels, 1)
            for i in range(n_layers)
        )

    @property
    def receptive_halo(self) -> int:
        """Input frames left of an output frame that it depends on: output frame i reads frames i − halo….

        A crop of the input that starts at frame s therefore gives exact outputs from frame s + halo on.
        """
        return sum(layer.pad_left for layer in self.in_layers)

    def forward(self, x: Tensor, mask: Tensor | None, g: Tensor, lengths: Tensor | None = None) -> Tensor:
        """x (B, C, T), mask (B or 1, 1, T) or None when every frame is valid, g (B, G, 1) → (B, C, T).

        `lengths` (B,): the convolutions reflect at each sample's own last valid frame, so the valid
        frames come out as if each sample ran alone (the official code reflects at the padded end).
        """
        C = self.hidden_channels
        g = self.cond_layer(g)  # (B, 2C·L, 1)
        skip = torch.zeros_like(x)  # (B, C, T)
        for i, (in_layer, res_skip_layer) in enumerate(zip(self.in_layers, self.res_skip_layers, strict=True)):
            z = in_layer(x, lengths) + g[:, 2 * C * i : 2 * C * (i + 1), :]  # (B, 2C, T)
            tanh_part, gate_part = torch.split(z, C, dim=1)  # (B, C, T) each
            acts = torch.tanh(tanh_part) * torch.sigmoid(gate_part)  # (B, C, T)
            r = res_skip_layer(acts)  # (B, 2C, T), last layer (B, C, T)
            if i < self.n_layers - 1:
                x = x + r[:, :C, :]
                if mask is not None:  # an all-valid mask would multiply by exactly 1
                    x = x * mask
                skip = skip + r[:, C:, :]
            else:
                skip = skip + r
        return skip if mask is None else skip * mask  # (B, C, T)
