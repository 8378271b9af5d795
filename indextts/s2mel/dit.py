"""DiT estimator of the flow-matching vector field: (noisy mel, prompt mel, content, style, t) → velocity.

Shapes: B batch (2 during CFG), T frames (prompt + generated), M mel bins (80), D DiT width (512),
K content width (512), S style width (192), C WaveNet width (512), E time-frequency features (256).

    t ─ TimestepEmbedder ─ t1 (B, D) ───────────────────────────────┐ (conditions every AdaRMS)
    [xᵀ | promptᵀ | cond_projection(cond) | style per frame] (B, T, 2M+D+S)
        ─ cond_x_merge_linear ─ Transformer ─ (B, T, D)
        ─ skip_linear([· | xᵀ]) ─ x_res (B, T, D)                      (long skip from the noisy input)
    x_res ─ conv1 ─ WaveNet(g = t_embedder2(t)) ─ + res_projection(x_res)
        ─ FinalLayer(t1) ─ conv2 ─ (B, M, T)

`x_embedder`, `cond_embedder`, `content_mask_embedder` and `input_pos` are stored in the official
checkpoint but never used at inference; they are kept so loading is strict.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from indextts.config import DiTConfig, WaveNetConfig
from indextts.s2mel.transformer import Transformer
from indextts.s2mel.wavenet import WaveNet


class TimestepEmbedder(nn.Module):
    """t ∈ [0, 1] → [cos(1000·t·f_j) | sin(1000·t·f_j)] (E) → Linear → SiLU → Linear (D)."""

    def __init__(self, hidden: int, frequency_size: int = 256, max_period: float = 10000.0, scale: float = 1000.0):
        super().__init__()
        self.scale = scale
        self.mlp = nn.Sequential(nn.Linear(frequency_size, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        half = frequency_size // 2
        # A persistent buffer: the checkpoint's copy is what the model was trained with.
        freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)  # (E/2,)
        self.register_buffer("freqs", freqs)

    def forward(self, t: Tensor) -> Tensor:
        """t (B,) → (B, D)."""
        args = self.scale * t[:, None].float() * self.freqs[None]  # (B, E/2)
        return self.mlp(torch.cat([torch.cos(args), torch.sin(args)], dim=-1))  # (B, D)


class FinalLayer(nn.Module):
    """adaLN output layer: LayerNorm (no affine) → x·(1 + scale) + shift from t1 → Linear."""

    def __init__(self, hidden: int, cond_dim: int) -> None:
        super().__init__()
        self.norm_final = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(hidden, hidden)  # weight-normed in the official file, folded here
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(cond_dim, 2 * hidden))

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        """x (B, T, C), c (B, D) → (B, T, C)."""
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)  # (B, C) each
        x = self.norm_final(x) * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)
        return self.linear(x)


class DiT(nn.Module):
    def __init__(
        self,
        in_channels: int = 80,
        hidden_dim: int = 512,
        depth: int = 13,
        num_heads: int = 8,
        content_dim: int = 512,
        content_codebook_size: int = 1024,
        style_dim: int = 192,
        wavenet_hidden: int = 512,
        wavenet_layers: int = 8,
        wavenet_kernel: int = 5,
        wavenet_dilation_rate: int = 1,
        uvit_skip: bool = True,
        max_positions: int = 16384,
        frequency_size: int = 256,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.transformer = Transformer(hidden_dim, depth, num_heads, uvit_skip=uvit_skip)
        self.x_embedder = nn.Linear(in_channels, hidden_dim)  # unused
        self.cond_embedder = nn.Embedding(content_codebook_size, hidden_dim)  # unused (discrete content)
        self.cond_projection = nn.Linear(content_dim, hidden_dim)
        self.t_embedder = TimestepEmbedder(hidden_dim, frequency_size)
        # The rotary table and this buffer bound the sequence length (official: 16384, not block_size).
        self.register_buffer("input_pos", torch.arange(max_positions))
        self.t_embedder2 = TimestepEmbedder(wavenet_hidden, frequency_size)
        self.conv1 = nn.Linear(hidden_dim, wavenet_hidden)
        self.conv2 = nn.Conv1d(wavenet_hidden, in_channels, 1)
        self.wavenet = WaveNet(wavenet_hidden, wavenet_kernel, wavenet_dilation_rate, wavenet_layers, wavenet_hidden)
        self.final_layer = FinalLayer(wavenet_hidden, hidden_dim)
        self.res_projection = nn.Linear(hidden_dim, wavenet_hidden)
        self.content_mask_embedder = nn.Embedding(1, hidden_dim)  # unused
        self.skip_linear = nn.Linear(hidden_dim + in_channels, hidden_dim)
        self.cond_x_merge_linear = nn.Linear(2 * in_channels + hidden_dim + style_dim, hidden_dim)

    @classmethod
    def from_config(cls, dit: DiTConfig, wavenet: WaveNetConfig, style_dim: int) -> DiT:
        return cls(
            in_channels=dit.in_channels,
            hidden_dim=dit.hidden_dim,
            depth=dit.depth,
            num_heads=dit.num_heads,
            content_dim=dit.content_dim,
            content_codebook_size=dit.content_codebook_size,
            style_dim=style_dim,
            wavenet_hidden=wavenet.hidden_dim,
            wavenet_layers=wavenet.num_layers,
            wavenet_kernel=wavenet.kernel_size,
            wavenet_dilation_rate=wavenet.dilation_rate,
            uvit_skip=dit.uvit_skip_connection,
        )

    @property
    def max_frames(self) -> int:
        return self.input_pos.shape[0]

    def forward(
        self,
        x: Tensor,
        prompt_x: Tensor,
        x_lens: Tensor,
        t: Tensor,
        style: Tensor,
        cond: Tensor,
        output_from: int = 0,
        all_frames_valid: bool = False,
        edges_at_lengths: bool = False,
    ) -> Tensor:
        """x, prompt_x (B, M, T); x_lens (B or 1,) valid frames; t (B,); style (B, S); cond (B, T, K) → (B, M, T).

        The argument order is the official estimator's, so either can be handed to `solve_cfm`.
        `output_from`: only the velocity of frames output_from… is wanted (the sampler discards the
        prompt frames'); earlier frames of the result are 0. Every block but the transformer's last
        still runs on every frame (they are attention keys); the last block, the per-frame head and the
        WaveNet skip the unwanted frames, less the WaveNet's receptive halo. So the wanted frames get the
        same computation as in a full call; only matrix products over fewer rows may round differently
        (BLAS picks its blocking by size: ~2e-7 relative on the mel after 25 steps, see bench/s2mel_profile.py).
        `all_frames_valid`: the caller knows x_lens covers every frame (always so at inference), so no
        mask is built; attention and the WaveNet run faster without one, and an all-True mask changes
        no number. Deciding it here from x_lens would cost a device sync at every step.
        `edges_at_lengths`: a padded batch of requests (x_lens (B,)): each sample's WaveNet reflects at
        its own last valid frame, so its valid frames get the velocity it would get alone. The official
        code reflects at the padded end (what training did); it has no batched inference to match.
        """
        return self.velocity(
            x, x_lens, t, self.project_condition(prompt_x, style, cond), output_from, all_frames_valid, edges_at_lengths
        )

    def project_condition(self, prompt_x: Tensor, style: Tensor, cond: Tensor) -> Tensor:
        """prompt_x (B, M, T), style (B, S), cond (B, T, K) → their share of the merged input (B, T, D).

        `cond_x_merge_linear` maps [xᵀ | promptᵀ | cond_projection(cond) | style] to the width D; being
        linear, it is W_x·xᵀ + (W_rest·[promptᵀ | cond_projection(cond) | style] + bias), and the second
        term does not change between the solver's steps. `ConditionOnce` computes it once per solve.
        """
        B, _, T = prompt_x.shape
        m = self.in_channels
        rest = torch.cat(
            [prompt_x.transpose(1, 2), self.cond_projection(cond), style[:, None, :].expand(B, T, -1)], dim=-1
        )  # (B, T, M + D + S)
        return F.linear(rest, self.cond_x_merge_linear.weight[:, m:], self.cond_x_merge_linear.bias)  # (B, T, D)

    def velocity(
        self,
        x: Tensor,
        x_lens: Tensor,
        t: Tensor,
        condition: Tensor,
        output_from: int = 0,
        all_frames_valid: bool = False,
        edges_at_lengths: bool = False,
    ) -> Tensor:
        """`forward` with the conditioning inputs already projected (`project_condition`) → (B, M, T)."""
        B, _, T = x.shape
        if self.max_frames < T:
            raise ValueError(
                f"the s2mel model handles at most {self.max_frames} mel frames (prompt + generated), got {T}; "
                "use a shorter prompt or shorter text segments"
            )
        if not 0 <= output_from < T:
            raise ValueError(f"output_from must be a frame index in [0, {T}), got {output_from}")
        t1 = self.t_embedder(t)  # (B, D)
        x = x.transpose(1, 2)  # (B, T, M)
        x_in = F.linear(x, self.cond_x_merge_linear.weight[:, : self.in_channels]) + condition  # (B, T, D)

        if all_frames_valid:
            frame_mask = attn_mask = None
        else:
            valid = torch.arange(T, device=x.device)[None, :] < x_lens[:, None]  # (B or 1, T)
            frame_mask = valid.unsqueeze(1)  # (B or 1, 1, T)
            attn_mask = frame_mask.unsqueeze(1).expand(-1, 1, T, T)  # (B or 1, 1, T, T): keys past x_lens hidden

        start = max(0, output_from - self.wavenet.receptive_halo)  # first frame the head computes
        x_res = self.transformer(x_in, t1.unsqueeze(1), self.input_pos[:T], attn_mask, start)  # (B, T', D)
        x_res = self.skip_linear(torch.cat([x_res, x[:, start:]], dim=-1))  # (B, T', D), T' = T − start

        h = self.conv1(x_res).transpose(1, 2)  # (B, C, T')
        g = self.t_embedder2(t).unsqueeze(2)  # (B, C, 1)
        head_mask = None if frame_mask is None else frame_mask[..., start:]  # (B or 1, 1, T')
        lengths = (x_lens.expand(B) - start) if edges_at_lengths else None  # (B,) valid frames of the crop
        h = self.wavenet(h, head_mask, g, lengths).transpose(1, 2) + self.res_projection(x_res)  # (B, T', C)
        h = self.final_layer(h, t1).transpose(1, 2)  # (B, C, T')
        velocity = self.conv2(h)  # (B, M, T')
        if output_from == 0:
            return velocity  # (B, M, T)
        return F.pad(velocity[..., output_from - start :], (output_from, 0))  # (B, M, T), zero before output_from


class ConditionOnce:
    """The DiT as one solve's estimator (the official argument order): the request-invariant inputs
    (prompt mel, style, content) are projected once, at the first step, and reused while the solver
    passes the same tensors, instead of being concatenated and projected again at every step.

    Only the order of additions changes (W_x·x + the projected rest, against one product over the
    concatenation): ~1e-7 relative per call. Keyword options go to `DiT.velocity`.
    """

    def __init__(self, dit: DiT, **options: object) -> None:
        self.dit, self.options = dit, options
        self._inputs: tuple[Tensor, Tensor, Tensor] | None = None
        self._condition: Tensor | None = None

    def __call__(self, x: Tensor, prompt_x: Tensor, x_lens: Tensor, t: Tensor, style: Tensor, cond: Tensor) -> Tensor:
        inputs = (prompt_x, style, cond)
        if self._inputs is None or any(a is not b for a, b in zip(inputs, self._inputs, strict=True)):
            self._condition = self.dit.project_condition(prompt_x, style, cond)  # (B, T, D)
            self._inputs = inputs
        return self.dit.velocity(x, x_lens, t, self._condition, **self.options)  # type: ignore[arg-type]
