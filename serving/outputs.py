"""Where finished audio is written: `outputs/`, pruned oldest-first so the disk cannot fill."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

log = logging.getLogger(__name__)

PREFIX = "tts_"  # only files this store wrote are ever pruned


class OutputStore:
    """Writes `tts_<time>_<job>.wav` files and keeps at most `max_files` / `max_bytes` of them."""

    def __init__(self, folder: Path, max_files: int = 500, max_bytes: int = 2 * 1024**3) -> None:
        self.folder = Path(folder)
        self.max_files, self.max_bytes = max_files, max_bytes
        self._lock = threading.Lock()

    def write(self, job_id: str, audio: np.ndarray, sample_rate: int) -> Path:
        """Save (n,) int16 samples as 16-bit WAV, then prune; → the file's path."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{PREFIX}{time.strftime('%Y%m%d-%H%M%S')}_{job_id}.wav"
        with self._lock:
            sf.write(path, audio, sample_rate, subtype="PCM_16")
            self._prune(keep=path)
        return path

    def files(self) -> list[Path]:
        """This store's files, oldest first."""
        found = [p for p in self.folder.glob(f"{PREFIX}*.wav") if p.is_file()]
        return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))

    def _prune(self, keep: Path) -> None:
        files = self.files()
        count, total = len(files), sum(p.stat().st_size for p in files)
        for path in files:
            if count <= self.max_files and total <= self.max_bytes:
                break
            if path == keep:
                continue
            size = path.stat().st_size
            path.unlink(missing_ok=True)
            count, total = count - 1, total - size
            log.info("pruned %s (retention: %d files, %d MB)", path.name, self.max_files, self.max_bytes >> 20)
