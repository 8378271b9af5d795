"""When does decoding segments together pay? s2mel (25 CFG steps) and BigVGAN, alone vs batched.

    python bench/decode_batching.py                         # tiny checkpoint, CPU
    python bench/decode_batching.py --size full --device cuda

For each batch size B and length spread r (longest / shortest solver length: prompt + generated
frames), B segments with the prompt of --prompt and random codes and GPT latents of lengths spread
evenly over [L, r·L] are decoded one by one (`IndexTTS2.decode`, what the node did before) and
together (`IndexTTS2.decode_batch`), alternately, --repeat times; the fastest of each is kept (the
machine may be shared). Printed per configuration: seconds per segment for each stage, the speedup
and the padding (computed frames / useful frames), and the least process CPU seconds per segment of
each way (on a shared machine the wall time is mostly waiting for a core; the CPU time is the work).
Timings are informative only: no test asserts them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from indextts.config import default_cache_dir
from indextts.factory import make_checkpoint
from indextts.pipeline import IndexTTS2, StageTimings

REPO = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--size", choices=("tiny", "full"), default="tiny", help="checkpoint size")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--sizes", default="1,2,4,8,16,32", help="batch sizes, at spread 1.0")
    parser.add_argument("--spreads", default="1.25,1.5,2,3", help="length spreads, at --spread-sizes")
    parser.add_argument("--spread-sizes", default="4,16", help="batch sizes the spreads are measured at")
    parser.add_argument("--codes", type=int, default=50, help="codes of the shortest segment (50 ≈ 1 s)")
    parser.add_argument("--repeat", type=int, default=2, help="alternating timed runs of each way")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--prompt", type=Path, default=REPO / "examples" / "voice_01.wav", help="voice prompt")
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir() / "bench", help="checkpoints live here")
    parser.add_argument("--json", type=Path, help="write every figure here")
    return parser.parse_args(argv)


def ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def segments(tts: IndexTTS2, speaker, batch: int, spread: float, codes: int, seed: int) -> list[tuple]:
    """B (speaker, codes, latent, generator) whose solver lengths run evenly from L to spread·L."""
    s2mel, prompt = tts.models.s2mel, speaker.ref_mel.shape[-1]
    shortest = prompt + s2mel.target_frames(codes)
    g = torch.Generator().manual_seed(seed)
    width = s2mel.gpt_layer[0].in_features  # the GPT's width
    codebook = tts.models.cfg.semantic_codec.codebook_size
    items = []
    for i in range(batch):
        target = shortest + (spread - 1) * shortest * (i / (batch - 1) if batch > 1 else 0)
        n = codes
        while prompt + s2mel.target_frames(n + 1) <= target:
            n += 1
        code_ids = torch.randint(0, codebook, (n,), generator=g).to(tts.device)
        latent = torch.randn(1, n, width, generator=g).to(tts.device)
        items.append((speaker, code_ids, latent, torch.Generator(device=tts.device).manual_seed(seed + i)))
    return items


def timed(run) -> tuple[float, StageTimings, float]:
    """Wall seconds, the stage timings and the process CPU seconds of one run."""
    started, cpu = time.perf_counter(), time.process_time()
    timings = run()
    return time.perf_counter() - started, timings, time.process_time() - cpu


def measure(tts: IndexTTS2, items: list[tuple], repeat: int) -> dict[str, float]:
    def alone() -> StageTimings:
        total = StageTimings()
        for item in items:
            total.add(tts.decode(*item)[2])
        return total

    def together() -> StageTimings:
        return tts.decode_batch(items)[0][2]  # shared work: every item reports the batch's times

    best: dict[str, tuple[float, StageTimings, float]] = {}
    least_cpu: dict[str, float] = {}
    for _ in range(repeat):  # alternate, so a burst of load on a shared machine hits both ways
        for name, run in (("alone", alone), ("batched", together)):
            result = timed(run)
            if name not in best or result[0] < best[name][0]:
                best[name] = result
            least_cpu[name] = min(least_cpu.get(name, result[2]), result[2])
    n = len(items)
    frames = [item[0].ref_mel.shape[-1] + tts.models.s2mel.target_frames(item[1].shape[0]) for item in items]
    row = {"batch": n, "spread": max(frames) / min(frames), "padding": n * max(frames) / sum(frames)}
    for name, (wall, timings, _) in best.items():
        row[f"{name}_s2mel_s"] = timings.s2mel / n
        row[f"{name}_vocoder_s"] = timings.vocoder / n
        row[f"{name}_s"] = wall / n
        row[f"{name}_cpu_s"] = least_cpu[name] / n  # the work, whatever the machine's load
    row["speedup"] = row["alone_s"] / row["batched_s"]
    row["cpu_speedup"] = row["alone_cpu_s"] / row["batched_cpu_s"]
    row["s2mel_speedup"] = row["alone_s2mel_s"] / row["batched_s2mel_s"]
    row["vocoder_speedup"] = row["alone_vocoder_s"] / row["batched_vocoder_s"]
    return row


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    folder = make_checkpoint(args.cache_dir / f"checkpoint-{args.size}", args.size)
    tts = IndexTTS2(folder, device=args.device, cache_dir=default_cache_dir())
    speaker = tts.speaker(str(args.prompt))
    configs = [(b, 1.0) for b in ints(args.sizes)]
    configs += [(b, float(r)) for b in ints(args.spread_sizes) for r in args.spreads.split(",") if float(r) != 1.0]
    tts.decode_batch(segments(tts, speaker, 2, 1.0, args.codes, 99))  # warm-up: first-call costs
    rows = []
    print(f"# decode alone vs batched — {args.size}, {tts.device}, {torch.get_num_threads()} threads, "
          f"prompt {speaker.ref_mel.shape[-1]} frames, shortest segment {args.codes} codes")  # fmt: skip
    print("| B | spread | padding | alone s/seg | batched s/seg | speedup | s2mel × | vocoder × "
          "| CPU s/seg alone / batched | CPU × |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for batch, spread in configs:
        row = measure(tts, segments(tts, speaker, batch, spread, args.codes, batch), args.repeat)
        rows.append(row)
        print(
            f"| {batch} | {row['spread']:.2f} | {row['padding']:.2f} | {row['alone_s']:.3f} | {row['batched_s']:.3f} "
            f"| {row['speedup']:.2f} | {row['s2mel_speedup']:.2f} | {row['vocoder_speedup']:.2f} "
            f"| {row['alone_cpu_s']:.3f} / {row['batched_cpu_s']:.3f} | {row['cpu_speedup']:.2f} |",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)}, "rows": rows}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
