"""WeTextProcessing, set up as the official IndexTTS2 uses it on Linux.

The Chinese grammar is compiled with interjections and erhua kept, which the FSTs shipped in the
wheel do not do, so it is compiled once (about a minute) into a cache folder and read from
there afterwards. The English grammar ships prebuilt in the wheel and is used as is.

The compile runs in a child process: pynini holds the GIL for the whole build (measured: one
42 s stretch in which no other thread of the process ran), which would stall every other thread
of a serving process — a Socket.IO client misses its pings and the site drops the connection.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from functools import cache
from importlib import metadata
from pathlib import Path

from filelock import FileLock

from indextts.errors import TextNormalizerUnavailable

log = logging.getLogger(__name__)

WETEXT_DISTRIBUTION = "WeTextProcessing"
WETEXT_VERSION = "1.0.4.1"
_ZH_FST_FILES = ("zh_tn_tagger.fst", "zh_tn_verbalizer.fst")


def _import_wetext():  # -> tuple of the two Normalizer classes
    try:
        from tn.chinese.normalizer import Normalizer as ChineseNormalizer
        from tn.english.normalizer import Normalizer as EnglishNormalizer
    except ImportError as exc:
        raise TextNormalizerUnavailable(
            f"The text normaliser needs {WETEXT_DISTRIBUTION}=={WETEXT_VERSION} (Linux; it brings pynini). "
            f"Install it with: pip install {WETEXT_DISTRIBUTION}=={WETEXT_VERSION}  ({exc})"
        ) from exc
    # Its loggers attach a new stderr handler per instance; we log the build ourselves.
    for name in ("wetext-zh_normalizer", "wetext-en_normalizer"):
        logging.getLogger(name).disabled = True
    return ChineseNormalizer, EnglishNormalizer


def installed_version() -> str | None:
    try:
        return metadata.version(WETEXT_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None


class WeTextBackend:
    """Chinese and English text normalisation; loaded on first use, safe to share across threads."""

    def __init__(self, cache_dir: Path) -> None:
        version = installed_version() or "missing"
        self.fst_dir = Path(cache_dir) / f"wetext-{version}-zh-tn-keep-interjections-erhua"
        self._lock = threading.Lock()
        self._zh = None
        self._en = None

    def load(self) -> None:
        """Compile or read the grammars now rather than on the first sentence."""
        with self._lock:
            if self._zh is not None:
                return
            chinese_cls, english_cls = _import_wetext()
            self._ensure_chinese_fsts()
            self._zh = chinese_cls(
                cache_dir=str(self.fst_dir),
                overwrite_cache=False,
                remove_interjections=False,
                remove_erhua=False,
            )
            self._en = english_cls(overwrite_cache=False)

    def chinese(self, text: str) -> str:
        self.load()
        with self._lock:  # pynini objects are not documented as thread-safe
            return self._zh.normalize(text)

    def english(self, text: str) -> str:
        self.load()
        with self._lock:
            return self._en.normalize(text)

    def _ensure_chinese_fsts(self) -> None:
        self.fst_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.fst_dir) + ".lock"):
            if all((self.fst_dir / name).is_file() for name in _ZH_FST_FILES):
                return
            log.warning(
                "Compiling the Chinese text-normalisation grammar into %s (one time, about a minute)…",
                self.fst_dir,
            )
            started = time.perf_counter()
            # Compile into a scratch folder and move the files in, so an interrupted build
            # never leaves a half-written FST that later runs would trust.
            with tempfile.TemporaryDirectory(dir=self.fst_dir) as scratch:
                _compile_in_child_process(Path(scratch))
                for name in _ZH_FST_FILES:
                    os.replace(Path(scratch) / name, self.fst_dir / name)
            log.warning("Text-normalisation grammar ready in %.0f s.", time.perf_counter() - started)


_COMPILE = """
import sys
from indextts.text.wetext import _import_wetext
chinese_cls, _ = _import_wetext()
chinese_cls(cache_dir=sys.argv[1], overwrite_cache=True, remove_interjections=False, remove_erhua=False)
"""


def _compile_in_child_process(scratch: Path) -> None:
    """Build the Chinese FSTs into `scratch` in another Python process (see the module docstring)."""
    done = subprocess.run([sys.executable, "-c", _COMPILE, str(scratch)], capture_output=True, text=True)
    if done.returncode != 0:
        raise TextNormalizerUnavailable(
            f"Compiling the Chinese text-normalisation grammar failed (exit {done.returncode}): "
            f"{done.stderr.strip()[-1500:]}"
        )


@cache
def shared_backend(cache_dir: Path) -> WeTextBackend:
    """One backend per cache folder and process: the grammars are large, immutable, and slow to read."""
    return WeTextBackend(cache_dir)
