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

import os
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


# --- pipelined stages (`--decode_workers`, serving/pipelined.py) -------------------------------------


@dataclass(frozen=True)
class Pipelining:
    """How the GPT stage (the queue's worker thread) and the decode stage (a pool) overlap.

    workers: decode threads (each runs torch on one CPU thread on the CPU). max_round: jobs in one
    GPT round (None: every job with a segment to generate). lookahead: segments a job's codes may
    run ahead of its audio. runner_threads: torch CPU threads of the GPT stage (0: left as it is).
    """

    workers: int
    max_round: int | None = None
    lookahead: int = 2
    runner_threads: int = 1

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"decode workers must be at least 1, got {self.workers}")
        if self.max_round is not None and self.max_round < 1:
            raise ValueError(f"max_round must be at least 1, got {self.max_round}")
        if self.lookahead < 1:
            raise ValueError(f"lookahead must be at least 1, got {self.lookahead}")


def cpu_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# On the CPU a GPT round's cost grows with its jobs (per-request sampling), so small rounds cost no
# more in all and let the pool start decoding after the first few jobs' codes instead of all 16:
# 16 at once, tiny, quiet 2 cores, audio s per s in pairs of one run — whole burst 3.36 / 3.45,
# rounds of 8 4.06 / 3.75, rounds of 4 4.05 / 4.34 (bench/results/cpu-2core-tiny-float32-i20-rounds.md).
CPU_MAX_ROUND = 4


def pipelining_for(workers: str | int, device: torch.device) -> Pipelining | None:
    """The setting for `--decode_workers` on this device; None: both stages on the runner thread.

    auto: one decode thread per CPU core on the CPU (the GPT round is serial sampling work that
    leaves the other cores idle), one on CUDA (the GPU is the one worker; a second thread only queues).
    """
    text = str(workers).strip().lower()
    if text == "auto":
        count = cpu_cores() if device.type != "cuda" else 1
    else:
        try:
            count = int(text)
        except ValueError:
            raise ValueError(f"decode_workers must be auto or a number of threads, got {workers!r}") from None
        if count < 0:
            raise ValueError(f"decode_workers must be auto, 0 (off) or more, got {workers!r}")
    if not count:
        return None
    return Pipelining(count, max_round=CPU_MAX_ROUND if device.type != "cuda" else None)
