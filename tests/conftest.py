"""Shared fixtures: a demo checkpoint written by the project, and the real text normaliser."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from indextts.config import default_cache_dir, load_config
from indextts.factory import make_checkpoint
from indextts.text import TextFrontEnd, TextNormalizer

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    """Compiled normaliser grammars are kept across test runs (compiling takes about a minute)."""
    return Path(os.environ.get("INDEXTTS_CACHE_DIR", default_cache_dir()))


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
