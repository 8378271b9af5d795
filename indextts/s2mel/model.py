"""The s2mel stage: GPT latents + semantic codes → content condition → mel spectrogram.

Shapes: N semantic codes, L GPT width (1280), K semantic width (1024), C content channels (512),
T_ref prompt frames, T_gen generated frames, M mel bins (80), S style width (192).

    latent (1, N, L) ─ gpt_layer ─ (1, N, K) ─ + codec embedding of the codes ─ regulate to
    T_gen = floor(float32(N) · float32(1.72)) ─ cond (1, T_gen, C)
    [prompt_condition ; cond] (1, T_ref + T_gen, C) ─ solve_cfm(DiT, ref mel, style) ─ (1, M, T_gen)

Checkpoint (`s2mel.pth`): {"net": {"cfm": {"estimator.…"}, "length_regulator": {…}, "gpt_layer": {…}}}.
Our state dict is those three groups flattened as `cfm.…`, `length_regulator.…`, `gpt_layer.…`,
with two deliberate differences handled by `s2mel_from_official` / `s2mel_to_official`:
weight-normed layers hold their folded `weight` (the official code recomputes g · v / ‖v‖ on every
call with the same kernel, so the numbers are identical), and the WaveNet convolutions drop the
official `.conv.conv` wrapper levels. Loading is strict, unlike the official loader, which skips
missing or misshaped keys silently.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from indextts.config import ModelConfig
from indextts.errors import CheckpointError, ConfigError
from indextts.s2mel.dit import ConditionOnce, DiT
from indextts.s2mel.flow_matching import solve_cfm
from indextts.s2mel.length_regulator import InterpolateRegulator
from indextts.weights import build_on_meta, fold_weight_norms, load_strict, torch_load, unfold_weight_norms

GROUPS = ("cfm", "length_regulator", "gpt_layer")
_WAVENET = "cfm.estimator.wavenet."
_WRAPPER = ".conv.conv."  # official WaveNet conv = SConv1d → NormConv1d → weight-normed Conv1d


def _check_supported(cfg: ModelConfig) -> None:
    """The official code has switches for other architectures; only IndexTTS-2's settings are built here."""
    s2mel = cfg.s2mel
    dit, reg, wn = s2mel.dit, s2mel.length_regulator, s2mel.wavenet
    wanted = {
        "s2mel.dit_type": (s2mel.dit_type, "DiT"),
        "s2mel.DiT.final_layer_type": (dit.final_layer_type, "wavenet"),
        "s2mel.DiT.long_skip_connection": (dit.long_skip_connection, True),
        "s2mel.DiT.style_condition": (dit.style_condition, True),
        "s2mel.wavenet.style_condition": (wn.style_condition, True),
        "s2mel.DiT.style_as_token": (dit.style_as_token, False),
        "s2mel.DiT.time_as_token": (dit.time_as_token, False),
        "s2mel.DiT.is_causal": (dit.is_causal, False),
        "s2mel.DiT.zero_prompt_speech_token": (dit.zero_prompt_speech_token, False),
        "s2mel.length_regulator.is_discrete": (reg.is_discrete, False),
        "s2mel.length_regulator.vector_quantize": (reg.vector_quantize, False),
        "s2mel.length_regulator.f0_condition": (reg.f0_condition, False),
        "s2mel.length_regulator.n_codebooks": (reg.n_codebooks, 1),
    }
    problems = [f"'{key}' is {got!r}, only {want!r} is supported" for key, (got, want) in wanted.items() if got != want]
    if not reg.sampling_ratios:
        problems.append("'s2mel.length_regulator.sampling_ratios' must not be empty")
    if wn.hidden_dim != dit.hidden_dim:  # the final layer's modulation reads the DiT time embedding
        problems.append("'s2mel.wavenet.hidden_dim' must equal 's2mel.DiT.hidden_dim'")
    if reg.channels != dit.content_dim:
        problems.append("'s2mel.length_regulator.channels' must equal 's2mel.DiT.content_dim'")
    if problems:
        raise ConfigError("unsupported s2mel configuration:\n  - " + "\n  - ".join(problems))


class S2Mel(nn.Module):
    """The three weight groups of s2mel.pth and the thin glue between them (built from config.yaml)."""

    def __init__(self, cfg: ModelConfig, frames_per_code: float = 1.72, gpt_layer_widths: tuple[int, int] = (256, 128)):
        super().__init__()
        _check_supported(cfg)
        s2mel = cfg.s2mel
        self.frames_per_code = frames_per_code
        # The official file nests the DiT as cfm.estimator; the sampler itself is the function solve_cfm.
        self.cfm = nn.ModuleDict({"estimator": DiT.from_config(s2mel.dit, s2mel.wavenet, s2mel.style_encoder.dim)})
        self.length_regulator = InterpolateRegulator.from_config(s2mel.length_regulator)
        inner1, inner2 = gpt_layer_widths
        # Three affine maps with no activation in between: the official projection, kept as trained.
        self.gpt_layer = nn.Sequential(
            nn.Linear(cfg.gpt.model_dim, inner1),
            nn.Linear(inner1, inner2),
            nn.Linear(inner2, s2mel.length_regulator.in_channels),
        )

    @property
    def estimator(self) -> DiT:
        return self.cfm["estimator"]

    def project_gpt_latent(self, latent: Tensor) -> Tensor:
        """latent (B, N, L) → (B, N, K), to be added to the codec embedding of the codes."""
        return self.gpt_layer(latent)

    def target_frames(self, n_codes: int) -> int:
        """Mel frames generated for n codes: floor(float32(n) · float32(1.72)), as torch computes it."""
        product = torch.tensor(n_codes, dtype=torch.float32) * torch.tensor(self.frames_per_code, dtype=torch.float32)
        return int(torch.floor(product))

    def regulate(self, x: Tensor, target_len: int) -> Tensor:
        """x (1, T_in, K) → content condition (1, target_len, C)."""
        return self.length_regulator(x, torch.tensor([target_len], device=x.device))

    def generate_mel(
        self,
        prompt_condition: Tensor,
        cond: Tensor,
        ref_mel: Tensor,
        style: Tensor,
        steps: int = 25,
        cfg_rate: float = 0.7,
        temperature: float = 1.0,
        noise: Tensor | None = None,
        generator: torch.Generator | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Tensor:
        """prompt_condition (1, T_ref, C), cond (1, T_gen, C), ref_mel (1, M, T_ref), style (1, S) → (1, M, T_gen).

        `noise`, if given, is the standard-normal start for all T_ref + T_gen frames.
        """
        if prompt_condition.shape[1] != ref_mel.shape[-1]:
            raise ValueError(
                f"prompt condition has {prompt_condition.shape[1]} frames but the reference mel has "
                f"{ref_mel.shape[-1]}; regulate the prompt's semantic features to the mel length"
            )
        mu = torch.cat([prompt_condition, cond], dim=1)  # (1, T_ref + T_gen, C)
        # The sampler resets the prompt frames after every step, so their velocity need not be computed;
        # the prompt, style and content are projected once for the whole solve.
        estimator = ConditionOnce(self.estimator, output_from=ref_mel.shape[-1], all_frames_valid=True)
        return solve_cfm(estimator, mu, ref_mel, style, steps, cfg_rate, temperature, noise, generator, should_stop)


# --- checkpoint layout -----------------------------------------------------------------------------


def _weight_norm_stems(module: S2Mel) -> list[str]:
    """Our names of the layers the official file stores as weight_g / weight_v."""
    wavenet = [f"{_WAVENET}{name}" for name, m in module.estimator.wavenet.named_modules() if isinstance(m, nn.Conv1d)]
    return ["cfm.estimator.x_embedder", "cfm.estimator.final_layer.linear", *wavenet]


def s2mel_from_official(net: dict[str, Any]) -> dict[str, Tensor]:
    """The `net` entry of s2mel.pth → our flat state dict (groups prefixed, weight norms folded)."""
    if not isinstance(net, dict):
        raise CheckpointError(f"s2mel checkpoint: 'net' must be a mapping of module groups, got {type(net).__name__}")
    missing = [group for group in GROUPS if group not in net]
    if missing:
        raise CheckpointError(f"s2mel checkpoint: 'net' lacks the module group(s) {', '.join(missing)}")
    flat: dict[str, Tensor] = {}
    for group in GROUPS:  # other groups (training leftovers) are ignored, as the official loader does
        if not isinstance(net[group], dict):
            raise CheckpointError(
                f"s2mel checkpoint: 'net.{group}' must be a state dict, got {type(net[group]).__name__}"
            )
        for key, value in net[group].items():
            key = key.removeprefix("module.")  # saved from a DistributedDataParallel wrapper
            flat[f"{group}.{key}"] = value
    state = {}
    for key, value in fold_weight_norms(flat).items():
        if key.startswith(_WAVENET) and _WRAPPER in key:
            key = key.replace(_WRAPPER, ".", 1)
        state[key] = value
    return state


def s2mel_to_official(module: S2Mel) -> dict[str, dict[str, dict[str, Tensor]]]:
    """Our module → {"net": {group: official state dict}}, the layout `torch.save` gives s2mel.pth."""
    state = unfold_weight_norms(module.state_dict(), _weight_norm_stems(module))
    net: dict[str, dict[str, Tensor]] = {group: {} for group in GROUPS}
    for key, value in state.items():
        if key.startswith(_WAVENET):
            stem, leaf = key.rsplit(".", 1)
            key = f"{stem}{_WRAPPER}{leaf}"
        group, rest = key.split(".", 1)
        net[group][rest] = value
    return {"net": net}


def load_s2mel(path: str | Path, cfg: ModelConfig, device: torch.device | str = "cpu") -> S2Mel:
    """Build S2Mel from config.yaml and load s2mel.pth strictly (every key, every shape)."""
    checkpoint = torch_load(path, "s2mel checkpoint")
    if not isinstance(checkpoint, dict) or "net" not in checkpoint:
        raise CheckpointError(f"{path} is not an s2mel checkpoint: it has no 'net' entry")
    state = s2mel_from_official(checkpoint["net"])
    model = build_on_meta(lambda: S2Mel(cfg))
    load_strict(model, state, str(path))
    # The stage runs in float32 whatever the rest of the pipeline uses (as the official code does).
    return model.to(device=device, dtype=torch.float32).eval()
