"""MaskGCT semantic codec (Amphion's RepCodec): w2v-BERT features → discrete semantic codes.

Dimensions:
    B batch, T frames (50 Hz), N codes, Q quantizers (1 in IndexTTS2),
    H feature width (`hidden_size`, = w2v-BERT's 1024), C Vocos width (`vocos_dim`, 384),
    I ConvNeXt inner width (`vocos_intermediate_dim`, 2048), D code width (`codebook_dim`, 8),
    K codebook rows (`codebook_size`, 8192).

    x (B, T, H) ─ encoder: Vocos ConvNeXt stack + Linear(C→H) ─ in_project (H→D)
      ─ nearest codebook row by cosine ─ codes (B, T) ─ codebook row ─ out_project (D→H) ─ (B, T, H)

The codes are the GPT's "mel codes"; the embedding of the prompt's codes conditions the s2mel
length regulator. The decoder exists only because the official weights file holds it and is
loaded strictly; inference never runs it. The two weight-normed 1×1 convolutions of the
quantizer are stored folded (plain `weight`); `semantic_codec_from_official` / `_to_official`
convert to and from the file's `weight_g` / `weight_v`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from indextts.config import SemanticCodecConfig
from indextts.errors import CheckpointError
from indextts.weights import build_on_meta, fold_weight_norms, load_strict, unfold_weight_norms

_WEIGHT_NORMED = ("in_project", "out_project")  # the quantizer's convs, weight-normed in the file


class ConvNeXtBlock(nn.Module):
    """Depthwise conv → LayerNorm → pointwise MLP (exact GELU) → per-channel scale, residual."""

    def __init__(self, dim: int, intermediate_dim: int, layer_scale: float, kernel_size: int = 7, eps: float = 1e-6):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: Tensor) -> Tensor:
        h = self.dwconv(x).transpose(1, 2)  # (B, T, C)
        h = self.pwconv2(F.gelu(self.pwconv1(self.norm(h))))  # (B, T, C)
        return x + (self.gamma * h).transpose(1, 2)  # (B, C, T)


class VocosBackbone(nn.Module):
    """Conv embedding and a stack of ConvNeXt blocks at constant frame rate; (B, H, T) → (B, T, C)."""

    def __init__(
        self,
        input_channels: int,
        dim: int,
        intermediate_dim: int,
        num_layers: int,
        kernel_size: int = 7,
        eps: float = 1e-6,
    ):
        super().__init__()
        self.embed = nn.Conv1d(input_channels, dim, kernel_size, padding=kernel_size // 2)
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.convnext = nn.ModuleList(
            ConvNeXtBlock(dim, intermediate_dim, 1.0 / num_layers, kernel_size, eps) for _ in range(num_layers)
        )
        self.final_layer_norm = nn.LayerNorm(dim, eps=eps)

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm(self.embed(x).transpose(1, 2)).transpose(1, 2)  # (B, C, T)
        for block in self.convnext:
            x = block(x)  # (B, C, T)
        return self.final_layer_norm(x.transpose(1, 2))  # (B, T, C)


def vocos_stack(cfg: SemanticCodecConfig, kernel_size: int = 7, eps: float = 1e-6) -> nn.Sequential:
    """Encoder (or decoder): Vocos backbone, then Linear(C→H); (B, H, T) → (B, T, H)."""
    backbone = VocosBackbone(
        cfg.hidden_size, cfg.vocos_dim, cfg.vocos_intermediate_dim, cfg.vocos_num_layers, kernel_size, eps
    )
    return nn.Sequential(backbone, nn.Linear(cfg.vocos_dim, cfg.hidden_size))


class FactorizedVQ(nn.Module):
    """One factorized vector quantizer: project H → D, pick a codebook row, project back D → H.

    Rows are chosen by cosine similarity (latent and codebook both L2-normalised); the row that
    is emitted is the stored, un-normalised one.
    """

    def __init__(self, input_dim: int, codebook_size: int, codebook_dim: int, eps: float = 1e-12):
        super().__init__()
        self.eps = eps
        # Without a width change the official code has no projections at all (and no keys for them).
        project = input_dim != codebook_dim
        self.in_project = nn.Conv1d(input_dim, codebook_dim, 1) if project else nn.Identity()
        self.out_project = nn.Conv1d(codebook_dim, input_dim, 1) if project else nn.Identity()
        self.codebook = nn.Embedding(codebook_size, codebook_dim)

    def select(self, z_e: Tensor) -> Tensor:
        """(B, D, T) projected latents → (B, T) indices of the most cosine-similar codebook rows."""
        b, d, t = z_e.shape
        e = F.normalize(z_e.transpose(1, 2).reshape(b * t, d), dim=1, eps=self.eps)  # (B·T, D)
        c = F.normalize(self.codebook.weight, dim=1, eps=self.eps)  # (K, D)
        # Squared distance between unit vectors = 2 − 2·cos; expanded exactly as upstream computes
        # it, because rounding in this expansion decides near-ties.
        dist = e.pow(2).sum(1, keepdim=True) - 2 * e @ c.t() + c.pow(2).sum(1, keepdim=True).t()  # (B·T, K)
        return dist.argmin(dim=1).reshape(b, t)  # (B, T)

    def lookup(self, codes: Tensor) -> Tensor:
        """(B, N) codes → (B, D, N) codebook rows."""
        return F.embedding(codes, self.codebook.weight).transpose(1, 2)  # (B, D, N)

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """(B, H, T) → quantised (B, H, T), codes (B, T)."""
        z_e = self.in_project(z)  # (B, D, T)
        codes = self.select(z_e)  # (B, T)
        z_q = self.lookup(codes)  # (B, D, T)
        # The training-time straight-through form; as arithmetic it can move the last bit of z_q.
        z_q = z_e + (z_q - z_e)  # (B, D, T)
        return self.out_project(z_q), codes  # (B, H, T)

    def embed(self, codes: Tensor) -> Tensor:
        """(B, N) codes → (B, H, N) embeddings (no straight-through term: there is no latent)."""
        return self.out_project(self.lookup(codes))  # (B, H, N)


class ResidualVQ(nn.Module):
    """Q factorized quantizers, each quantising what the previous ones left over (Q = 1 here)."""

    def __init__(self, input_dim: int, codebook_size: int, codebook_dim: int, num_quantizers: int = 1):
        super().__init__()
        self.quantizers = nn.ModuleList(
            FactorizedVQ(input_dim, codebook_size, codebook_dim) for _ in range(num_quantizers)
        )

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """(B, H, T) → sum of the quantised residuals (B, H, T), codes (Q, B, T)."""
        total, residual, codes = torch.zeros_like(z), z, []
        for quantizer in self.quantizers:
            z_q, idx = quantizer(residual)  # (B, H, T), (B, T)
            total = total + z_q
            residual = residual - z_q
            codes.append(idx)
        return total, torch.stack(codes)  # (B, H, T), (Q, B, T)

    def embed(self, codes: Tensor) -> Tensor:
        """(Q, B, N) codes → (B, H, N), the sum of every quantizer's embedding."""
        return sum(q.embed(idx) for q, idx in zip(self.quantizers, codes, strict=True))  # (B, H, N)


class SemanticCodec(nn.Module):
    """The RepCodec as IndexTTS2 uses it: encoder + quantizer (decoder only carried for the weights).

    `num_quantizers` and the Vocos `kernel_size` / `eps` are not in config.yaml; the defaults are
    the official ones. Upstream's optional 2× down/up-sampling (`downsample_scale` > 1) is not
    used by IndexTTS2 and is not implemented.
    """

    def __init__(self, cfg: SemanticCodecConfig, num_quantizers: int = 1, kernel_size: int = 7, eps: float = 1e-6):
        super().__init__()
        self.cfg = cfg
        self.encoder = vocos_stack(cfg, kernel_size, eps)
        self.decoder = vocos_stack(cfg, kernel_size, eps)
        self.quantizer = ResidualVQ(cfg.hidden_size, cfg.codebook_size, cfg.codebook_dim, num_quantizers)

    @property
    def num_quantizers(self) -> int:
        return len(self.quantizer.quantizers)

    def quantize(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """w2v-BERT features (B, T, H) → codes (B, T) int64 and their embedding (B, T, H).

        With more than one quantizer the codes are (Q, B, T).
        """
        h = self.encoder(x.transpose(1, 2)).transpose(1, 2)  # (B, H, T)
        emb, codes = self.quantizer(h)  # (B, H, T), (Q, B, T)
        if self.num_quantizers == 1:
            codes = codes.squeeze(0)  # (B, T)
        return codes, emb.transpose(1, 2)  # (B, T), (B, T, H)

    def embed_codes(self, codes: Tensor) -> Tensor:
        """Codes (B, N) (or (Q, B, N)) → embeddings (B, N, H), e.g. for the GPT's generated codes."""
        if codes.dim() == 2:
            codes = codes.unsqueeze(0)  # (1, B, N)
        return self.quantizer.embed(codes).transpose(1, 2)  # (B, N, H)


# --- weights -----------------------------------------------------------------------------------


def _weight_normed_stems(keys: Mapping[str, Tensor]) -> list[str]:
    return [
        key[: -len(".weight")]
        for key in keys
        if key.endswith(".weight") and key[: -len(".weight")].rsplit(".", 1)[-1] in _WEIGHT_NORMED
    ]


def semantic_codec_from_official(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Official `model.safetensors` keys → ours: each `weight_g`/`weight_v` pair folded into `weight`."""
    for key, g in state.items():
        if key.endswith(".weight_g"):
            v = state.get(key[: -len("_g")] + "_v")
            if v is not None and tuple(g.shape) != (v.shape[0],) + (1,) * (v.dim() - 1):
                raise CheckpointError(
                    f"semantic codec: {key} has shape {tuple(g.shape)}, expected "
                    f"{(v.shape[0],) + (1,) * (v.dim() - 1)} for its weight_v {tuple(v.shape)}"
                )
    return fold_weight_norms(state)


def semantic_codec_to_official(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Our keys → the official layout (`weight_g`/`weight_v`), for writing `model.safetensors`-style files."""
    return unfold_weight_norms(state, _weight_normed_stems(state))


def load_semantic_codec(
    path: str | Path, cfg: SemanticCodecConfig, device: torch.device | str = "cpu"
) -> SemanticCodec:
    """Read the official `semantic_codec/model.safetensors` strictly; returns the codec in eval mode."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"semantic codec weights not found: {path}. See checkpoints/README.md for the download commands."
        )
    try:
        state = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"semantic codec weights at {path} cannot be read ({exc}); download them again.") from exc
    codec = build_on_meta(lambda: SemanticCodec(cfg))
    load_strict(codec, semantic_codec_from_official(state), f"semantic codec {path}")
    return codec.to(device).eval()
