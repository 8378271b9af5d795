"""Where a node's time goes under load: GPT vs s2mel vs vocoder vs the rest, per segment, on the CPU.

    python bench/node_profile.py --requests 16                # tiny checkpoint, batch_decode off
    python bench/node_profile.py --requests 16 --batch-decode on --ops 20

N requests (--codes forced codes each, as bench/node_bench.py sends them) are submitted at once to the
real serving core (`Node`). The engine's stage methods are wrapped with timers on the worker thread, so
the report splits the level's wall time into: request planning (prompt conditioning, text), the batched
GPT decode, the GPT latent pass, s2mel (flow matching), BigVGAN, and the rest (queue, streaming, WAV
writing, Python between them). Process CPU time is printed next to wall time: on a shared machine the
wall time of one process is mostly waiting, its CPU time is the work. With --ops N, torch.profiler
also prints the N operators that took most CPU time over the whole level. With --decode-workers > 0
the decode stage runs on its own threads beside the GPT stage: the stage rows then overlap (their wall
times add up to more than the level's), and a row's CPU time is the whole process's during its calls.
Timings are informative only.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from node_bench import load_level
from stages import DEFAULT_TEXT, stop_code_impossible

from indextts.config import default_cache_dir
from indextts.factory import make_checkpoint
from indextts.pipeline import IndexTTS2
from serving.engine import LoadedEngine, single_threaded_torch
from serving.node import Node, NodeSettings

REPO = Path(__file__).resolve().parent.parent
# engine method → the stage its time is counted in
STAGES = {
    "plan": "plan (prompt, text)",
    "generate_batch": "GPT decode + latent",
    "decode": "s2mel + BigVGAN",
    "decode_batch": "s2mel + BigVGAN",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--size", choices=("tiny", "full"), default="tiny", help="checkpoint size")
    parser.add_argument("--requests", type=int, default=16, help="requests submitted at once")
    parser.add_argument("--codes", type=int, default=50, help="codes per request, forced (50 ≈ 1 s of audio)")
    parser.add_argument("--num-beams", type=int, default=3, help="beam width")
    parser.add_argument("--batch-decode", default="off", help="the node's --batch_decode")
    parser.add_argument(
        "--decode-workers", default="0", help="the node's --decode_workers (pipelined: stage times overlap)"
    )
    parser.add_argument("--threads", type=int, help="the worker's torch CPU threads (default: torch's choice)")
    parser.add_argument("--ops", type=int, default=0, help="also print the top N operators (torch.profiler)")
    parser.add_argument("--prompt", type=Path, default=REPO / "examples" / "voice_01.wav", help="voice prompt")
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir() / "bench", help="checkpoints live here")
    return parser.parse_args(argv)


class StageClock:
    """Wall and process CPU seconds spent inside wrapped methods, per stage (one worker thread)."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)

    def wrap(self, owner: object, name: str, stage: str) -> None:
        method: Callable = getattr(owner, name)

        def timed(*args, **kwargs):
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return method(*args, **kwargs)
            finally:
                self.wall[stage] += time.perf_counter() - wall
                self.cpu[stage] += time.process_time() - cpu

        setattr(owner, name, timed)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    folder = make_checkpoint(args.cache_dir / f"checkpoint-{args.size}", args.size)
    with single_threaded_torch() as cpu_threads:  # as a node loads it: see serving/engine.py
        tts = IndexTTS2(folder, device="cpu", cache_dir=default_cache_dir())
    request = {"text": DEFAULT_TEXT, "spk_audio": str(args.prompt.resolve()), "max_mel_tokens": args.codes,
               "num_beams": args.num_beams}  # fmt: skip
    clock = StageClock()
    with tempfile.TemporaryDirectory() as work, stop_code_impossible(tts):
        settings = NodeSettings(outputs_dir=Path(work), allowed_dirs=(args.prompt.resolve().parent,),
                                max_pending=max(32, args.requests), max_batch=args.requests,
                                batch_decode=args.batch_decode, decode_workers=args.decode_workers)  # fmt: skip
        node = Node(LoadedEngine(tts, folder, True, "bench", 0.0, args.threads or cpu_threads), settings)
        try:
            load_level(node, 2, request)  # warm-up: prompt cache, first-call costs
            for name, stage in STAGES.items():
                clock.wrap(tts, name, stage)
            started_wall, started_cpu = time.perf_counter(), time.process_time()
            if args.ops:
                with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
                    level = load_level(node, args.requests, request)
            else:
                level = load_level(node, args.requests, request)
            wall, cpu = time.perf_counter() - started_wall, time.process_time() - started_cpu
        finally:
            node.close()
    n = args.requests
    print(f"# node profile — {args.size}, {n} requests at once, batch_decode {args.batch_decode}, "
          f"decode_workers {args.decode_workers}, "
          f"{level['audio_s']:.2f} s of audio")  # fmt: skip
    print(f"level: wall {wall:.3f} s, process CPU {cpu:.3f} s, {level['audio_per_s']:.3f} s of audio per s")
    print("| stage | wall s | share | CPU s | share | CPU s per request |")
    print("|---|---:|---:|---:|---:|---:|")
    rest_wall, rest_cpu = wall - sum(clock.wall.values()), cpu - sum(clock.cpu.values())
    for stage, (w, c) in [*((s, (clock.wall[s], clock.cpu[s])) for s in dict.fromkeys(STAGES.values())),
                          ("rest (queue, streaming, WAV, Python)", (rest_wall, rest_cpu))]:  # fmt: skip
        print(f"| {stage} | {w:.3f} | {100 * w / wall:.0f} % | {c:.3f} | {100 * c / cpu:.0f} % | {c / n:.4f} |")
    if args.ops:
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.ops))
    return 0


if __name__ == "__main__":
    sys.exit(main())
