"""Conditional flow matching sampler: integrate the estimator's velocity field from noise to mel.

Shapes: B batch (1 at inference), T frames (prompt P + generated), M mel bins (80), K content
width (512), S style width (192).

Fixed-step Euler from t = 0 (noise) to t = 1 (mel) with classifier-free guidance:

    v = (1 + w) · v(x, prompt, style, content) − w · v(x, 0, 0, 0)        w = cfg_rate (0.7)
    x ← x + dt · v,   then the prompt frames of x are reset to 0

The two guidance branches run as one batch of 2B. The prompt mel is given to the estimator as a
separate input, never as part of x, so the first P frames of the result are meaningless and are
dropped. Float details that matter for parity: the grid is `linspace(0, 1, steps + 1)` in float32,
each dt is a difference of neighbouring grid points and t advances by repeated float32 addition.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from indextts.errors import Cancelled

# (x, prompt_x, x_lens, t, style, cond) → velocity, the official estimator's argument order
Estimator = Callable[[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor], Tensor]


@torch.inference_mode()
def solve_cfm(
    estimator: Estimator,
    mu: Tensor,
    prompt_mel: Tensor,
    style: Tensor,
    steps: int = 25,
    cfg_rate: float = 0.7,
    temperature: float = 1.0,
    noise: Tensor | None = None,
    generator: torch.Generator | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Tensor:
    """mu (B, T, K) content for prompt + target, prompt_mel (B, M, P), style (B, S) → mel (B, M, T − P).

    `should_stop` (a request's cancellation check) is asked before every step; raises `Cancelled`.

    `noise` is the standard-normal start (B, M, T) before scaling by `temperature`; when None it is
    drawn with `torch.randn` (from `generator`, else the global generator, as the official code does).
    """
    B, T, _ = mu.shape
    n_mels, P = prompt_mel.shape[1], prompt_mel.shape[2]
    if not 0 <= P < T:
        raise ValueError(f"the prompt ({P} frames) must be shorter than the whole sequence ({T} frames)")
    if noise is None:
        noise = torch.randn((B, n_mels, T), generator=generator, device=mu.device, dtype=mu.dtype)
    elif noise.shape != (B, n_mels, T):
        raise ValueError(f"noise must have shape {(B, n_mels, T)}, got {tuple(noise.shape)}")
    x = noise * temperature  # (B, M, T), a new tensor: the caller's noise is never modified
    x[:, :, :P] = 0

    prompt_x = torch.zeros_like(x)  # (B, M, T)
    prompt_x[:, :, :P] = prompt_mel
    x_lens = torch.tensor([T], device=mu.device)  # (1,): every frame is valid, broadcast over the batch
    if cfg_rate > 0:
        # Constant halves of the CFG batch: conditional inputs, then zeros for the unconditional branch.
        prompt_2 = torch.cat([prompt_x, torch.zeros_like(prompt_x)], dim=0)  # (2B, M, T)
        style_2 = torch.cat([style, torch.zeros_like(style)], dim=0)  # (2B, S)
        mu_2 = torch.cat([mu, torch.zeros_like(mu)], dim=0)  # (2B, T, K)

    t_span = torch.linspace(0, 1, steps + 1, device=mu.device)  # (steps + 1,) float32
    t = t_span[0]
    for step in range(1, steps + 1):
        if should_stop is not None and should_stop():
            raise Cancelled(f"cancelled at diffusion step {step}/{steps}")
        dt = t_span[step] - t_span[step - 1]
        if cfg_rate > 0:
            v_both = estimator(torch.cat([x, x], dim=0), prompt_2, x_lens, t.repeat(2 * B), style_2, mu_2)
            v_cond, v_uncond = v_both.chunk(2, dim=0)  # (B, M, T) each
            v = (1.0 + cfg_rate) * v_cond - cfg_rate * v_uncond
        else:
            v = estimator(x, prompt_x, x_lens, t.repeat(B), style, mu)  # (B, M, T)
        x = x + dt * v
        t = t + dt
        x[:, :, :P] = 0
    return x[:, :, P:]  # (B, M, T − P)
