"""IndexTTS-2 beside IndexTTS-2.5: two bench/node_bench.py JSON reports as one Markdown table.

    python bench/generations.py bench/results/cpu-2core-i22-tiny.json bench/results/cpu-2core-i22-tiny-2.5.json

The same --codes is not the same work: a 2.0 code is 20 ms of audio (50 Hz), a 2.5 code 40 ms (25 Hz).
So every timing is given twice: as measured (per request of --codes codes) and per second of audio
produced. Medians over the stage benchmark's timed runs. Needs only the standard library.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from compare_reference import summary

CONTENT_STAGE = {"2": "GPT latent pass", "2.5": "codec decode"}


def load(path: Path) -> dict[str, Any]:
    report = json.loads(path.read_text(encoding="utf-8"))
    report.setdefault("generation", "2.5" if report["size"].endswith("-2.5") else "2")
    return report


def stage_rows(reports: list[dict[str, Any]]) -> list[str]:
    medians = [summary(r["ours"], statistics.median) for r in reports]
    rows = [
        ("text front end", "text"),
        ("prompt processing, cached", "prompt_cached"),
        ("GPT generation", "gpt_generate"),
        (" / ".join(CONTENT_STAGE[r["generation"]] for r in reports), "gpt_latent"),
        ("s2mel (25 steps, CFG)", "s2mel"),
        ("vocoder (BigVGAN)", "vocoder"),
        ("total, cached prompt", "total_cached"),
    ]
    audio = " | ".join(f"{m['audio_s']:.2f} s | —" for m in medians)
    lines = [f"| audio per request ({reports[0]['codes']} codes) | {audio} |"]
    for label, key in rows:
        cells = " | ".join(f"{m[key]:.3f} s | {m[key] / m['audio_s']:.3f} s" for m in medians)
        lines.append(f"| {label} | {cells} |")
    codes = " | ".join(
        f"{r['codes'] / m['gpt_generate']:.0f} | {m['audio_s'] / m['gpt_generate']:.2f} s"
        for r, m in zip(reports, medians, strict=True)
    )
    lines.append(f"| GPT codes/s (per-audio column: s of audio coded per s) | {codes} |")
    return lines


def load_rows(reports: list[dict[str, Any]]) -> list[str]:
    lines = []
    by_level = [{level["requests"]: level for level in r["levels"]} for r in reports]
    for n in sorted(set.intersection(*(set(levels) for levels in by_level))):
        levels = [levels[n] for levels in by_level]
        for label, key in (("latency p50", "latency_p50_s"), ("TTFA p50", "first_audio_p50_s")):
            cells = " | ".join(f"{level[key]:.3f} s | {level[key] / (level['audio_s'] / n):.3f} s" for level in levels)
            lines.append(f"| {n} at once: {label} | {cells} |")
        cells = " | ".join(f"{level['audio_per_s']:.3f} | (is per s of audio)" for level in levels)
        lines.append(f"| {n} at once: aggregate audio s per s | {cells} |")
    return lines


def markdown(reports: list[dict[str, Any]]) -> str:
    header = " | ".join(f"{r['size']} (IndexTTS-{r['generation']}) | per s of audio" for r in reports)
    lines = [
        f"| | {header} |",
        "|---|" + "---:|" * (2 * len(reports)),
        *stage_rows(reports),
        *load_rows(reports),
    ]
    loads = "; ".join(
        f"{r['size']}: {r['machine']['load_average_start']:.2f} → {r['machine']['load_average_end']:.2f}"
        for r in reports
    )
    lines += ["", f"Load average (1 min) at the start and end of each run: {loads}."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", type=Path, help="node_bench.py JSON reports (e.g. 2.0 then 2.5)")
    args = parser.parse_args(argv)
    reports = [load(path) for path in args.reports]
    if len({r["codes"] for r in reports}) != 1:
        parser.error("the reports must use the same --codes")
    print(markdown(reports))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
