"""When segments of one round share a flow-matching solve and a vocoder pass (`IndexTTS2.decode_batch`).

A batch of decodes runs every step once for all of them, padded to the longest: it saves the
per-call cost of B − 1 solves (25 steps × the CFG pair of small kernels, which leave a GPU idle at
batch 1), and it costs the padded frames, computed and thrown away. The rule keeps that waste
bounded: segments are sorted by solver length and grouped while the longest of a group is at most
`max_length_ratio` times its shortest, up to `max_size` segments.

`auto` picks the rule measured for the device (README.md, "Batched decode"; bench/decode_batching.py):
on the CPU, small groups of one length — process CPU time per segment, tiny checkpoint, one thread:
2 or 4 same-length segments 1.14–1.17× less than alone (their batch stays in cache, and a batch of one
length needs no mask and no padding fills), 8 or 16 ≈ 1.0×, and any padding loses (spread 1.1: 0.90×);
on CUDA, large groups (reasoned: a segment's kernels alone leave the GPU idle; not yet measured).
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


# The CPU gains only while a group stays in cache and has no padded frames (spread 1.1: 0.90×).
CPU_RULE = DecodeBatching(max_size=4, max_length_ratio=1.0)
# A GPU gains from every segment added until its matrix products fill it; padding costs little there.
CUDA_RULE = DecodeBatching(max_size=32, max_length_ratio=2.0)


def decode_batching_for(mode: str, device: torch.device) -> DecodeBatching | None:
    """The rule for `--batch_decode` on this device; None: each segment is decoded alone.

    auto: the rule measured for the device (`CPU_RULE`, `CUDA_RULE`); on: the CUDA rule on any device
    (to measure it); off: never.
    """
    if mode not in MODES:
        raise ValueError(f"batch_decode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "off":
        return None
    if mode == "auto" and device.type != "cuda":
        return CPU_RULE
    return CUDA_RULE
