"""Every speed and precision figure of the node in one run, into one folder (`bench/gpu_report.sh` runs it).

    python bench/gpu_report.py --device cuda --size full --out /tmp/report     # the GPU report
    python bench/gpu_report.py --device cpu --size tiny --out /tmp/report      # the proof run, minutes

Sections, most important first, each written to report.json as soon as it is done (a run cut
short keeps them): checkpoint write; the served dtype (float16): model load, stages of one 20 s
utterance (forced code count) with RTF and codes/s at 3 beams, then THE OFFICIAL IMPLEMENTATION on
the same weights, text, prompt and settings (bench/official_side.py: stages, RTF, its greedy codes
against ours, the speed-up), then 1 beam, the decode step alone per step mode (CUDA graph,
torch.compile, fixed shapes eager, exact eager) at 1 and 3 beams against the memory-bandwidth
bound, the serving core under 1/4/16/32 requests at once (throughput, latency, TTFA); float32
(stages, official side); bfloat16; fp16/bf16 closeness to fp32 (codes, mel, wav). report.md is the
readable table. Timings are informative only: nothing here is asserted.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from node_bench import load_level, machine
from official_side import IdentityGrammar, compare, run_official
from report_markdown import markdown
from stages import device_name, peak_rss_bytes, run_stages, stop_code_impossible, synchronize

from indextts.emotion.control import EmotionRequest
from indextts.factory import make_checkpoint
from indextts.gpt import static_decode
from indextts.gpt.generation import GenerationSettings, generate_codes_batch
from indextts.pipeline import IndexTTS2
from indextts.text import wetext

REPO = Path(__file__).resolve().parent.parent
# Already normalised (upper-case English, spelled-out words), so it reads the same without the grammars.
TEXT = "大家好，欢迎体验 INDEXTTS NODE，THIS IS THE GPU REPORT OF ONE LONG UTTERANCE."


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--size", choices=("tiny", "full"), default="full")
    p.add_argument("--codes", type=int, default=1000, help="codes of the single-stream utterance (1000 = 20 s)")
    p.add_argument("--load-codes", type=int, default=250, help="codes per request under load (250 = 5 s)")
    p.add_argument("--levels", default="1,4,16,32", help="requests at once")
    p.add_argument("--dtypes", default="float16,bfloat16,float32", help="first = the served dtype")
    p.add_argument("--repeat", type=int, default=2, help="timed runs per stage measurement")
    p.add_argument("--decode-codes", type=int, default=300, help="codes per decode-step measurement")
    p.add_argument("--fidelity-codes", type=int, default=200, help="codes compared across dtypes")
    p.add_argument("--budget-s", type=float, default=420, help="skip what is left past this many seconds")
    p.add_argument("--official", default="float16,float32", help="dtypes the official code runs at ('' = none)")
    p.add_argument("--official-repeat", type=int, default=1, help="timed official runs (after a warm-up)")
    p.add_argument("--official-warmup-codes", type=int, default=100, help="codes of the official warm-up run")
    p.add_argument("--decode-modes", default="", help="decode step modes measured (default: all the device runs)")
    p.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "indextts-report")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "gpu-report")
    p.add_argument("--prompt", type=Path, default=REPO / "examples" / "voice_01.wav")
    args = p.parse_args(argv)
    args.levels = [int(n) for n in args.levels.split(",") if n.strip()]
    args.dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    args.official = [d.strip() for d in args.official.split(",") if d.strip()]
    args.decode_modes = [m.strip() for m in args.decode_modes.split(",") if m.strip()]
    return args


def say(message: str) -> None:
    print(f"[gpu_report {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Report:
    """report.json rewritten after every section, so a run cut short still leaves what it measured."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args, self.started = args, time.perf_counter()
        self.data: dict[str, Any] = {"argv": sys.argv[1:], "date": time.strftime("%Y-%m-%d %H:%M %Z"), "skipped": []}
        args.out.mkdir(parents=True, exist_ok=True)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def has_time(self, section: str) -> bool:
        if self.elapsed() < self.args.budget_s:
            return True
        self.data["skipped"].append(f"{section} (past the {self.args.budget_s:.0f} s budget)")
        say(f"skipped {section}: past the budget")
        return False

    def save(self, key: str | None = None, value: Any = None) -> None:
        if key is not None:
            self.data[key] = value
        self.data["elapsed_s"] = self.elapsed()
        out = self.args.out
        (out / "report.json").write_text(json.dumps(self.data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (out / "report.md").write_text(markdown(self.data), encoding="utf-8")


# --- the engine -------------------------------------------------------------------------------------


def load(args: argparse.Namespace, folder: Path, dtype: str) -> tuple[IndexTTS2, float]:
    started = time.perf_counter()
    tts = IndexTTS2(folder, device=args.device, dtype=dtype, cache_dir=args.cache_dir)
    if wetext.installed_version() is None:  # TEXT needs no grammar: the rest of the normaliser still runs
        normalizer = tts.models.frontend.tokenizer.normalizer
        assert normalizer is not None
        normalizer.backend = IdentityGrammar()
    return tts, time.perf_counter() - started


def release(tts: IndexTTS2 | None) -> None:
    del tts
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def peak_gpu(tts: IndexTTS2) -> int | None:
    return torch.cuda.max_memory_allocated(tts.device) if tts.device.type == "cuda" else None


# --- sections -----------------------------------------------------------------------------------


def stages(args: argparse.Namespace, tts: IndexTTS2, num_beams: int) -> dict[str, Any]:
    """One utterance of --codes codes (one segment), cold then cached prompt, --repeat timed runs."""
    prompt = str(args.prompt)
    segment = tts.split_segments(TEXT, 120)[0]
    settings = GenerationSettings(max_mel_tokens=args.codes, num_beams=num_beams)
    runs = []
    if tts.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(tts.device)
    with stop_code_impossible(tts):
        for index in range(args.repeat + 1):  # the first is the warm-up (graph capture, first-call costs)
            times: dict[str, float] = {}
            started = time.perf_counter()
            tts.split_segments(TEXT, 120)
            times["text"] = time.perf_counter() - started
            tts.models.prompts.speakers.clear()
            tts.models.prompts.emotions.clear()
            for name in ("prompt_cold", "prompt_cached"):
                synchronize(tts.device)
                started = time.perf_counter()
                speaker = tts.speaker(prompt)
                emovec = tts.emotion_vector(prompt, TEXT, EmotionRequest())
                synchronize(tts.device)
                times[name] = time.perf_counter() - started
            stage_times, result, samples = run_stages(tts, speaker, emovec, segment, settings, index)
            times |= stage_times
            times["audio_s"] = samples.shape[0] / tts.sample_rate
            times["codes"] = int(result.codes.shape[0])
            if index:
                runs.append(times)
            say(f"  stages, {num_beams} beam(s), run {index}: GPT {times['gpt_generate']:.3f} s")
    return {"num_beams": num_beams, "text_tokens": len(segment), "runs": runs, "peak_gpu_bytes": peak_gpu(tts)}


def gpt_weight_bytes(tts: IndexTTS2) -> int:
    """What one decode step must read: the backbone, final norm and mel head (embeddings read a row)."""
    gpt = tts.models.gpt
    modules = (gpt.gpt, gpt.final_norm, gpt.mel_head)
    return sum(p.numel() * p.element_size() for m in modules for p in m.parameters())


def copy_bandwidth(device: torch.device) -> float | None:
    """Bytes per second of a 1 GiB device-to-device copy (read + write), the decode's ceiling."""
    if device.type != "cuda":
        return None
    a = torch.empty(2**30, dtype=torch.uint8, device=device)
    b = torch.empty_like(a)
    b.copy_(a)
    torch.cuda.synchronize(device)
    started = time.perf_counter()
    for _ in range(10):
        b.copy_(a)
    torch.cuda.synchronize(device)
    seconds = (time.perf_counter() - started) / 10
    del a, b
    return 2 * 2**30 / seconds


def decode_modes(args: argparse.Namespace, device: torch.device) -> list[str]:
    """All four on CUDA; on the CPU `compile` only when asked (inductor's C++ build of the step took
    over 15 minutes on the shared 2-core VM and did not finish)."""
    default = ["graph", "fixed", "exact", "compile"] if device.type == "cuda" else ["fixed", "exact"]
    return args.decode_modes or default


def decode_steps(args: argparse.Namespace, tts: IndexTTS2, modes: list[str]) -> dict[str, Any]:
    """The GPT decode alone (prefix ready) per step mode and beam width: codes per second."""
    gpt, device = tts.models.gpt, tts.device
    speaker = tts.speaker(str(args.prompt))
    emovec = tts.emotion_vector(str(args.prompt), TEXT, EmotionRequest())
    segment = tts.split_segments(TEXT, 120)[0]
    with torch.inference_mode(), tts._autocast():
        latent = gpt.speaker_latent(speaker.spk_cond_emb.to(tts.dtype))
        prefix = gpt.prefix(gpt.conditioning(latent, emovec.to(latent.dtype)), torch.tensor(segment.ids, device=device))
    rows = []
    with stop_code_impossible(tts):
        for beams in (1, 3):
            settings = GenerationSettings(max_mel_tokens=args.decode_codes, num_beams=beams)
            for mode in modes:
                times = []
                for seed in range(3):  # the first captures the graphs (or compiles)
                    generator = torch.Generator(device).manual_seed(seed)
                    synchronize(device)
                    started = time.perf_counter()
                    with tts._autocast():
                        generate_codes_batch(gpt, [prefix], [settings], [generator], decode_step=mode)
                    synchronize(device)
                    times.append(time.perf_counter() - started)
                best = min(times[1:])
                rows.append({"mode": mode, "beams": beams, "seconds": best, "codes_per_s": args.decode_codes / best})
                say(f"  decode {mode}, {beams} beam(s): {args.decode_codes / best:.0f} codes/s")
    weights = gpt_weight_bytes(tts)
    bandwidth = copy_bandwidth(device)
    bound = bandwidth / weights if bandwidth else None
    graphs = static_decode._GRAPHS.get(gpt)
    return {
        "rows": rows,
        "weight_bytes": weights,
        "copy_bandwidth": bandwidth,
        "bound_codes_per_s": bound,
        "graphs_captured": len(graphs.graphs) if graphs else 0,
        "graph_capture_failed": bool(graphs and graphs.broken),
    }


def fidelity(args: argparse.Namespace, folder: Path, reference: dict[str, Any], dtype: str) -> dict[str, Any]:
    """One dtype against float32 on the same weights, inputs and seeds."""
    tts, _ = load(args, folder, dtype)
    runs_as = str(tts.dtype).removeprefix("torch.")
    try:
        other = closeness_run(args, tts, reference["codes"])
    finally:
        release(tts)
    out: dict[str, Any] = {"dtype": dtype, "runs_as": runs_as}
    for name in ("greedy", "sampled"):
        a, b = reference[name], other[name]
        same = sum(x == y for x, y in zip(a, b, strict=False))
        diverge = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
        out[f"{name}_agreement"] = same / max(len(a), 1)
        out[f"{name}_first_difference"] = diverge if diverge < len(a) else None
    for name in ("mel", "wav"):
        ref, got = reference[name], other[name]
        n = min(ref.shape[-1], got.shape[-1])
        error = (got[..., :n] - ref[..., :n]).abs()
        scale = ref.abs().max().item() or 1.0
        out[f"{name}_max_abs"] = error.max().item()
        out[f"{name}_max_rel"] = error.max().item() / scale
        out[f"{name}_rms_rel"] = (error.pow(2).mean().sqrt() / ref.pow(2).mean().sqrt().clamp_min(1e-12)).item()
    return out


def closeness_run(args: argparse.Namespace, tts: IndexTTS2, codes: torch.Tensor | None) -> dict[str, Any]:
    """Greedy and seeded default codes; then mel and wav of `codes` (float32's, when given) with fixed noise."""
    prompt = str(args.prompt)
    speaker = tts.speaker(prompt)
    emovec = tts.emotion_vector(prompt, TEXT, EmotionRequest())
    segment = tts.split_segments(TEXT, 120)[0]
    n = args.fidelity_codes
    out: dict[str, Any] = {}
    with stop_code_impossible(tts):
        greedy = GenerationSettings(do_sample=False, num_beams=1, max_mel_tokens=n)
        first = tts.generate(speaker, emovec, segment, greedy)[0].codes
        out["greedy"] = first.tolist()
        sampled = GenerationSettings(max_mel_tokens=n)
        out["sampled"] = tts.generate(speaker, emovec, segment, sampled, tts._generator(0))[0].codes.tolist()
    codes = first if codes is None else codes.to(tts.device)
    with torch.inference_mode(), tts._autocast():
        conditioning = tts.models.gpt.conditioning(
            tts.models.gpt.speaker_latent(speaker.spk_cond_emb.to(tts.dtype)), emovec.to(tts.dtype)
        )
        latent = tts.models.gpt.latent(conditioning, torch.tensor(segment.ids, device=tts.device), codes).float()
    mel, wav, _ = tts.decode(speaker, codes, latent, tts._generator(0))
    out |= {"codes": codes.cpu(), "mel": mel.float().cpu(), "wav": wav.float().cpu()}
    return out


def greedy_codes(args: argparse.Namespace, tts: IndexTTS2) -> tuple[list[int], list[int]]:
    """Our text token ids of TEXT and our greedy codes (--fidelity-codes, stop impossible), for the official rows."""
    prompt = str(args.prompt)
    speaker = tts.speaker(prompt)
    emovec = tts.emotion_vector(prompt, TEXT, EmotionRequest())
    segment = tts.split_segments(TEXT, 120)[0]
    settings = GenerationSettings(do_sample=False, num_beams=1, max_mel_tokens=args.fidelity_codes)
    with stop_code_impossible(tts):
        codes = tts.generate(speaker, emovec, segment, settings)[0].codes
    return list(segment.ids), codes.tolist()


def official_section(
    args: argparse.Namespace, report: Report, tts: IndexTTS2, folder: Path, dtype: str, ours: dict[str, Any]
) -> None:
    """The official implementation at `dtype` on the same weights, and how ours compares (key official_<dtype>)."""
    say(f"{dtype}: the official implementation, same weights")
    ids, greedy = greedy_codes(args, tts)
    timeout = max(60.0, args.budget_s - report.elapsed() + 90)
    with tempfile.TemporaryDirectory(prefix="gpu-report-official-") as work:
        official = run_official(args, folder, dtype, TEXT, Path(work), timeout)
    if "error" not in official:
        official["comparison"] = compare(ours, ids, greedy, official)
        c = official["comparison"]
        say(f"  official {dtype}: {c['speedup_total_cached']:.2f}x our time; same text ids: {c['same_text_ids']}")
    else:
        say(f"  official {dtype} failed: {official['error'][-500:]}")
    report.save(f"official_{dtype}", official)


def under_load(args: argparse.Namespace, tts: IndexTTS2, folder: Path, work: Path) -> list[dict[str, Any]]:
    from serving.engine import LoadedEngine
    from serving.node import Node, NodeSettings

    request = {"text": TEXT, "spk_audio": str(args.prompt.resolve()), "max_mel_tokens": args.load_codes}
    levels: list[dict[str, Any]] = []
    with stop_code_impossible(tts):
        for n in args.levels:
            settings = NodeSettings(
                outputs_dir=work / "outputs",
                allowed_dirs=(args.prompt.resolve().parent,),
                max_pending=max(32, n),
                max_batch=n,
            )
            node = Node(LoadedEngine(tts, folder, True, "report", 0.0), settings)
            try:
                if not levels:
                    load_level(node, 1, request)  # warm-up: graphs for one request, prompt cache
                levels.append({**load_level(node, n, request), "max_batch": n})
                say(f"  {n} at once: {levels[-1]['audio_per_s']:.2f} s of audio per s")
            finally:
                node.close()
    return levels


# --- the run ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("indextts.gpt.generation").setLevel(logging.ERROR)  # "hit max_mel_tokens" is the point here
    report = Report(args)
    device = torch.device(args.device)
    info = machine(device) | {"device_name": device_name(device)}
    normaliser = wetext.installed_version()
    official = (
        f"indextts2-inference 2.1.1 (the official code, repackaged) at {', '.join(args.official)}, same weights, "
        f"text, prompt and settings, {args.official_repeat} timed run(s) after a {args.official_warmup_codes}-code "
        "warm-up" + ("" if normaliser else "; its NeMo grammars replaced by a pass-through (bench/standins/official/)")
        if args.official
        else "not run (--official '')"
    )
    report.save("settings", {
        "size": args.size, "codes": args.codes, "load_codes": args.load_codes, "levels": args.levels,
        "dtypes": args.dtypes, "repeat": args.repeat, "prompt": args.prompt.name,
        "text": TEXT,
        "normaliser": f"WeTextProcessing {normaliser}" if normaliser
        else "ours without its grammars (identity in place of WeTextProcessing; the text needs none)",
        "official": official,
    })  # fmt: skip
    report.save("machine", info)
    folder = args.cache_dir / f"checkpoint-{args.size}"
    say(f"writing the {args.size} checkpoint into {folder}")
    started = time.perf_counter()
    make_checkpoint(folder, args.size)
    report.save("checkpoint_s", time.perf_counter() - started)
    reference = None
    served = args.dtypes[0]
    for dtype in sorted(args.dtypes, key=lambda d: d != served):  # the served dtype first: the key figures
        if not report.has_time(f"{dtype} stages"):
            continue
        say(f"{dtype}: load")
        tts, load_s = load(args, folder, dtype)
        try:
            entry: dict[str, Any] = {"load_s": load_s, "runs_as": str(tts.dtype).removeprefix("torch.")}
            for beams in (3, 1) if dtype == served else (3,):
                if report.has_time(f"{dtype} stages at {beams} beam(s)"):
                    entry[f"stages_{beams}"] = stages(args, tts, beams)
                    report.save(f"dtype_{dtype}", entry)
                if (
                    beams == 3
                    and "stages_3" in entry
                    and dtype in args.official
                    and report.has_time(f"official {dtype}")
                ):
                    official_section(args, report, tts, folder, dtype, entry["stages_3"])
            if dtype == "float32" and len(args.dtypes) > 1 and report.has_time("fidelity reference"):
                reference = closeness_run(args, tts, None)
            # torch.compile's first calls compile for minutes: measured after the load levels.
            modes = decode_modes(args, tts.device)
            decode: dict[str, Any] = {"rows": []}
            if dtype == served and report.has_time("decode steps"):
                say(f"{dtype}: the decode step alone")
                decode = decode_steps(args, tts, [m for m in modes if m != "compile"]) | {"dtype": dtype}
                report.save("decode", decode)
            if dtype == served and report.has_time("load levels"):
                say(f"{dtype}: the serving core under load")
                with tempfile.TemporaryDirectory(prefix="gpu-report-") as work:
                    levels = under_load(args, tts, folder, Path(work))
                report.save("load", {"dtype": dtype, "levels": levels, "peak_gpu_bytes": peak_gpu(tts)})
            if dtype == served and "compile" in modes and report.has_time("decode step, torch.compile"):
                say(f"{dtype}: the decode step through torch.compile")
                compiled = decode_steps(args, tts, ["compile"]) | {"dtype": dtype}
                compiled["rows"] = decode["rows"] + compiled["rows"]
                report.save("decode", decode | compiled)
        finally:
            release(tts)
    closeness = []
    for dtype in args.dtypes:
        if dtype != "float32" and reference is not None and report.has_time(f"{dtype} fidelity"):
            say(f"{dtype}: closeness to float32")
            closeness.append(fidelity(args, folder, reference, dtype))
            report.save("fidelity", closeness)
    report.data["machine"]["load_average_end"] = os.getloadavg()[0]
    report.save("peak_rss_bytes", peak_rss_bytes())
    say(f"done in {report.elapsed():.0f} s: {args.out / 'report.md'}")
    print((args.out / "report.md").read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
