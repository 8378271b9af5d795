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
