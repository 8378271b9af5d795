"""Shared fixtures: a demo checkpoint written by the project, and the real text normaliser.

The session's layout (`--layout 2|2.5`, env INDEXTTS_TEST_LAYOUT, default 2) picks the model generation
of every checkpoint fixture and of every node process a test starts (`demo_args`). Tests that touch no
model (no `layout` among their fixtures) run in the 2.0 pass only; `@pytest.mark.generation("2")` marks a
test whose subject exists in one generation only (skipped on the other layout, with the reason).
"""

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


LAYOUTS = {"2": "tiny", "2.5": "tiny-2.5"}  # the session's layout -> the factory size it writes


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--layout",
        choices=tuple(LAYOUTS),
        default=os.environ.get("INDEXTTS_TEST_LAYOUT", "2"),
        help="model generation of every test checkpoint and demo node: 2 (everything) or 2.5 (the tests that "
        "touch a model; the others ran in the 2.0 pass). Env INDEXTTS_TEST_LAYOUT.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "generation(name): the test's subject exists in IndexTTS-<name> only; skipped on the other layout"
    )


def pytest_report_header(config: pytest.Config) -> str:
    layout = config.getoption("--layout")
    scope = "every test" if layout == "2" else "the tests that touch a model"
    return f"layout: IndexTTS-{layout} (`make-checkpoint {LAYOUTS[layout]}`), {scope}"


def _touches_a_model(item: pytest.Item) -> bool:
    return "layout" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    layout = config.getoption("--layout")
    kept, deselected = [], []
    for item in items:
        marker = item.get_closest_marker("generation")
        only = marker.args[0] if marker else None
        if layout != "2" and only is None and not _touches_a_model(item):
            deselected.append(item)  # no checkpoint: identical on every layout, ran in the 2.0 pass
            continue
        if only is not None and only != layout:
            reason = marker.kwargs.get("reason", "its subject exists in this generation only")
            item.add_marker(pytest.mark.skip(reason=f"IndexTTS-{only} only: {reason}"))
        kept.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


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
def layout(request: pytest.FixtureRequest) -> str:
    """The session's model generation, "2" or "2.5": every fixture that makes or loads a model uses it."""
    return request.config.getoption("--layout")


@pytest.fixture(scope="session")
def demo_checkpoint(tmp_path_factory: pytest.TempPathFactory):
    """demo_checkpoint(generation) -> a tiny random-weight folder of that generation, written once a session."""
    folders: dict[str, Path] = {}

    def write(generation: str) -> Path:
        if generation not in folders:
            size = LAYOUTS[generation]
            folders[generation] = make_checkpoint(tmp_path_factory.mktemp(f"{size}-checkpoint"), size)
        return folders[generation]

    return write


@pytest.fixture(scope="session")
def demo_dir(demo_checkpoint, layout: str) -> Path:
    """The tiny checkpoint of the session's layout."""
    return demo_checkpoint(layout)


@pytest.fixture(scope="session")
def demo_args(layout: str) -> list[str]:
    """`webui.py` / node flags for the random-weight demo of the session's layout."""
    return ["--demo", layout]


@pytest.fixture(scope="session")
def normalizer(cache_dir: Path) -> TextNormalizer:
    normalizer = TextNormalizer(cache_dir)
    normalizer.load()
    return normalizer


@pytest.fixture(scope="session")
def frontend(demo_checkpoint, cache_dir: Path, normalizer: TextNormalizer) -> TextFrontEnd:
    """IndexTTS-2's text front end (its subject is 2.0's; tests/test_frontend_v25.py covers 2.5's)."""
    folder = demo_checkpoint("2")
    return TextFrontEnd.from_checkpoint(folder, load_config(folder), cache_dir)


@pytest.fixture(scope="session")
def engine(demo_dir: Path, cache_dir: Path, normalizer: TextNormalizer):
    """The real pipeline on the tiny random-weight checkpoint of the session's layout, on the CPU."""
    from indextts.pipeline import IndexTTS

    return IndexTTS(demo_dir, device="cpu", cache_dir=cache_dir)
