"""IndexTTS-2.5's semantic codec (official `EnhancedCodec`, file `codec.pth`): codes at 25 Hz.

The MaskGCT RepCodec of 2.0 with a 2× temporal down-sampling in front of the encoder and a 2×
up-sampling after the decoder. Dimensions as `indextts.semantic.codec`, plus T' = T/2 code frames.

    quantize (training, and upstream's prompt path which 2.5 inference does not use):
      x (B, T, H) ─ down: Conv1d(H, H, k3, s2, p1) ─ GELU ─ encoder ─ quantizer ─ codes (B, T')
    decode (inference, replaces 2.0's second GPT pass):
      codes (B, N) ─ codebook row ─ out_project (D→H) ─ decoder: Vocos + Linear(C→H) ─ (B, N, H)
      ─ nearest ×2 ─ up: Conv1d(H, H, k3, p1) ─ S_infer (B, 2N, H)

Checkpoint: `{"model": state}` with the RepCodec keys plus `down.*` and `up.*`; the quantizer's
weight-normed projections are stored as `weight_g` / `weight_v`, folded here as for 2.0.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from indextts.config_v25 import SemanticCodecConfig25
from indextts.errors import CheckpointError
from indextts.semantic.codec import (
    ResidualVQ,
    semantic_codec_from_official,
    semantic_codec_to_official,
    vocos_stack,
)
from indextts.weights import build_on_meta, load_strict, torch_load


class EnhancedCodec(nn.Module):
    def __init__(self, cfg: SemanticCodecConfig25, kernel_size: int = 7, eps: float = 1e-6) -> None:
        super().__init__()
        self.cfg = cfg
        H = cfg.hidden_size
        self.scale = cfg.downsample_scale
        if self.scale > 1:
            if self.scale != 2:
                raise CheckpointError(f"semantic_codec.downsample_scale {self.scale}: only 1 and 2 exist upstream")
            self.down = nn.Conv1d(H, H, kernel_size=3, stride=2, padding=1)
            self.up = nn.Conv1d(H, H, kernel_size=3, stride=1, padding=1)
        self.encoder = vocos_stack(cfg, kernel_size, eps)
        self.decoder = vocos_stack(cfg, kernel_size, eps)
        self.quantizer = ResidualVQ(H, cfg.codebook_size, cfg.codebook_dim, cfg.num_quantizers)

    def quantize(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Features (B, T, H) → codes (B, T') (or (Q, B, T')) and their embedding (B, T', H)."""
        h = x.transpose(1, 2)  # (B, H, T)
        if self.scale > 1:
            h = F.gelu(self.down(h))  # (B, H, T')
        h = self.encoder(h).transpose(1, 2)  # (B, H, T')
        emb, codes = self.quantizer(h)  # (B, H, T'), (Q, B, T')
        if codes.shape[0] == 1:
            codes = codes.squeeze(0)
        return codes, emb.transpose(1, 2)

    def decode(self, codes: Tensor) -> Tensor:
        """Codes (B, N) (or (Q, B, N)) → S_infer (B, 2N, H), the s2mel content features."""
        if codes.dim() == 2:
            codes = codes.unsqueeze(0)  # (1, B, N)
        x = self.decoder(self.quantizer.embed(codes))  # (B, N, H)
        if self.scale > 1:
            x = F.interpolate(x.transpose(1, 2), scale_factor=2, mode="nearest")  # (B, H, 2N)
            x = self.up(x).transpose(1, 2)  # (B, 2N, H)
        return x


def codec_from_official(checkpoint: Mapping[str, object]) -> dict[str, Tensor]:
    """The official codec.pth (`{"model": state}`) → our state dict (weight norms folded)."""
    state = checkpoint.get("model", checkpoint)
    if not isinstance(state, Mapping):
        raise CheckpointError("codec.pth must hold a state dict under 'model'")
    return semantic_codec_from_official(state)  # type: ignore[arg-type]


def codec_to_official(codec: EnhancedCodec) -> dict[str, dict[str, Tensor]]:
    return {"model": semantic_codec_to_official(codec.state_dict())}


def load_enhanced_codec(
    path: str | Path, cfg: SemanticCodecConfig25, device: torch.device | str = "cpu"
) -> EnhancedCodec:
    """Read codec.pth strictly (every missing or unexpected key listed); the codec in eval mode."""
    state = codec_from_official(torch_load(Path(path), "semantic codec (codec.pth)"))
    codec = build_on_meta(lambda: EnhancedCodec(cfg))
    load_strict(codec, state, f"semantic codec {path}")
    return codec.to(device).eval()
