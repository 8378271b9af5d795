"""How long after `cancel` is the worker free? The worst-case cancellation delay, measured.

    python bench/cancel_bench.py                                   # tiny checkpoint, this machine
    python bench/cancel_bench.py --size full --device cuda --dtype float16 --codes 1000

A job is cancelled at its next GPT decode step or flow-matching step; what cannot be interrupted is
one such step, the GPT latent pass, the vocoder (BigVGAN, one forward over the whole segment) and
prompt encoding. This script times those pieces on one long segment (--codes codes, the stop code
made impossible), then submits long jobs to a real `Node` and cancels each at a different moment of
its run (--points moments spread over it), alone and beside --neighbours other long jobs in the
same batch, and prints every delay and their maximum: from `cancel` to the first boundary that saw
it (`Job.stop_delay`: no more work is done for the job) and to the job's end (`Job.cancel_delay`:
recorded cancelled, its place free). Figures are informative only: tests assert a generous bound
(tests/test_cancellation.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stages import device_name, stop_code_impossible

from indextts.config import default_cache_dir
from indextts.factory import make_checkpoint
from indextts.pipeline import DIFFUSION_STEPS, IndexTTS2, SegmentAudio
from serving.engine import LoadedEngine
from serving.jobs import Job, JobState
from serving.node import Node, NodeSettings
from serving.request import parse_request

REPO = Path(__file__).resolve().parent.parent
TEXT = "This sentence is never finished."
PROMPT = REPO / "examples" / "voice_01.wav"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=["tiny", "full"], default="tiny")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--codes", type=int, default=1500, help="codes of the long segment (max_mel_tokens)")
    parser.add_argument("--points", type=int, default=6, help="cancel moments per setting")
    parser.add_argument("--neighbours", type=int, default=2, help="other long jobs in the batch (0: alone only)")
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir() / "bench")
    parser.add_argument("--json", type=Path, help="write every measurement here")
    return parser.parse_args(argv)


def request(codes: int, seed: int) -> Any:
    return parse_request({"text": TEXT, "spk_audio": str(PROMPT),
                          "max_mel_tokens": codes, "num_beams": 1, "seed": seed})  # fmt: skip


def stage_costs(tts: IndexTTS2, node: Node, codes: int) -> dict[str, float]:
    """Seconds of each piece a cancellation has to wait for, on one uncancelled long job run by the
    node's worker (the path the cancelled jobs take; the stage timings are the engine's own)."""
    seen: list[SegmentAudio] = []
    real_decode = tts.decode_segments

    def recording(segments):  # bench only: keep each segment's stage timings (either runner)
        outcomes = real_decode(segments)
        seen.extend(o for o in outcomes if isinstance(o, SegmentAudio))
        return outcomes

    tts.models.prompts.speakers.clear()  # the first job encodes its prompt: the cold figure
    tts.models.prompts.emotions.clear()
    tts.decode_segments = recording  # type: ignore[method-assign]
    try:
        job = node.submit(request(codes, 1), "bench")
        node.queue.wait_finished(job)
    finally:
        del tts.decode_segments
    timings = seen[-1].timings
    return {
        "prompt, cold (uninterruptible)": timings.prompt,
        "GPT decode step": timings.gpt_generate / max(seen[-1].codes, 1),
        "GPT latent pass (uninterruptible)": timings.gpt_latent,
        "flow-matching step": timings.s2mel / DIFFUSION_STEPS,
        "vocoder (uninterruptible)": timings.vocoder,
        "whole segment, uncancelled": job.result.processing_time,
    }


def cancel_at(node: Node, after: float, neighbours: int, codes: int) -> dict[str, Any]:
    with node.queue._lock:  # bench only: the worker wakes after all are queued, so they start as one batch
        others = [node.submit(request(codes, 100 + i), "bench") for i in range(neighbours)]
        target = node.submit(request(codes, 7), "bench")
    while target.started_at is None:
        time.sleep(0.005)
    time.sleep(max(0.0, after - (time.time() - target.started_at)))
    node.queue.cancel(target.id, "bench")
    node.queue.wait_finished(target)
    for job in others:
        node.queue.cancel(job.id, "bench")
    for job in others:
        node.queue.wait_finished(job)
    return {
        "after": after,
        "state": target.state.value,
        "uncancelled": target.result.processing_time if target.result is not None else None,
        "delay": target.cancel_delay,
        "stop": target.stop_delay,
        "where": (target.error or "").partition("(")[2].rstrip(")") or target.error,
        "beside": sum(1 for job in others if _overlap(job, target)),
    }


def _overlap(a: Job, b: Job) -> bool:
    return a.started_at is not None and a.started_at < b.finished_at and a.finished_at > b.started_at


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    folder = args.cache_dir / f"checkpoint-{args.size}"
    make_checkpoint(folder, args.size)
    tts = IndexTTS2(folder, device=args.device, dtype=args.dtype, cache_dir=default_cache_dir())
    report: dict[str, Any] = {"device": device_name(tts.device), "size": args.size, "codes": args.codes}
    report["load_average_start"] = os.getloadavg()[0]

    def node_for(max_batch: int) -> Node:
        settings = NodeSettings(
            outputs_dir=args.cache_dir / "cancel-outputs", allowed_dirs=(REPO / "examples",), max_batch=max_batch
        )
        return Node(LoadedEngine(tts, folder, True, "bench", 0.0), settings)

    with stop_code_impossible(tts):
        node = node_for(1)
        try:
            costs = stage_costs(tts, node, args.codes)
        finally:
            node.close()
        report["costs"] = costs
        print(f"# cancellation delay — {args.size} checkpoint on {report['device']}, {args.codes} codes per segment\n")
        print("| piece | seconds |\n|---|---:|")
        for name, seconds in costs.items():
            print(f"| {name} | {seconds:.3f} |")
        whole = costs["whole segment, uncancelled"]
        runs = []
        for neighbours in sorted({0, args.neighbours}):
            node = node_for(neighbours + 1)
            try:
                for point in range(args.points):
                    for _ in range(3):  # a shared machine's speed drifts: a job done before its cancel
                        after = whole * 0.9 * (point + 0.5) / args.points  # sets the time scale anew
                        run = {"neighbours": neighbours, **cancel_at(node, after, neighbours, args.codes)}
                        print(f"  neighbours {neighbours}, cancel at {after:.2f} s: {run}", file=sys.stderr)
                        if run["uncancelled"] is None:
                            break
                        whole = run["uncancelled"]
                    runs.append(run)
            finally:
                node.close()
        report["runs"] = runs
    print("\n| jobs in the batch | cancelled at | where it stopped | no more work after | ended after |")
    print("|---:|---:|---|---:|---:|")
    for run in runs:
        stop, end = (f"{run[key]:.3f} s" if run[key] is not None else run["state"] for key in ("stop", "delay"))
        where = run["where"] or "none: the job completed before the cancel took effect"
        print(f"| {run['neighbours'] + 1} | {run['after']:.2f} s | {where} | {stop} | {end} |")
    for neighbours in sorted({0, args.neighbours}):
        mine = [r for r in runs if r["neighbours"] == neighbours and r["delay"] is not None]
        for key, words in (("stop", "no more work for it"), ("delay", "recorded cancelled, place free")):
            values = [r[key] for r in mine if r[key] is not None]
            if values:
                print(f"\n{neighbours + 1} job(s) in the batch, cancel → {words}: worst {max(values):.3f} s, "
                      f"median {statistics.median(values):.3f} s over {len(values)} cancellations")  # fmt: skip
    start, end = report["load_average_start"], os.getloadavg()[0]
    print(f"\nload average (1 min): {start:.2f} at the start, {end:.2f} at the end")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    # A job that completed before its cancel took effect is a measurement, not a failure.
    return 0 if all(r["state"] != JobState.FAILED.value for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
