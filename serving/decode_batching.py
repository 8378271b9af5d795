"""When segments of one round share a flow-matching solve and a vocoder pass (`IndexTTS2.decode_batch`).

A batch of decodes runs every step once for all of them, padded to the longest: it saves the
per-call cost of B − 1 solves (25 steps × the CFG pair of small kernels, which leave a GPU idle at
batch 1), and it costs the padded frames, computed and thrown away. The rule keeps that waste
bounded: segments are sorted by solver length and grouped while the longest of a group is at most
`max_length_ratio` times its shortest, up to `max_size` segments. On the CPU the batched decode
measured slower per segment (no per-call cost to save; the larger batch falls out of the cache), so
`auto` batches on CUDA only. Figures: README.md, "Batched decode"; bench/decode_batching.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

MODES = ("auto", "on", "off")


@dataclass(frozen=True)
class DecodeBatching:
    max_size: int = 32  # segments decoded together; 1 = each alone
    max_length_ratio: float = 2.0  # longest / shortest solver length within a group

    def __post_init__(self) -> None:
        if self.max_size < 1:
            raise ValueError(f"max_size must be at least 1, got {self.max_size}")
        if self.max_length_ratio < 1:
            raise ValueError(f"max_length_ratio must be at least 1, got {self.max_length_ratio}")

    def groups(self, frames: list[int]) -> list[list[int]]:
        """Solver frames of each segment (prompt + generated) → groups of positions, each sorted by length."""
        groups: list[list[int]] = []
        for position in sorted(range(len(frames)), key=frames.__getitem__):
            group = groups[-1] if groups else None
            if group and len(group) < self.max_size and frames[position] <= self.max_length_ratio * frames[group[0]]:
                group.append(position)
            else:
                groups.append([position])
        return groups


def decode_batching_for(mode: str, device: torch.device) -> DecodeBatching | None:
    """The rule for `--batch_decode` on this device; None: each segment is decoded alone.

    auto: on for CUDA only. On the CPU the batched decode measured slower per segment (bench/README.md,
    "Batched decode"): the stage is bound by arithmetic and memory there, not by per-call overhead.
    """
    if mode not in MODES:
        raise ValueError(f"batch_decode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "off" or (mode == "auto" and device.type != "cuda"):
        return None
    return DecodeBatching()
