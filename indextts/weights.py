"""Strict state-dict loading shared by every model stage.

Each stage builds its modules on the meta device (no memory, no random init), maps the official
key names onto its own with one named function, and then calls `load_strict`: a missing key, an
unexpected key or a shape mismatch is a `CheckpointError` that lists them all, never a silently
half-loaded model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from indextts.errors import CheckpointError

M = TypeVar("M", bound=nn.Module)
StateDict = Mapping[str, torch.Tensor]

_MAX_LISTED = 12


def _listing(title: str, items: Iterable[str]) -> list[str]:
    items = sorted(items)
    if not items:
        return []
    shown = ", ".join(items[:_MAX_LISTED])
    more = f" … and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else ""
    return [f"{title} ({len(items)}): {shown}{more}"]


def check_state_dict(module: nn.Module, state: StateDict, source: str) -> None:
    """Raise CheckpointError unless `state` has exactly the module's keys with the same shapes."""
    expected = {name: tuple(t.shape) for name, t in module.state_dict(keep_vars=True).items()}
    missing = expected.keys() - state.keys()
    unexpected = state.keys() - expected.keys()
    wrong_shape = [
        f"{name} {tuple(state[name].shape)} (expected {expected[name]})"
        for name in sorted(expected.keys() & state.keys())
        if tuple(state[name].shape) != expected[name]
    ]
    problems = [
        *_listing("missing keys", missing),
        *_listing("unexpected keys", unexpected),
        *_listing("wrong shapes", wrong_shape),
    ]
    if problems:
        raise CheckpointError(
            f"{source} does not match the model built from config.yaml:\n  "
            + "\n  ".join(problems)
            + "\nCheck that config.yaml belongs to these weights, or download the checkpoint again."
        )


def load_strict(module: M, state: StateDict, source: str) -> M:
    """Check `state` against `module`, then load it (assigning tensors, so meta modules materialise)."""
    check_state_dict(module, state, source)
    module.load_state_dict(dict(state), strict=True, assign=True)
    return module


def build_on_meta(factory: Callable[[], M]) -> M:
    """Construct a module without allocating or initialising its parameters."""
    with torch.device("meta"):
        return factory()


def torch_load(path: str | Path, what: str) -> Any:
    """torch.load on CPU with a clear error for a missing or corrupt file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{what} not found: {path}. See checkpoints/README.md for the download commands.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # torch raises many types for a truncated or foreign file
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception:
            raise CheckpointError(f"{what} at {path} cannot be read ({exc}); download it again.") from exc


def fold_weight_norm(weight_g: torch.Tensor, weight_v: torch.Tensor) -> torch.Tensor:
    """The plain weight of an old-style `weight_norm(dim=0)` layer: g · v / ‖v‖ per output channel.

    Uses the same kernel as torch's weight-norm hook, so the result is bit-identical to what the
    official code computes on every forward.
    """
    return torch._weight_norm(weight_v, weight_g, 0)


def unfold_weight_norm(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight_g, weight_v) for a plain weight, as `torch.nn.utils.weight_norm` would store it.

    The norm comes from the same kernel `fold_weight_norm` uses, so folding gives back `weight` exactly.
    """
    ones = torch.ones(weight.shape[0], *([1] * (weight.dim() - 1)), dtype=weight.dtype, device=weight.device)
    _, norm = torch._weight_norm_interface(weight, ones, 0)
    return norm.reshape(ones.shape).clone(), weight.clone()


def fold_weight_norms(state: StateDict) -> dict[str, torch.Tensor]:
    """Replace every `X.weight_g` / `X.weight_v` pair of a state dict by the folded `X.weight`."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.endswith(".weight_g"):
            stem = key[: -len(".weight_g")]
            if f"{stem}.weight_v" not in state:
                raise CheckpointError(f"{key} has no matching {stem}.weight_v")
            out[f"{stem}.weight"] = fold_weight_norm(value, state[f"{stem}.weight_v"])
        elif key.endswith(".weight_v"):
            if key[: -len(".weight_v")] + ".weight_g" not in state:
                raise CheckpointError(f"{key} has no matching weight_g")
        else:
            out[key] = value
    return out


def unfold_weight_norms(state: StateDict, stems: Iterable[str]) -> dict[str, torch.Tensor]:
    """The inverse of fold_weight_norms for the named layers (used to write official-layout files)."""
    out = dict(state)
    for stem in stems:
        g, v = unfold_weight_norm(out.pop(f"{stem}.weight"))
        out[f"{stem}.weight_g"], out[f"{stem}.weight_v"] = g, v
    return out


def init_random_(module: nn.Module, generator: torch.Generator, std: float = 0.02) -> nn.Module:
    """Give every parameter reproducible random values (GPT-2 style: N(0, std), norms at 1, biases 0).

    Buffers are left as the module computed them. Used by the checkpoint factory.
    """
    for name, param in module.named_parameters():
        with torch.no_grad():
            leaf = name.rsplit(".", 1)[-1]
            if param.dim() == 1 and (leaf == "bias" or leaf == "beta"):
                param.zero_()
            elif param.dim() == 1 and leaf in ("weight", "gamma", "alpha"):
                param.fill_(1.0)
            else:
                param.copy_(torch.randn(param.shape, generator=generator) * std)
    return module
