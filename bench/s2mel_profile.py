"""Time and profile the s2mel stage alone (25 flow-matching steps with CFG) on a checkpoint's s2mel.pth.

    python bench/s2mel_profile.py --model-dir /tmp/our_full --threads 2 --save /tmp/s2mel_base.pt
    python bench/s2mel_profile.py --model-dir /tmp/our_full --threads 2 --compare /tmp/s2mel_base.pt --profile

Only s2mel.pth and config.yaml are loaded, so a run takes seconds to start and little memory. The inputs
have the shapes of one `bench/stages.py` segment (a 5.3 s prompt is 457 mel frames; 40 codes are 68
frames) and are drawn from --seed: the regulator runs on random semantic features for the prompt and
the generated part, the reference mel, style and start noise are random too. The work does not depend
on the values, only on the shapes, so the timing is that of a real segment of this size.

--save writes the inputs and the mel; --compare reruns on the saved inputs and prints how far the mel
moved (max |diff| and max |diff| / max |mel|), so a code change can be checked for numerical drift.
--profile prints torch.profiler's top operators and the time spent in each DiT part, for one call.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import Tensor, nn

from indextts.config import load_config
from indextts.pipeline import CFG_RATE, DIFFUSION_STEPS
from indextts.s2mel import S2Mel, load_s2mel

# Parts of the estimator whose time the profile reports separately (names inside the DiT).
PROFILED_PARTS = ("t_embedder", "t_embedder2", "cond_projection", "cond_x_merge_linear", "transformer", "skip_linear",
                  "conv1", "wavenet", "res_projection", "final_layer", "conv2")  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, default=Path("/tmp/our_full"), help="checkpoint folder")
    parser.add_argument("--prompt-frames", type=int, default=457, help="reference mel frames (5.3 s prompt: 457)")
    parser.add_argument("--codes", type=int, default=40, help="semantic codes of the generated part")
    parser.add_argument("--repeat", type=int, default=3, help="timed calls, after one untimed warm-up call")
    parser.add_argument("--threads", type=int, help="torch CPU threads (None: torch's choice)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    parser.add_argument("--profile", action="store_true", help="also print a torch.profiler table of one call")
    parser.add_argument("--rows", type=int, default=25, help="operators shown by --profile")
    parser.add_argument("--save", type=Path, help="write the inputs and the resulting mel to this file")
    parser.add_argument("--compare", type=Path, help="run on the inputs saved in this file and compare the mels")
    args = parser.parse_args(argv)
    if args.save and args.compare:
        parser.error("--save and --compare exclude each other: compare against a file saved by an earlier run")
    if args.repeat < 1 or args.codes < 1 or args.prompt_frames < 1:
        parser.error("--repeat, --codes and --prompt-frames must be at least 1")
    return args


def make_inputs(model: S2Mel, prompt_frames: int, codes: int, seed: int, device: torch.device) -> dict[str, Tensor]:
    """Random inputs of a real segment's shapes, the content conditions passed through the real regulator."""
    g = torch.Generator().manual_seed(seed)
    width = model.length_regulator.content_in_proj.in_features
    generated = model.target_frames(codes)
    n_mels = model.estimator.in_channels
    dit = model.estimator
    style_dim = dit.cond_x_merge_linear.in_features - 2 * n_mels - dit.cond_projection.out_features
    prompt_codes = max(1, prompt_frames // 2)  # 50 codes/s against 86 frames/s
    with torch.inference_mode():
        prompt_condition = model.regulate(torch.randn(1, prompt_codes, width, generator=g).to(device), prompt_frames)
        cond = model.regulate(torch.randn(1, codes, width, generator=g).to(device), generated)
    return {
        "prompt_condition": prompt_condition,  # (1, T_ref, C)
        "cond": cond,  # (1, T_gen, C)
        "ref_mel": (torch.randn(1, n_mels, prompt_frames, generator=g) * 2 - 5).to(device),  # log-mel-like
        "style": torch.randn(1, style_dim, generator=g).to(device),
        "noise": torch.randn(1, n_mels, prompt_frames + generated, generator=g).to(device),
    }


def run_once(model: S2Mel, inputs: dict[str, Tensor]) -> Tensor:
    return model.generate_mel(
        inputs["prompt_condition"],
        inputs["cond"],
        inputs["ref_mel"],
        inputs["style"],
        DIFFUSION_STEPS,
        CFG_RATE,
        noise=inputs["noise"],
    )


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextmanager
def labelled_parts(estimator: nn.Module) -> Iterator[None]:
    """Wrap each profiled DiT part's forward in a profiler range named after it."""
    handles, open_ranges = [], {}

    def enter(name: str):
        def hook(module: nn.Module, args: tuple) -> None:
            open_ranges[name] = torch.autograd.profiler.record_function(f"## {name}")
            open_ranges[name].__enter__()

        return hook

    def leave(name: str):
        def hook(module: nn.Module, args: tuple, output: Tensor) -> None:
            open_ranges.pop(name).__exit__(None, None, None)

        return hook

    for name in PROFILED_PARTS:
        part = getattr(estimator, name)
        handles += [part.register_forward_pre_hook(enter(name)), part.register_forward_hook(leave(name))]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def profile_once(model: S2Mel, inputs: dict[str, Tensor], rows: int) -> None:
    activities = [torch.profiler.ProfilerActivity.CPU]
    with labelled_parts(model.estimator), torch.profiler.profile(activities=activities) as prof:
        run_once(model, inputs)
    averages = prof.key_averages()
    total = sum(event.self_cpu_time_total for event in averages)
    print(f"\nprofile of one call: {total / 1e6:.2f} s of operator time (self CPU)")
    print(averages.table(sort_by="self_cpu_time_total", row_limit=rows))
    print("time in each DiT part (inclusive CPU time, all 25 steps):")
    parts = sorted((e for e in averages if e.key.startswith("## ")), key=lambda e: -e.cpu_time_total)
    for event in parts:
        print(f"  {event.key[3:]:<22} {event.cpu_time_total / 1e6:7.3f} s  {100 * event.cpu_time_total / total:5.1f} %")


def compare(mel: Tensor, reference: Tensor) -> None:
    diff = (mel - reference).abs().max().item()
    scale = reference.abs().max().item()
    identical = torch.equal(mel, reference)
    print(f"against the saved mel: bit-identical {identical}, max |diff| {diff:.3e}, relative {diff / scale:.3e}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    model = load_s2mel(args.model_dir / "s2mel.pth", load_config(args.model_dir), device)
    saved = torch.load(args.compare, map_location=device) if args.compare else None
    if saved is not None:
        inputs = saved["inputs"]
    else:
        inputs = make_inputs(model, args.prompt_frames, args.codes, args.seed, device)
    frames = inputs["noise"].shape[-1]
    prompt_frames, generated = inputs["ref_mel"].shape[-1], inputs["cond"].shape[1]
    print(f"s2mel on {args.model_dir}: {prompt_frames} prompt + {generated} generated frames, {DIFFUSION_STEPS} "
          f"steps, CFG {CFG_RATE}, {device}, {torch.get_num_threads()} thread(s)")  # fmt: skip

    mel = run_once(model, inputs)  # warm-up: first-touch of the weights, allocator, kernels
    times = []
    for _ in range(args.repeat):
        synchronize(device)
        started = time.perf_counter()
        mel = run_once(model, inputs)
        synchronize(device)
        times.append(time.perf_counter() - started)
    print(f"per call: median {statistics.median(times):.3f} s, min {min(times):.3f} s, max {max(times):.3f} s "
          f"({frames} frames)")  # fmt: skip

    if args.save:
        torch.save({"inputs": inputs, "mel": mel.cpu()}, args.save)
        print(f"inputs and mel saved to {args.save}")
    if saved is not None:
        compare(mel.cpu(), saved["mel"])
    if args.profile:
        profile_once(model, inputs, args.rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
