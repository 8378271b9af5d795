"""Side-by-side medians of bench/stages.py (ours) and bench/reference_stages.py (official) JSON reports.

    python bench/compare_reference.py /tmp/ours_full.json /tmp/reference_full.json

Prints a Markdown table: per stage the median over the warm runs of each and the ratio official / ours
(above 1: ours is faster), then the same for the fastest run of each (less disturbed by a
busy machine). GPT codes/s is codes / median time. Needs only the standard library.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

STAGES = ("gpt_generate", "gpt_latent", "s2mel", "vocoder")
ROWS = (
    ("text front end", "text"),
    ("prompt processing, cold (from the file)", "prompt_cold"),
    ("prompt processing, cached", "prompt_cached"),
    ("GPT generation", "gpt_generate"),
    ("GPT latent pass", "gpt_latent"),
    ("s2mel (25 steps, CFG)", "s2mel"),
    ("vocoder (BigVGAN)", "vocoder"),
    ("total, cached prompt", "total_cached"),
    ("total, cold prompt", "total_cold"),
)


def summary(report: dict[str, Any], pick: Callable[[list[float]], float]) -> dict[str, float]:
    runs = []
    for run in report["runs"]:
        run = dict(run)
        run["total_cached"] = run["text"] + run["prompt_cached"] + sum(run[s] for s in STAGES)
        run["total_cold"] = run["total_cached"] - run["prompt_cached"] + run["prompt_cold"]
        runs.append(run)
    return {key: pick([run[key] for run in runs]) for key in runs[0]}


def compare(ours: dict[str, Any], official: dict[str, Any]) -> str:
    a, b = summary(ours, statistics.median), summary(official, statistics.median)
    a_min, b_min = summary(ours, min), summary(official, min)
    K = ours["codes"]
    lines = [
        "| stage | ours, median | official, median | official / ours | ours, min | official, min | ratio of mins |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| model load (once) | {ours['load_s']:.2f} s | {official['load_s']:.2f} s | "
        f"{official['load_s'] / ours['load_s']:.2f} | | | |",
    ]
    for label, key in ROWS:
        lines.append(
            f"| {label} | {a[key]:.3f} s | {b[key]:.3f} s | {b[key] / a[key]:.2f} | "
            f"{a_min[key]:.3f} s | {b_min[key]:.3f} s | {b_min[key] / a_min[key]:.2f} |"
        )
    rate_a, rate_b = K / a["gpt_generate"], official["codes"] / b["gpt_generate"]
    lines.append(f"| GPT codes/s | {rate_a:.2f} | {rate_b:.2f} | {rate_b / rate_a:.2f} | | | |")
    rtf_a, rtf_b = a["total_cached"] / a["audio_s"], b["total_cached"] / b["audio_s"]
    lines.append(f"| RTF, cached prompt | {rtf_a:.2f} | {rtf_b:.2f} | {rtf_b / rtf_a:.2f} | | | |")
    peak_a, peak_b = ours["peak_rss_bytes"] / 2**30, official["peak_rss_bytes"] / 2**30
    lines.append(f"| peak RSS | {peak_a:.2f} GiB | {peak_b:.2f} GiB | {peak_b / peak_a:.2f} | | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ours", type=Path, help="JSON written by bench/stages.py --json")
    parser.add_argument("official", type=Path, help="JSON written by bench/reference_stages.py --json")
    args = parser.parse_args(argv)
    ours, official = (json.loads(path.read_text(encoding="utf-8")) for path in (args.ours, args.official))
    if ours["codes"] != official["codes"] or ours["num_beams"] != official["num_beams"]:
        print(
            f"note: different settings: codes {ours['codes']}/{official['codes']}, "
            f"beams {ours['num_beams']}/{official['num_beams']}"
        )
    print(compare(ours, official))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
