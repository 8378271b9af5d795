"""`librosa.filters.mel` from the table the real librosa wrote (`INDEXTTS_LIBROSA_TABLES`, an .npz)."""

from __future__ import annotations

import os

import numpy as np


def table_key(sr: float, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> str:
    return f"mel_sr{sr:g}_fft{n_fft}_mels{n_mels}_fmin{fmin:g}_fmax{'none' if fmax is None else f'{fmax:g}'}"


def mel(*, sr: float, n_fft: int, n_mels: int = 128, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    path = os.environ.get("INDEXTTS_LIBROSA_TABLES", "")
    key = table_key(sr, n_fft, n_mels, fmin, fmax)
    if not path or not os.path.isfile(path):
        raise RuntimeError("INDEXTTS_LIBROSA_TABLES must name the .npz that bench/prepare_gpu_report.sh writes")
    with np.load(path) as tables:
        if key not in tables:
            raise KeyError(f"{key} is not in {path}: rerun bench/prepare_gpu_report.sh for this configuration")
        return tables[key]
