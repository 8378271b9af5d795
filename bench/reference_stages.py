"""Stage timings of the OFFICIAL IndexTTS2 (PyPI `indextts2-inference` 2.1.1) on our factory's checkpoint.

The counterpart of bench/stages.py, for the side-by-side table in bench/README.md. Runs INSIDE the
isolated reference venv (parity/setup_reference.sh), from `.parity/`, like parity/reference_dump.py,
whose import isolation and offline hub-cache layout it reuses:

    cd .parity && venv/bin/python ../bench/reference_stages.py --model-dir /tmp/our_full --codes 40 \
        --repeat 2 --threads 2 --json /tmp/reference_full.json

Each run is one real `IndexTTS2.infer` call (CPU, fp32) of one segment. The package's own methods are
wrapped to time the same stages as bench/stages.py: text front end (tokenize + split), prompt processing
(speaker and emotion conditioning, plus the emotion blend `merge_emovec`; cold = caches cleared and
computed from the file before the call, cached = the calls inside `infer`, which hit the caches), GPT
generation (`inference_speech`), the GPT latent pass (`UnifiedVoice.forward`), s2mel (from `gpt_layer`
to the end of `cfm.inference`) and the vocoder (BigVGAN forward).

Every run generates exactly --codes codes: a forward hook on the GPT's mel head sets the stop code's
logit to −inf and max_mel_tokens=--codes ends generation there; each run checks the count.
--decoding default is what users run (the package's defaults: 3 beams, sampling, top_k 30);
--decoding greedy is top_k=1, num_beams=1. Timings are informative only.

For bench/gpu_report.py (which runs it in a child process, the package installed in a private
folder named by INDEXTTS_REFERENCE_SITE): --warmup-codes shortens the warm-up run, --greedy-codes
adds one greedy run whose codes the JSON keeps (to compare with ours on the same weights), and the
JSON also has the segment's text token ids and, on CUDA, the peak GPU memory.
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "parity"))

import reference_dump as ref  # noqa: E402  (sets the tqdm env before torch is imported)
import torch  # noqa: E402

DEFAULT_TEXT = "大家好，欢迎体验 IndexTTS Node，this is a quick benchmark."
STAGES = ("gpt_generate", "gpt_latent", "s2mel", "vocoder")
DIFFUSION_STEPS = 25  # hard-coded in the package's infer_generator
DECODINGS = {
    "default": {},  # the package's own defaults: num_beams=3, do_sample, top_k=30, top_p=0.8, temperature=0.8
    "greedy": {"top_k": 1, "num_beams": 1},
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, required=True, help="checkpoint folder in the official layout")
    parser.add_argument("--codes", type=int, default=40, help="semantic codes generated per run (forced)")
    parser.add_argument("--repeat", type=int, default=2, help="timed warm runs (after one warm-up run)")
    parser.add_argument("--decoding", choices=tuple(DECODINGS), default="default", help="generation settings")
    parser.add_argument("--threads", type=int, help="torch CPU threads (None: torch's choice)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (the package's own device handling)")
    parser.add_argument("--fp16", action="store_true", help="the package's use_fp16 (CUDA only)")
    parser.add_argument("--prompt", type=Path, default=REPO / "examples" / "voice_01.wav", help="voice prompt")
    parser.add_argument("--text", default=DEFAULT_TEXT, help="text of the segment (one segment)")
    parser.add_argument("--seed", type=int, default=0, help="torch seed of run i is seed + i")
    parser.add_argument("--warmup-codes", type=int, help="codes of the warm-up run (default: --codes)")
    parser.add_argument("--greedy-codes", type=int, default=0, help="then one greedy run of this many codes, kept")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write every measurement to this JSON file")
    args = parser.parse_args(argv)
    if args.codes < 1 or args.repeat < 1:
        parser.error("--codes and --repeat must be at least 1")
    return args


class StageClock:
    """Accumulates wall time per stage name while `infer` runs, through wrappers and module hooks."""

    def __init__(self, device: str = "cpu") -> None:
        self.times: dict[str, float] = {}
        self.audio_samples = 0
        self._started: dict[str, float] = {}
        # CUDA work is asynchronous: wait for it at every stage edge, or a stage's time lands in the next.
        self.sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def reset(self) -> None:
        self.times, self.audio_samples, self._started = {}, 0, {}

    def start(self, name: str) -> None:
        self.sync()
        self._started[name] = time.perf_counter()

    def stop(self, name: str) -> None:
        self.sync()
        self.times[name] = self.times.get(name, 0.0) + time.perf_counter() - self._started.pop(name)

    def wrap(self, owner: Any, attribute: str, name: str) -> None:
        """Time every call of `owner.attribute` (an instance attribute shadows the bound method)."""
        original: Callable = getattr(owner, attribute)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.start(name)
            try:
                return original(*args, **kwargs)
            finally:
                self.stop(name)

        setattr(owner, attribute, timed)

    def hook(self, module: torch.nn.Module, name: str) -> None:
        module.register_forward_pre_hook(lambda _m, _a: self.start(name))
        module.register_forward_hook(lambda _m, _a, _out: self.stop(name))


def install(tts: Any, clock: StageClock) -> None:
    clock.wrap(tts.tokenizer, "tokenize", "text")  # normalises, then sentencepiece
    clock.wrap(tts.tokenizer, "split_segments", "text")
    clock.wrap(tts, "_get_speaker_conditioning", "prompt")
    clock.wrap(tts, "_get_emotion_conditioning", "prompt")
    clock.wrap(tts.gpt, "merge_emovec", "emotion_blend")
    clock.wrap(tts.gpt, "inference_speech", "gpt_generate")
    clock.hook(tts.gpt, "gpt_latent")  # UnifiedVoice.forward: only the teacher-forced pass calls it
    s2mel = tts.s2mel.models
    s2mel["gpt_layer"].register_forward_pre_hook(lambda _m, _a: clock.start("s2mel"))
    cfm = s2mel["cfm"]
    original_cfm = cfm.inference

    @functools.wraps(original_cfm)
    def cfm_inference(*args: Any, **kwargs: Any) -> Any:
        try:
            return original_cfm(*args, **kwargs)
        finally:
            clock.stop("s2mel")  # gpt_layer, vq2emb, length regulator and the solve

    cfm.inference = cfm_inference
    clock.hook(tts.bigvgan, "vocoder")

    def count_samples(_m: torch.nn.Module, _a: tuple, out: torch.Tensor) -> None:
        clock.audio_samples += out.shape[-1]

    tts.bigvgan.register_forward_hook(count_samples)


def make_stop_impossible(tts: Any) -> None:
    stop = tts.stop_mel_token

    def mask(_module: torch.nn.Module, _inputs: tuple, logits: torch.Tensor) -> torch.Tensor:
        logits = logits.clone()
        logits[..., stop] = float("-inf")
        return logits

    tts.gpt.mel_head.register_forward_hook(mask)  # also the last layer of the inference model's lm_head


def one_run(
    tts: Any, clock: StageClock, args: argparse.Namespace, seed: int, count: int | None = None, decoding: str = ""
) -> dict[str, Any]:
    """One `infer` call of `count` forced codes (default --codes) with `decoding` (default --decoding)."""
    count, decoding = count or args.codes, decoding or args.decoding
    prompt = str(args.prompt)
    tts._init_cache()
    clock.reset()
    tts._get_speaker_conditioning(prompt)  # as infer_generator calls them: outside no_grad
    tts._get_emotion_conditioning(prompt)
    prompt_cold = clock.times.pop("prompt")
    codes: list[int] = []
    generated: list[list[int]] = []
    original = tts.gpt.inference_speech

    def counting(*a: Any, **k: Any) -> Any:
        out = original(*a, **k)
        codes.append(int(out[0].shape[-1]))
        generated.append(out[0][0].tolist())
        return out

    tts.gpt.inference_speech = counting
    torch.manual_seed(seed)
    started = time.perf_counter()
    try:
        tts.infer(
            spk_audio_prompt=prompt,
            text=args.text,
            output_path=None,
            max_mel_tokens=count,
            **DECODINGS[decoding],
        )
    finally:
        tts.gpt.inference_speech = original
    infer_s = time.perf_counter() - started
    if codes != [count]:
        raise SystemExit(f"expected one segment of {count} codes, got {codes}")
    times: dict[str, Any] = dict(clock.times)
    blend = times.pop("emotion_blend")
    times["prompt_cached"] = times.pop("prompt") + blend
    times["prompt_cold"] = prompt_cold + blend
    times["audio_s"] = clock.audio_samples / 22050
    times["infer_s"] = infer_s
    times["generated"] = generated[0]
    return times


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    model_dir = args.model_dir.resolve()
    hf_home = Path(tempfile.mkdtemp(prefix="bench-ref-hf-"))
    try:
        ref.build_hf_home(model_dir, hf_home)
        ref.set_offline_hub_env(hf_home)
        indextts = ref.import_reference_package()
        import transformers

        transformers.utils.logging.disable_progress_bar()
        if args.threads:
            torch.set_num_threads(args.threads)
        started = time.perf_counter()
        tts = indextts.IndexTTS2(
            model_dir=str(model_dir), device=args.device, use_fp16=args.fp16, use_cuda_kernel=False
        )
        load_s = time.perf_counter() - started
        ref.check_loaded(tts, model_dir)
        started = time.perf_counter()
        segments = tts.tokenizer.split_segments(tts.tokenizer.tokenize(args.text), 120)
        text_first_s = time.perf_counter() - started
        if len(segments) != 1:
            raise SystemExit(f"--text must fit one segment of at most 120 tokens, it gives {len(segments)}")
        clock = StageClock(args.device)
        install(tts, clock)
        make_stop_impossible(tts)
        say(f"reference loaded in {load_s:.1f} s; warm-up run")
        if args.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        one_run(tts, clock, args, args.seed, args.warmup_codes)
        runs = []
        for index in range(args.repeat):
            say(f"run {index + 1}/{args.repeat}")
            runs.append(one_run(tts, clock, args, args.seed + index))
            runs[-1].pop("generated")
        greedy = None
        if args.greedy_codes:
            say(f"greedy run of {args.greedy_codes} codes")
            greedy = one_run(tts, clock, args, args.seed, args.greedy_codes, "greedy")["generated"]
        text_ids = tts.tokenizer.convert_tokens_to_ids(segments[0])
        peak_gpu = torch.cuda.max_memory_allocated() if args.device.startswith("cuda") else None
    finally:
        shutil.rmtree(hf_home, ignore_errors=True)
    import importlib.metadata as md

    generation = {"top_k": 30, "num_beams": 3} | DECODINGS[args.decoding]
    return {
        "implementation": f"official ({ref.PACKAGE_DIST} {md.version(ref.PACKAGE_DIST)})",
        "size": "full" if "full" in model_dir.name else model_dir.name,
        "model_dir": str(model_dir),
        "codes": args.codes,
        "num_beams": generation["num_beams"],
        "decoding": args.decoding,
        "generation": generation,
        "repeat": args.repeat,
        "text_tokens": len(segments[0]),
        "prompt": str(args.prompt),
        "device": args.device,
        "dtype": "float16" if args.fp16 else "float32",
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "load_s": load_s,
        "text_first_s": text_first_s,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "peak_gpu_bytes": peak_gpu,
        "text_ids": text_ids,
        "greedy_codes": greedy,
        "runs": runs,
    }


def table(report: dict[str, Any]) -> str:
    runs = report["runs"]

    def column(name: str) -> list[float]:
        return [run[name] for run in runs]

    def row(label: str, values: list[float], unit: str = " s", digits: int = 3) -> str:
        cells = [statistics.median(values), min(values), max(values)]
        return f"| {label} | " + " | ".join(f"{v:.{digits}f}{unit}" for v in cells) + " |"

    K = report["codes"]
    total_cached = [run["text"] + run["prompt_cached"] + sum(run[s] for s in STAGES) for run in runs]
    total_cold = [t - run["prompt_cached"] + run["prompt_cold"] for t, run in zip(total_cached, runs, strict=True)]
    audio = column("audio_s")
    lines = [
        f"{report['implementation']} · {report['size']} random-weight checkpoint · {K} forced codes per run "
        f"({report['decoding']}: {report['generation']}) · {report['text_tokens']} text tokens · "
        f"{report['repeat']} warm runs",
        f"device {report['device']} · {report['dtype']} · torch {report['torch']} · "
        f"{report['torch_threads']} torch thread(s) · "
        f"peak RSS {report['peak_rss_bytes'] / 2**30:.2f} GiB",
        "",
        "| stage | median | min | max |",
        "|---|---:|---:|---:|",
        f"| model load (once) | {report['load_s']:.3f} s | | |",
        f"| text front end, first call | {report['text_first_s']:.3f} s | | |",
        row("text front end", column("text")),
        row("prompt processing, cold (from the file)", column("prompt_cold")),
        row("prompt processing, cached", column("prompt_cached")),
        row(f"GPT generation ({K} codes)", column("gpt_generate")),
        row("GPT latent pass", column("gpt_latent")),
        row(f"s2mel ({DIFFUSION_STEPS} steps, CFG)", column("s2mel")),
        row("vocoder (BigVGAN)", column("vocoder")),
        row("total, cached prompt", total_cached),
        row("whole `infer` call (cached prompt)", column("infer_s")),
        row("GPT codes/s", [K / t for t in column("gpt_generate")], "", 1),
        row("audio per run", audio),
        row("RTF, cached prompt", [t / a for t, a in zip(total_cached, audio, strict=True)], "", 2),
        row("RTF, cold prompt", [t / a for t, a in zip(total_cold, audio, strict=True)], "", 2),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = benchmark(args)
    print(table(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
