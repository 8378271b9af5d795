"""Flow matching for several requests at once: one estimator call per step for the whole batch.

Shapes: B requests, M mel bins (80), C content channels, S style width, P_b prompt frames and
G_b generated frames of request b, T_b = P_b + G_b, T = max T_b.

Each request keeps what it would have alone: its noise is drawn from its own generator with the
shape it would have alone (1, M, T_b), its prompt frames are reset to 0 after every step, and the
sequences are left-aligned (rotary positions 0…T_b − 1 as alone) and padded on the right. The
estimator sees each request's length: attention hides the padded keys and the WaveNet reflects at
each request's own end (`DiT(edges_at_lengths=True)`), so padding never reaches a valid frame.
What can differ from a request run alone is rounding: matrix products over more rows, and masked
attention, may add in another order (~1e-6 on the mel, see tests/test_decode_batching.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from indextts.s2mel.dit import ConditionOnce, DiT


@dataclass(frozen=True)
class MelRequest:
    """One request's inputs to `S2Mel.generate_mel`."""

    prompt_condition: Tensor  # (1, P, C)
    cond: Tensor  # (1, G, C)
    ref_mel: Tensor  # (1, M, P)
    style: Tensor  # (1, S)
    generator: torch.Generator | None = None
    temperature: float = 1.0
    noise: Tensor | None = None  # (1, M, T) the standard-normal start, drawn beforehand; None: drawn here

    @property
    def prompt_frames(self) -> int:
        return self.ref_mel.shape[-1]

    @property
    def frames(self) -> int:
        """Prompt + generated frames: the length the estimator runs on."""
        return self.prompt_frames + self.cond.shape[1]


def _right_pad(tensors: Sequence[Tensor], length: int, dim: int) -> Tensor:
    """Concatenate along the batch after zero-padding dimension `dim` of each to `length`."""
    padded = []
    for t in tensors:
        pad = [0, 0] * (t.dim() - 1 - dim % t.dim()) + [0, length - t.shape[dim]]
        padded.append(F.pad(t, pad))
    return torch.cat(padded, dim=0)


@torch.inference_mode()
def generate_mel_batch(
    estimator: DiT, requests: Sequence[MelRequest], steps: int = 25, cfg_rate: float = 0.7
) -> list[Tensor]:
    """Each request's mel (1, M, G_b), as `S2Mel.generate_mel` gives it for that request alone."""
    if not requests:
        return []
    for r in requests:
        if r.prompt_condition.shape[1] != r.prompt_frames:
            raise ValueError(
                f"prompt condition has {r.prompt_condition.shape[1]} frames but the reference mel has "
                f"{r.prompt_frames}; regulate the prompt's semantic features to the mel length"
            )
    device, dtype = requests[0].cond.device, requests[0].cond.dtype
    n_mels = requests[0].ref_mel.shape[1]
    T = max(r.frames for r in requests)
    B = len(requests)
    lengths = torch.tensor([r.frames for r in requests], device=device)  # (B,)
    prompts = torch.tensor([r.prompt_frames for r in requests], device=device)  # (B,)
    prompt_mask = torch.arange(T, device=device)[None, None, :] < prompts[:, None, None]  # (B, 1, T)

    starts = []
    for r in requests:  # the draw `solve_cfm` makes for this request alone
        noise = r.noise
        if noise is None:
            noise = torch.randn((1, n_mels, r.frames), generator=r.generator, device=device, dtype=dtype)
        elif noise.shape != (1, n_mels, r.frames):
            raise ValueError(f"noise must have shape {(1, n_mels, r.frames)}, got {tuple(noise.shape)}")
        starts.append(noise * r.temperature)
    x = _right_pad(starts, T, -1).masked_fill(prompt_mask, 0)  # (B, M, T)
    mu = _right_pad([torch.cat([r.prompt_condition, r.cond], dim=1) for r in requests], T, 1)  # (B, T, C)
    prompt_x = _right_pad([r.ref_mel for r in requests], T, -1)  # (B, M, T)
    style = torch.cat([r.style for r in requests], dim=0)  # (B, S)

    # Frames before the shortest prompt are reset after every step: their velocity is not needed.
    # The prompt, style and content are projected once for the whole solve (`ConditionOnce`).
    # Requests of one length need no mask and no per-request edges: the estimator runs as for one alone.
    same_length = all(r.frames == T for r in requests)
    velocity = ConditionOnce(
        estimator,
        output_from=min(r.prompt_frames for r in requests),
        all_frames_valid=same_length,
        edges_at_lengths=not same_length,
    )
    if cfg_rate > 0:
        prompt_x = torch.cat([prompt_x, torch.zeros_like(prompt_x)], dim=0)  # (2B, M, T)
        style = torch.cat([style, torch.zeros_like(style)], dim=0)  # (2B, S)
        mu = torch.cat([mu, torch.zeros_like(mu)], dim=0)  # (2B, T, C)
        lengths = lengths.repeat(2)  # (2B,)
    t_span = torch.linspace(0, 1, steps + 1, device=device)  # as `solve_cfm`: same grid, same float steps
    t = t_span[0]
    for step in range(1, steps + 1):
        dt = t_span[step] - t_span[step - 1]
        if cfg_rate > 0:
            v_cond, v_uncond = velocity(torch.cat([x, x], dim=0), prompt_x, lengths, t.repeat(2 * B), style, mu).chunk(
                2
            )
            v = (1.0 + cfg_rate) * v_cond - cfg_rate * v_uncond  # (B, M, T)
        else:
            v = velocity(x, prompt_x, lengths, t.repeat(B), style, mu)  # (B, M, T)
        x = (x + dt * v).masked_fill(prompt_mask, 0)
        t = t + dt
    return [x[b : b + 1, :, r.prompt_frames : r.frames] for b, r in enumerate(requests)]
