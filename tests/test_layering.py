"""The model library stands alone: importing it pulls in no serving framework."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.conftest import REPO

SERVING_FRAMEWORKS = ("gradio", "fastapi", "starlette", "uvicorn", "socketio", "engineio", "celery", "redis")
PROJECT_SERVING_PACKAGES = ("serving", "ws_client", "webui", "ui")


def test_importing_every_indextts_module_loads_no_serving_framework():
    script = f"""
import importlib, pkgutil, sys
import indextts
for module in pkgutil.walk_packages(indextts.__path__, "indextts."):
    if module.name != "indextts.__main__":
        importlib.import_module(module.name)
loaded = sorted({{name.split(".")[0] for name in sys.modules}} & set({SERVING_FRAMEWORKS + PROJECT_SERVING_PACKAGES!r}))
print(",".join(loaded))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True)
    assert result.stdout.strip() == ""


def test_no_indextts_source_imports_the_serving_side():
    offenders = []
    for path in (REPO / "indextts").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in SERVING_FRAMEWORKS + PROJECT_SERVING_PACKAGES:
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno} imports {name}")
    assert offenders == []


def test_an_indextts_2_engine_needs_none_of_the_2_5_text_packages():
    """The GPU report's bare machine (and any 2.0 node) carries no tiktoken, NeMo or MeCab: writing
    and loading a 2.0 checkpoint must not import them."""
    script = """
import sys, tempfile
for name in ("tiktoken", "fugashi", "unidic_lite", "nemo_text_processing"):
    sys.modules[name] = None  # importing it now raises ImportError
from indextts.factory import make_checkpoint
from indextts.pipeline import IndexTTS
folder = make_checkpoint(tempfile.mkdtemp() + "/tiny", "tiny")
print(IndexTTS(folder, device="cpu").generation)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "2"
