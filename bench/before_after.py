"""The node as it was at an older commit against the node now: aggregate throughput, pairs in one run.

    python bench/before_after.py --before 842d993 --pairs 3 --concurrency 16 --threads 2

"Before" is not a mode of today's code but the older commit itself, checked out with `git worktree`
into a temporary folder (with its own checkpoint cache, as the factory format may differ, unless
--shared-cache names one) and run with this venv. Each pair runs `bench/node_bench.py` there, then
here, as separate processes, so a burst of load on a shared machine hits both sides of a pair
alike. Every run is one load level of the real serving core (`node_bench.py --reference off
--repeat 1`); `--after-args` passes options only the newer bench knows. Prints one row per pair
and the ratios; `--json` keeps every run's report.
Timings are informative only; say the load average with them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--before", required=True, help="the older commit (any git revision)")
    parser.add_argument("--pairs", type=int, default=3, help="before/after pairs, alternating")
    parser.add_argument("--concurrency", type=int, default=16, help="requests at once")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (node_bench --threads)")
    parser.add_argument("--size", default="tiny", help="checkpoint size")
    parser.add_argument("--after-args", default="", help="extra node_bench options for this tree only")
    parser.add_argument(
        "--shared-cache",
        type=Path,
        help="one checkpoint cache for both sides (when the factory format is the same: full size takes ~7 GB)",
    )
    parser.add_argument("--json", type=Path, help="write every run's report here")
    return parser.parse_args(argv)


def say(message: str) -> None:
    print(f"[before_after] {message}", file=sys.stderr, flush=True)


def run_bench(tree: Path, cache: Path, args: argparse.Namespace, extra: list[str], out: Path) -> dict[str, Any]:
    tag = "run"
    command = [sys.executable, str(tree / "bench" / "node_bench.py"), "--size", args.size]
    command += ["--concurrency", str(args.concurrency), "--threads", str(args.threads), "--repeat", "1"]
    command += ["--reference", "off", "--cache-dir", str(cache), "--out", str(out), "--tag", tag, *extra]
    subprocess.run(command, cwd=tree, check=True, stdout=subprocess.DEVNULL)
    report = json.loads((out / f"{tag}.json").read_text(encoding="utf-8"))
    (level,) = [level for level in report["levels"] if level["requests"] == args.concurrency]
    return level | {"load_average": [report["machine"]["load_average_start"], report["machine"]["load_average_end"]]}


def p95(level: dict[str, Any]) -> str:
    """Latency p95 (older benches reported only p50 and max)."""
    return f"{level['latency_p95_s']:.2f} s" if "latency_p95_s" in level else "–"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", args.before], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.strip()
    now = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True).stdout
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="before-after-") as tmp:
        old = Path(tmp) / "before"
        subprocess.run(["git", "worktree", "add", "--detach", str(old), commit], cwd=REPO, check=True)
        try:
            for pair in range(args.pairs):
                for side, tree, extra in (("before", old, []), ("after", REPO, args.after_args.split())):
                    cache = args.shared_cache or Path(tmp) / f"cache-{side}"
                    out = Path(tmp) / f"out-{side}-{pair}"
                    say(f"pair {pair + 1}/{args.pairs}: {side} ({commit if side == 'before' else 'this tree'})")
                    runs.append({"pair": pair, "side": side} | run_bench(tree, cache, args, extra, out))
                    say(f"  → {runs[-1]['audio_per_s']:.3f} s of audio per s")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=REPO, check=False)
    print(
        f"\n{args.concurrency} requests at once, {args.size}, {args.threads} torch threads; "
        f"before = {commit}, after = this tree ({now.strip()}{', ' + args.after_args if args.after_args else ''}); "
        f"{os.cpu_count()} CPUs\n"
    )
    print("| pair | before, audio s per s | after | after / before | latency p95 before → after | load avg |")
    print("|---:|---:|---:|---:|---:|---|")
    ratios = []
    for pair in range(args.pairs):
        before, after = (next(r for r in runs if (r["pair"], r["side"]) == (pair, s)) for s in ("before", "after"))
        ratios.append(after["audio_per_s"] / before["audio_per_s"])
        loads = "–".join(f"{x:.1f}" for x in (before["load_average"][0], after["load_average"][1]))
        print(
            f"| {pair + 1} | {before['audio_per_s']:.3f} | {after['audio_per_s']:.3f} | {ratios[-1]:.2f}× "
            f"| {p95(before)} → {p95(after)} | {loads} |"
        )
    befores = [r["audio_per_s"] for r in runs if r["side"] == "before"]
    afters = [r["audio_per_s"] for r in runs if r["side"] == "after"]
    print(
        f"\nmean before {statistics.mean(befores):.3f}, after {statistics.mean(afters):.3f}: "
        f"{statistics.mean(afters) / statistics.mean(befores):.2f}× (pairs {min(ratios):.2f}–{max(ratios):.2f}×)"
    )
    if args.json:
        args.json.write_text(json.dumps({"before": commit, "runs": runs}, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
