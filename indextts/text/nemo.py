"""NeMo text normalisation (`nemo-text-processing`), as the IndexTTS-2.5 front end uses it for Spanish.

The official code builds the grammar in every process (minutes on a CPU). Here it is compiled once
into a cache folder, in a child process (pynini holds the GIL while it compiles, which would stall
every other thread of a serving process, as with the WeTextProcessing grammar), and read from
there afterwards. The FST archives are the same either way, so the text comes out the same.
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

NEMO_DISTRIBUTION = "nemo-text-processing"
INPUT_CASE = "cased"  # the official setting: the text keeps its case through normalisation
# Languages the 2.5 front end normalises with NeMo (it reads zh/en with WeTextProcessing, and
# leaves ja and ar as they are).
NEMO_LANGUAGES = ("es",)


def _import_normalizer():  # -> the Normalizer class
    try:
        from nemo_text_processing.text_normalization.normalize import Normalizer
    except ImportError as exc:
        raise TextNormalizerUnavailable(
            f"Spanish text normalisation needs {NEMO_DISTRIBUTION} (Linux; it brings pynini). "
            f"Install it with: pip install {NEMO_DISTRIBUTION}  ({exc})"
        ) from exc
    return Normalizer


def installed_version() -> str | None:
    try:
        return metadata.version(NEMO_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None


def _grammar_files(folder: Path, language: str) -> list[Path]:
    return sorted(folder.glob(f"*{language}_tn_*.far"))


class NemoBackend:
    """One language's NeMo normaliser; loaded on first use, safe to share across threads."""

    def __init__(self, cache_dir: Path, language: str) -> None:
        if language not in NEMO_LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(NEMO_LANGUAGES)}, not {language!r}")
        self.language = language
        version = installed_version() or "missing"
        self.far_dir = Path(cache_dir) / f"nemo-{version}-{language}-tn-{INPUT_CASE}"
        self._lock = threading.Lock()
        self._normalizer = None

    def ready(self) -> bool:
        """True when the compiled grammar is in the cache folder (loading then takes seconds)."""
        return len(_grammar_files(self.far_dir, self.language)) >= 2

    def load(self) -> None:
        """Compile or read the grammar now rather than on the first sentence."""
        with self._lock:
            if self._normalizer is not None:
                return
            normalizer_cls = _import_normalizer()
            self._ensure_grammar()
            self._normalizer = normalizer_cls(input_case=INPUT_CASE, lang=self.language, cache_dir=str(self.far_dir))

    def normalize(self, text: str) -> str:
        """Numbers, dates, currencies … spelled out. Like upstream, a sentence the grammar fails
        on is kept as it is (with a warning) rather than losing the request."""
        self.load()
        with self._lock:  # pynini objects are not documented as thread-safe
            try:
                return self._normalizer.normalize(text, verbose=False)
            except Exception:
                log.warning("NeMo %s text normalisation failed on %r; using it as written", self.language, text)
                return text

    def _ensure_grammar(self) -> None:
        self.far_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.far_dir) + ".lock"):
            if self.ready():  # tagger and verbalizer
                return
            log.warning(
                "Compiling the NeMo %s text-normalisation grammar into %s (one time, minutes)…",
                self.language,
                self.far_dir,
            )
            started = time.perf_counter()
            with tempfile.TemporaryDirectory(dir=self.far_dir) as scratch:
                _compile_in_child_process(Path(scratch), self.language)
                built = _grammar_files(Path(scratch), self.language)
                if len(built) < 2:
                    raise TextNormalizerUnavailable(f"Compiling the NeMo {self.language} grammar wrote no FST archives")
                for far in built:
                    os.replace(far, self.far_dir / far.name)
            log.warning("NeMo %s grammar ready in %.0f s.", self.language, time.perf_counter() - started)


# Imports nothing of this project, so it runs whichever copy of the package is installed.
_COMPILE = """
import sys
from nemo_text_processing.text_normalization.normalize import Normalizer
Normalizer(input_case=sys.argv[3], lang=sys.argv[2], cache_dir=sys.argv[1])
"""


def _compile_in_child_process(scratch: Path, language: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _COMPILE, str(scratch), language, INPUT_CASE], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise TextNormalizerUnavailable(
            f"Compiling the NeMo {language} text-normalisation grammar failed (exit {done.returncode}): "
            f"{done.stderr.strip()[-1500:]}"
        )


@cache
def shared_backend(cache_dir: Path, language: str) -> NemoBackend:
    """One normaliser per cache folder, language and process: the grammars are large and slow to read."""
    return NemoBackend(cache_dir, language)
