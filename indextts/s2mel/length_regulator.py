"""Length regulator: semantic features at code rate → content condition at mel-frame rate.

Shapes: B batch, T_in input frames (semantic codes), T_out output frames (mel frames),
K semantic width (1024, w2v-BERT / codec embedding), C channels (512 = DiT content_dim).

    (B, T_in, K) ─ content_in_proj ─ nearest resample to T_out ─ n × [conv3 → GroupNorm → Mish] ─ conv1 ─ × mask

The resampling follows PyTorch's `interpolate(mode="nearest")` index rule in float32, so the
frame each output copies is the one the official model copies, including the rounding cases.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from indextts.config import LengthRegulatorConfig


def nearest_source_index(t_in: int, t_out: int, device: torch.device | str | None = None) -> Tensor:
    """Index of the input frame each of `t_out` output frames copies (PyTorch nearest, float32).

    scale = float32(t_in) / float32(t_out); index i reads min(floor(float32(i) · scale), t_in − 1).
    Equal lengths and an exact doubling are special-cased by PyTorch; the general rule gives the
    same indices for them, but they are kept explicit so the rule reads as PyTorch documents it.
    """
    if t_in <= 0 or t_out <= 0:
        raise ValueError(f"lengths must be positive, got t_in={t_in}, t_out={t_out}")
    out = torch.arange(t_out, device=device)  # (T_out,)
    if t_out == t_in:
        return out
    if t_out == 2 * t_in:
        return out // 2
    scale = torch.tensor(t_in, dtype=torch.float32) / torch.tensor(t_out, dtype=torch.float32)
    src = torch.floor(out.to(torch.float32) * scale.to(device)).long()  # (T_out,)
    return src.clamp_(max=t_in - 1)


class InterpolateRegulator(nn.Module):
    """Project to C channels, stretch in time by nearest-neighbour copying, then smooth with convs.

    `embedding` and `mask_token` belong to the discrete-token training path: inference never reads
    them, but the official checkpoint stores them, so they exist here to make loading strict.
    """

    def __init__(
        self,
        in_channels: int = 1024,
        channels: int = 512,
        n_stages: int = 4,
        codebook_size: int = 2048,
        groups: int = 1,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(n_stages):
            layers += [nn.Conv1d(channels, channels, 3, padding=1), nn.GroupNorm(groups, channels), nn.Mish()]
        layers.append(nn.Conv1d(channels, channels, 1))
        self.model = nn.Sequential(*layers)  # official index layout: conv 3i, norm 3i+1, Mish 3i+2, last conv 3n
        self.embedding = nn.Embedding(codebook_size, channels)  # unused at inference
        self.mask_token = nn.Parameter(torch.zeros(1, channels))  # unused at inference
        self.content_in_proj = nn.Linear(in_channels, channels)

    @classmethod
    def from_config(cls, cfg: LengthRegulatorConfig) -> InterpolateRegulator:
        # Only the number of sampling ratios matters: each adds one conv stage, the values are unused.
        return cls(
            in_channels=cfg.in_channels,
            channels=cfg.channels,
            n_stages=len(cfg.sampling_ratios),
            codebook_size=cfg.content_codebook_size,
        )

    def forward(self, x: Tensor, out_lens: Tensor) -> Tensor:
        """x (B, T_in, K), out_lens (B,) int → (B, max(out_lens), C), zero past each length."""
        t_out = int(out_lens.max())
        x = self.content_in_proj(x)  # (B, T_in, C)
        src = nearest_source_index(x.shape[1], t_out, x.device)  # (T_out,)
        # contiguous like the official interpolate output, so the convs take the same kernel path
        x = x.index_select(1, src).transpose(1, 2).contiguous()  # (B, C, T_out)
        x = self.model(x).transpose(1, 2)  # (B, T_out, C)
        mask = torch.arange(t_out, device=x.device)[None, :] < out_lens[:, None]  # (B, T_out)
        return x * mask.unsqueeze(-1)  # (B, T_out, C)
