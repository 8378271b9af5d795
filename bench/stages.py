"""Stage timings of IndexTTS2 on a random-weight checkpoint: where does the time of one segment go?

    python bench/stages.py                        # tiny checkpoint, CPU or whatever `auto` finds
    python bench/stages.py --size full --device cuda --dtype float16 --json full-fp16.json

Writes the checkpoint (`python -m indextts make-checkpoint SIZE`) into the cache folder if it is not
there, loads it once, then times each stage of one segment over --repeat warm runs: text front end,
prompt processing (cold, i.e. encoded from the file, and cached), GPT generation, the GPT latent
pass, s2mel and the vocoder. With an IndexTTS-2.5 size (`tiny-2.5`, `full-2.5`) there is no GPT latent
pass: that row times the semantic codec's decode of the codes, which replaces it; a 2.5 code is 40 ms
of audio against 20 ms for 2.0, so the same --codes gives twice the audio (compare RTF, not seconds).

Every run generates exactly --codes codes, so runs and machines compare: the stop code is made
impossible by a forward hook on the GPT's mel head that sets its logit to −inf, and
GenerationSettings(max_mel_tokens=--codes) ends generation there. Each run checks it got --codes codes.

The stages are called one by one (as `IndexTTS2.generate` / `decode` call them) so that each is
timed on its own with the device synchronised at its edges; the warm-up run checks that this gives
exactly the codes and samples the facade gives. Timings are informative only: no test asserts them.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import resource
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from indextts.config import default_cache_dir
from indextts.emotion.control import EmotionRequest
from indextts.errors import IndexTTSError
from indextts.factory import SIZES, make_checkpoint
from indextts.gpt.generation import GeneratedCodes, GenerationSettings
from indextts.pipeline import DIFFUSION_STEPS, IndexTTS2
from indextts.prompts import SpeakerPrompt
from indextts.text.frontend import TextSegment

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TEXT = "大家好，欢迎体验 IndexTTS Node，this is a quick benchmark."
STAGES = ("gpt_generate", "gpt_latent", "s2mel", "vocoder")
# What the stage between code generation and s2mel measures, per model generation: IndexTTS-2 runs the
# GPT a second time, teacher-forced, for its latent; IndexTTS-2.5 has no such pass, its 25 Hz semantic
# codec decodes the codes into 2N content frames instead (timed in the same `gpt_latent` slot).
CONTENT_STAGE = {"2": "GPT latent pass", "2.5": "codec decode (codes → content frames)"}
SECONDS_PER_CODE = {"2": 0.02, "2.5": 0.04}  # 50 Hz codes (2.0), 25 Hz codes (2.5)


def generation_of(size: str) -> str:
    """The model generation a factory size builds: "2.5" for the *-2.5 sizes, "2" otherwise."""
    return "2.5" if size.endswith("-2.5") else "2"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--size", choices=SIZES, default="tiny", help="checkpoint size (full: ~7 GB); *-2.5: IndexTTS-2.5"
    )
    parser.add_argument("--codes", type=int, default=100, help="semantic codes generated per run (forced)")
    parser.add_argument("--repeat", type=int, default=3, help="timed warm runs (after one warm-up run)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default="float32", help="GPT dtype")
    parser.add_argument(
        "--num-beams", type=int, default=3, help="beam width of the generation (3 is the official default)"
    )
    parser.add_argument(
        "--threads", type=int, help="torch CPU threads (None: torch's choice; 1 is steadiest on a busy machine)"
    )
    parser.add_argument("--prompt", type=Path, default=REPO / "examples" / "voice_01.wav", help="voice prompt")
    parser.add_argument("--text", default=DEFAULT_TEXT, help="text of the segment (one segment)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampling")
    parser.add_argument(
        "--cache-dir", type=Path, default=default_cache_dir() / "bench", help="where the checkpoints are kept"
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write every measurement to this JSON file")
    args = parser.parse_args(argv)
    if args.codes < 1 or args.repeat < 1 or args.num_beams < 1:
        parser.error("--codes, --repeat and --num-beams must be at least 1")
    return args


# --- measuring ----------------------------------------------------------------------------------


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so a wall-clock reading covers what the stage launched."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


@contextmanager
def timed(times: dict[str, float], name: str, device: torch.device) -> Iterator[None]:
    synchronize(device)
    started = time.perf_counter()
    yield
    synchronize(device)
    times[name] = time.perf_counter() - started


@contextmanager
def stop_code_impossible(tts: IndexTTS2) -> Iterator[None]:
    """Generation can never pick the stop code: its logit is −inf. The latent pass never uses the head."""
    stop = tts.models.gpt.cfg.stop_mel_token

    def mask(_module: torch.nn.Module, _inputs: tuple, logits: torch.Tensor) -> torch.Tensor:
        logits = logits.clone()
        logits[..., stop] = float("-inf")
        return logits

    handle = tts.models.gpt.mel_head.register_forward_hook(mask)
    try:
        yield
    finally:
        handle.remove()


def peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # macOS reports bytes, Linux KiB


# --- one run of the stages ----------------------------------------------------------------------


def run_stages(
    tts: IndexTTS2,
    speaker: SpeakerPrompt,
    emovec: torch.Tensor,
    segment: TextSegment,
    settings: GenerationSettings,
    seed: int,
) -> tuple[dict[str, float], GeneratedCodes, torch.Tensor]:
    """GPT generation, latent pass, s2mel and vocoder of one segment through the facade, whose stage
    timings wait for the device at each edge → (times, codes, samples)."""
    generator = torch.Generator(device=tts.device).manual_seed(seed)
    result, latent, timings = tts.generate(speaker, emovec, segment, settings, generator)
    _, samples, decode_timings = tts.decode(speaker, result.codes, latent, generator)
    timings.add(decode_timings)
    times = {name: getattr(timings, name) for name in ("gpt_generate", "gpt_latent", "s2mel", "vocoder")}
    return times, result, samples


# --- the benchmark ------------------------------------------------------------------------------


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if args.threads:
        torch.set_num_threads(args.threads)
    folder = args.cache_dir / f"checkpoint-{args.size}"
    started = time.perf_counter()
    say(f"checkpoint: {folder} (written if missing)")
    make_checkpoint(folder, args.size)
    checkpoint_s = time.perf_counter() - started
    started = time.perf_counter()
    tts = IndexTTS2(folder, device=args.device, dtype=args.dtype, cache_dir=default_cache_dir())
    load_s = time.perf_counter() - started
    device, prompt = tts.device, str(args.prompt)

    first: dict[str, float] = {}
    with timed(first, "text_first", device):
        segments = tts.split_segments(args.text, 120)
    if len(segments) != 1:
        raise SystemExit(f"--text must fit one segment of at most 120 tokens, it gives {len(segments)}")
    segment = segments[0]
    speaker = tts.speaker(prompt)
    emovec = tts.emotion_vector(prompt, args.text, EmotionRequest())
    settings = GenerationSettings(max_mel_tokens=args.codes, num_beams=args.num_beams)

    say("unforced generation (does the random checkpoint stop on its own?)")
    unforced = tts.generate(speaker, emovec, segment, settings, torch.Generator(device).manual_seed(args.seed))[0]
    runs: list[dict[str, float]] = []
    with stop_code_impossible(tts):
        say("warm-up run")
        run_stages(tts, speaker, emovec, segment, settings, args.seed)
        for index in range(args.repeat):
            say(f"run {index + 1}/{args.repeat}")
            times: dict[str, float] = {}
            with timed(times, "text", device):
                tts.split_segments(args.text, 120)
            tts.models.prompts.speakers.clear()
            tts.models.prompts.emotions.clear()
            for name in ("prompt_cold", "prompt_cached"):  # first from the file, then from the cache
                with timed(times, name, device):
                    speaker = tts.speaker(prompt)
                    emovec = tts.emotion_vector(prompt, args.text, EmotionRequest())
            stage_times, result, samples = run_stages(tts, speaker, emovec, segment, settings, args.seed + index)
            if result.stopped or result.codes.shape[0] != args.codes:
                raise SystemExit(f"run {index + 1} gave {result.codes.shape[0]} codes, not {args.codes}")
            times |= stage_times
            times["audio_s"] = samples.shape[0] / tts.sample_rate
            runs.append(times)
    return {
        "size": args.size,
        "generation": tts.generation,
        "codes": args.codes,
        "num_beams": args.num_beams,
        "repeat": args.repeat,
        "text_tokens": len(segment.ids),
        "prompt": prompt,
        "prompt_s": speaker.duration_s,
        "device": str(device),
        "device_name": device_name(device),
        "dtype": str(tts.dtype).removeprefix("torch."),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "checkpoint_s": checkpoint_s,
        "load_s": load_s,
        "text_first_s": first["text_first"],
        "unforced_codes": int(unforced.codes.shape[0]),
        "unforced_stopped": unforced.stopped,
        "peak_rss_bytes": peak_rss_bytes(),
        "peak_gpu_bytes": torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None,
        "runs": runs,
    }


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "cpu" and Path("/proc/cpuinfo").is_file():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or device.type


def table(report: dict[str, Any]) -> str:
    runs = report["runs"]

    def column(name: str) -> list[float]:
        return [run[name] for run in runs]

    def row(label: str, values: list[float], unit: str = " s", digits: int = 3) -> str:
        cells = [statistics.median(values), min(values), max(values)]
        return f"| {label} | " + " | ".join(f"{v:.{digits}f}{unit}" for v in cells) + " |"

    K = report["codes"]
    generation = report.get("generation", "2")
    total_cached = [run["text"] + run["prompt_cached"] + sum(run[s] for s in STAGES) for run in runs]
    total_cold = [t - run["prompt_cached"] + run["prompt_cold"] for t, run in zip(total_cached, runs, strict=True)]
    audio = column("audio_s")
    once = lambda label, seconds: f"| {label} | {seconds:.3f} s | | |"  # noqa: E731
    unforced = (
        f"stopped by itself after {report['unforced_codes']} codes"
        if report["unforced_stopped"]
        else f"ran to the limit ({report['unforced_codes']} codes) without a stop code"
    )
    gpu = f", peak GPU memory {report['peak_gpu_bytes'] / 2**30:.2f} GiB" if report["peak_gpu_bytes"] else ""
    lines = [
        f"{report['size']} random-weight checkpoint (IndexTTS-{generation}) · {K} forced codes per run "
        f"(≈ {K * SECONDS_PER_CODE[generation]:.1f} s of audio) ({report['num_beams']} beams) · "
        f"{report['text_tokens']} text tokens · {report['prompt_s']:.1f} s prompt · {report['repeat']} warm runs",
        f"device {report['device']} ({report['device_name']}) · {report['dtype']} · torch {report['torch']} · "
        f"{report['torch_threads']} torch thread(s) · peak RSS {report['peak_rss_bytes'] / 2**30:.2f} GiB{gpu}",
        f"unforced generation of the same segment: {unforced}",
        "",
        "| stage | median | min | max |",
        "|---|---:|---:|---:|",
        once("checkpoint write/check (once)", report["checkpoint_s"]),
        once("model load (once)", report["load_s"]),
        once("text front end, first call (loads the normaliser)", report["text_first_s"]),
        row("text front end", column("text")),
        row("prompt processing, cold (from the file)", column("prompt_cold")),
        row("prompt processing, cached", column("prompt_cached")),
        row(f"GPT generation ({K} codes)", column("gpt_generate")),
        row(CONTENT_STAGE[generation], column("gpt_latent")),
        row(f"s2mel ({DIFFUSION_STEPS} steps, CFG)", column("s2mel")),
        row("vocoder (BigVGAN)", column("vocoder")),
        row("total, cached prompt", total_cached),
        row("GPT codes/s", [K / t for t in column("gpt_generate")], "", 1),
        row("audio per run", audio),
        row("RTF, cached prompt", [t / a for t, a in zip(total_cached, audio, strict=True)], "", 2),
        row("RTF, cold prompt", [t / a for t, a in zip(total_cold, audio, strict=True)], "", 2),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("indextts.gpt.generation").setLevel(logging.ERROR)  # "hit max_mel_tokens" is the point here
    try:
        report = benchmark(args)
    except IndexTTSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(table(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
