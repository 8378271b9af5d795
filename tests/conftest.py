"""Shared fixtures: a demo checkpoint written by the project, and the real text normaliser."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from indextts.config import default_cache_dir, load_config
from indextts.factory import make_checkpoint
from indextts.text import TextFrontEnd, TextNormalizer

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


def _test_cache_dir() -> Path:
    return Path(os.environ.get("INDEXTTS_CACHE_DIR", default_cache_dir()))


# The Spanish NeMo grammar takes minutes to compile on a fresh machine: start it at once, at low
# priority, so it is ready (or nearly) when the IndexTTS-2.5 Spanish tests ask for it; they wait on
# its file lock rather than compiling it a second time.
_WARM_SPANISH = """
import os, sys
from pathlib import Path
os.nice(10)
from indextts.text.nemo import shared_backend
shared_backend(Path(sys.argv[1]), "es").load()
"""
_warmers: list[subprocess.Popen] = []


def pytest_sessionstart(session: pytest.Session) -> None:
    from indextts.text.nemo import installed_version, shared_backend

    if installed_version() is None or shared_backend(_test_cache_dir(), "es").ready():
        return
    command = [sys.executable, "-c", _WARM_SPANISH, str(_test_cache_dir())]
    _warmers.append(subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))


def pytest_sessionfinish(session: pytest.Session) -> None:
    for warmer in _warmers:
        if warmer.poll() is None:
            warmer.terminate()


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    """Compiled normaliser grammars are kept across test runs (compiling takes about a minute)."""
    return _test_cache_dir()


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("tiny-checkpoint"), "tiny")


@pytest.fixture(scope="session")
def normalizer(cache_dir: Path) -> TextNormalizer:
    normalizer = TextNormalizer(cache_dir)
    normalizer.load()
    return normalizer


@pytest.fixture(scope="session")
def frontend(demo_dir: Path, cache_dir: Path, normalizer: TextNormalizer) -> TextFrontEnd:
    return TextFrontEnd.from_checkpoint(demo_dir, load_config(demo_dir), cache_dir)


@pytest.fixture(scope="session")
def engine(demo_dir: Path, cache_dir: Path, normalizer: TextNormalizer):
    """The real pipeline on the tiny random-weight checkpoint, on the CPU."""
    from indextts.pipeline import IndexTTS2

    return IndexTTS2(demo_dir, device="cpu", cache_dir=cache_dir)


@pytest.fixture(scope="session")
def demo25_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight IndexTTS-2.5 checkpoint (official 2.5 layout)."""
    return make_checkpoint(tmp_path_factory.mktemp("tiny-checkpoint-2.5"), "tiny-2.5")


@pytest.fixture(scope="session")
def engine25(demo25_dir: Path, cache_dir: Path):
    """The real pipeline on the tiny IndexTTS-2.5 checkpoint, on the CPU."""
    from indextts.pipeline import IndexTTS

    return IndexTTS(demo25_dir, device="cpu", cache_dir=cache_dir)
