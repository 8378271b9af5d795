"""The official implementation's rows of the GPU report: the same utterance, weights and settings, in a child process.

bench/gpu_report.py calls `run_official` once per dtype (float16 as served, float32). The child
runs bench/reference_stages.py (the official `IndexTTS2.infer`, timed per stage, the stop code
made impossible so both sides generate exactly --codes codes) with the official package from the
private folder that bench/gpu_report.sh installed from .whl/official/ (INDEXTTS_OFFICIAL_SITE).
It cannot share our process: its import name is `indextts`, like ours, so the child's path holds
neither our repository root nor anything else with an `indextts/` folder.

Text: neither side has its grammar-based normaliser there (pynini does not fit the 64 MiB the
device machine can carry). Ours runs its normaliser with `IdentityGrammar` in place of
WeTextProcessing, the official one runs with bench/standins/official/ in place of NeMo's
grammars; everything else of both normalisers (punctuation, protected names, pinyin, tech terms)
runs as written. The report's text needs no grammar (no digits, symbols or abbreviations), and
`compare` checks that both tokenizers give exactly the same token ids: a difference is reported
at the top of the section, not hidden.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from report_markdown import summary

REPO = Path(__file__).resolve().parent.parent
OFFICIAL_SITE_ENV = "INDEXTTS_OFFICIAL_SITE"
OFFICIAL_DTYPES = ("float16", "float32")  # the package's use_fp16 on or off


class IdentityGrammar:
    """Our TextNormalizer's grammar backend as the identity (the report's private path only)."""

    def load(self) -> None:
        pass

    def chinese(self, text: str) -> str:
        return text

    def english(self, text: str) -> str:
        return text


def child_environment(site: str) -> dict[str, str]:
    """The parent's environment, its PYTHONPATH without any folder that holds our `indextts/`."""
    kept = [
        p
        for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
        if p and not (Path(p) / "indextts" / "__init__.py").is_file()
    ]
    paths = [site, str(REPO / "bench" / "standins" / "official"), *kept]
    return os.environ | {"PYTHONPATH": os.pathsep.join(paths), "INDEXTTS_REFERENCE_SITE": site}


def run_official(args: Any, folder: Path, dtype: str, text: str, work: Path, timeout_s: float) -> dict[str, Any]:
    """The official stages of one --codes utterance at `dtype`, and its greedy codes; {"error": …} if it failed."""
    site = os.environ.get(OFFICIAL_SITE_ENV)
    if not site:
        return {"dtype": dtype, "error": "not installed: run bench/prepare_gpu_report.sh (it fills .whl/official/)"}
    if dtype not in OFFICIAL_DTYPES:
        return {"dtype": dtype, "error": "the official code runs float16 (use_fp16) or float32 only"}
    out = work / f"official-{dtype}.json"
    command = [
        sys.executable,
        str(REPO / "bench" / "reference_stages.py"),
        "--model-dir", str(folder),
        "--codes", str(args.codes),
        "--warmup-codes", str(min(args.codes, args.official_warmup_codes)),
        "--repeat", str(args.official_repeat),
        "--device", args.device,
        "--prompt", str(args.prompt.resolve()),
        "--text", text,
        "--greedy-codes", str(args.fidelity_codes),
        "--json", str(out),
    ]  # fmt: skip
    if dtype == "float16":
        command.append("--fp16")
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command, cwd=work, env=child_environment(site), capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        return {"dtype": dtype, "error": f"cut at {timeout_s:.0f} s (the report's budget)"}
    if done.returncode != 0 or not out.is_file():
        return {"dtype": dtype, "error": f"exit status {done.returncode}: {done.stderr[-3000:]}"}
    data = json.loads(out.read_text(encoding="utf-8"))
    return data | {"dtype": dtype, "wall_s": time.perf_counter() - started}


def agreement(a: list[int], b: list[int]) -> tuple[float, int | None]:
    """Share of positions equal, and the first that differs (None: none)."""
    same = sum(x == y for x, y in zip(a, b, strict=False))
    first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
    if first is None and len(a) != len(b):
        first = min(len(a), len(b))
    return same / max(len(a), 1), first


def compare(
    ours: dict[str, Any], our_ids: list[int], our_greedy: list[int], official: dict[str, Any]
) -> dict[str, Any]:
    """Ours (a gpu_report `stages` entry) against the official run at the same dtype: equal inputs, codes, speed."""
    a = summary(ours["runs"])
    b = summary([run | {"codes": official["codes"]} for run in official["runs"]])
    share, first = agreement(our_greedy, official["greedy_codes"] or [])
    return {
        "same_text_ids": our_ids == official["text_ids"],
        "text_ids_ours": len(our_ids),
        "text_ids_official": len(official["text_ids"]),
        "greedy_codes": len(our_greedy),
        "greedy_agreement": share,
        "greedy_first_difference": first,
        "speedup_total_cached": b["total_cached"] / a["total_cached"],
        "speedup_gpt": b["gpt_generate"] / a["gpt_generate"],
        "ours": a,
        "official": b,
    }
