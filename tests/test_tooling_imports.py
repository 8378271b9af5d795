"""Every script under bench/ and parity/ still imports: tooling that is not run in CI must not rot.

Each script is imported the way `python bench/x.py` runs it, with its own folder first on
`sys.path` (they import their siblings by bare name). The parity scripts that run inside the
official implementation's venv only import the official package inside functions, so their
module level imports here too.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = sorted([*REPO.glob("bench/*.py"), *REPO.glob("parity/*.py")])


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(REPO)))
def test_script_imports(script: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(script.parent))
    name = f"_tooling_{script.parent.name}_{script.stem}"
    spec = importlib.util.spec_from_file_location(name, script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)  # raises ImportError / AttributeError for a stale import


def test_there_are_scripts_to_check() -> None:
    assert {p.parent.name for p in SCRIPTS} == {"bench", "parity"}
