"""A stand-in for the three librosa calls the node makes, for the GPU report's machine only.

librosa needs numba and llvmlite (64 MB of wheels), which do not fit the 64 MiB a device machine
can carry. `bench/gpu_report.sh` puts this folder on the path only when the real librosa is
missing. `resample` makes librosa's own soxr call and length fix; `filters.mel` serves the Slaney
filter banks that the real librosa computed in `bench/prepare_gpu_report.sh` (which also checks,
against the real librosa, that both give identical numbers). Nothing in the node imports this.
"""

from __future__ import annotations

import math

import numpy as np
import soxr

from . import filters

__all__ = ["filters", "resample", "to_mono"]


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
