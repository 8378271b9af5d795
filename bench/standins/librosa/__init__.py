"""A stand-in for the librosa calls the node (and the official code) make, for the GPU report's machine only.

librosa needs numba and llvmlite (64 MB of wheels), which do not fit the 64 MiB a device machine
can carry. `bench/gpu_report.sh` puts this folder on the path only when the real librosa is
missing. `resample` makes librosa's own soxr call and length fix; `load` (what the official
implementation reads its prompts with) reads the file with soundfile, averages the channels and
resamples as librosa.load does by default (soxr_hq); `filters.mel` serves the Slaney
filter banks that the real librosa computed in `bench/prepare_gpu_report.sh` (which also checks,
against the real librosa, that both give identical numbers). Nothing in the node imports this.
"""

from __future__ import annotations

import math

import numpy as np
import soundfile
import soxr

from . import filters

__all__ = ["filters", "load", "resample", "to_mono"]


def to_mono(y: np.ndarray) -> np.ndarray:
    """(channels, N) → (N,): the mean over channels, as librosa."""
    return np.mean(y, axis=tuple(range(y.ndim - 1))) if y.ndim > 1 else y


def resample(y: np.ndarray, *, orig_sr: float, target_sr: float, res_type: str = "soxr_hq") -> np.ndarray:
    """1-D `librosa.resample` with a soxr `res_type` and `fix=True`: soxr, then cut or zero-pad to ceil(N·ratio)."""
    if not res_type.startswith("soxr") or y.ndim != 1:
        raise NotImplementedError("the stand-in resamples 1-D signals with soxr only")
    if orig_sr == target_sr:
        return y
    n = math.ceil(y.shape[-1] * float(target_sr) / orig_sr)
    out = soxr.resample(y, orig_sr, target_sr, quality=res_type)
    out = out[:n] if out.shape[-1] >= n else np.pad(out, (0, n - out.shape[-1]))
    return np.asarray(out, dtype=y.dtype)


def load(
    path: str, *, sr: float | None = 22050, mono: bool = True, res_type: str = "soxr_hq"
) -> tuple[np.ndarray, float]:
    """`librosa.load` without offset/duration: float32 samples at `sr` (None: the file's rate), and the rate."""
    data, native = soundfile.read(path, dtype="float32", always_2d=True)  # (N, channels)
    y = data.T if data.shape[1] > 1 else data[:, 0]
    if mono:
        y = to_mono(y)
    if sr is None or sr == native:
        return y, native
    return resample(y, orig_sr=native, target_sr=sr, res_type=res_type), sr
