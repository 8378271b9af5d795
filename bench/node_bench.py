"""One run, one report: our node against the official IndexTTS2 on the same random-weight checkpoint.

    python bench/node_bench.py                                   # tiny checkpoint, CPU or `auto`
    python bench/node_bench.py --size full --device cuda --dtype float16 --codes 1000

What it does, in order (every request generates exactly --codes codes, see bench/stages.py):

1. stages, ours: `bench/stages.py` in a subprocess (per-stage times, RTF, GPT codes/s, peak memory);
2. stages, official: `bench/reference_stages.py` in the parity venv (`make parity` builds it) on the
   same checkpoint folder, prompt, text, code count and decoding; skipped, and said so, without it;
3. the node under load, ours: N requests submitted at once to the real serving core (`Node`:
   validation, queue, continuous batching, WAV writing) for each N of --concurrency; per level the
   aggregate seconds of audio per second of wall time, request latency and time to first audio
   (the first streamed segment). The official code runs one request at a time, so its aggregate
   rate is its single-request rate at every level (taken from step 2);
4. writes `<out>/<tag>.md` (tables and the machine), `<tag>.json` (every number) and `<tag>.png`
   (a plot; needs matplotlib: `pip install -e '.[bench]'`).

With an IndexTTS-2.5 size (`tiny-2.5`, `full-2.5`) step 2 is skipped and says so (the official code
is IndexTTS-2's and cannot load a 2.5 checkpoint), and the stage row between generation and s2mel is
the semantic codec's decode (2.5 has no GPT latent pass). A 2.5 code is 40 ms of audio, a 2.0 code
20 ms: the same --codes is twice the audio, so compare generations per second of audio
(`bench/generations.py` puts two reports side by side).

Timings are informative only: no test asserts any of them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from compare_reference import ROWS, compare, summary
from stages import (
    CONTENT_STAGE,
    DEFAULT_TEXT,
    SECONDS_PER_CODE,
    device_name,
    generation_of,
    peak_rss_bytes,
    stop_code_impossible,
)

from indextts.config import default_cache_dir
from indextts.factory import SIZES, make_checkpoint
from indextts.pipeline import IndexTTS2
from serving.decode_batching import cpu_cores
from serving.engine import LoadedEngine, single_threaded_torch
from serving.jobs import Job, JobState
from serving.node import Node, NodeSettings
from serving.request import parse_request

REPO = Path(__file__).resolve().parent.parent
REFERENCE_PYTHON = REPO / ".parity" / "venv" / "bin" / "python"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--size", choices=SIZES, default="tiny", help="checkpoint size (*-2.5: IndexTTS-2.5)")
    parser.add_argument("--codes", type=int, default=50, help="codes per request, forced (50 ≈ 1 s of audio)")
    parser.add_argument("--num-beams", type=int, default=3, help="beam width (3: the official default)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default="float32", help="GPT dtype")
    parser.add_argument("--concurrency", default="1,4,16,32", help="comma-separated numbers of requests at once")
    parser.add_argument("--max-batch", type=int, default=0, help="the node's --max_batch (0: the level itself)")
    parser.add_argument(
        "--batch-decode", default="auto", help="the node's --batch_decode; several (off,on) alternate at each level"
    )
    parser.add_argument(
        "--decode-workers",
        default="auto",
        help="the node's --decode_workers; several alternate at each level: paired with --batch-decode's values "
        "when both name as many (off,auto with 0,auto: off/0 then auto/auto), else every combination",
    )
    parser.add_argument("--repeat", type=int, default=2, help="timed runs of the stage benchmarks")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--reference", choices=("auto", "off"), default="auto", help="run the official code")
    parser.add_argument("--prompt", type=Path, default=REPO / "examples" / "voice_01.wav", help="voice prompt")
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir() / "bench", help="checkpoints live here")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results", help="results folder")
    parser.add_argument("--tag", help="result file name (default: device-size-dtype)")
    args = parser.parse_args(argv)
    args.levels = [int(n) for n in args.concurrency.split(",") if n.strip()]
    batch_modes = [m.strip() for m in args.batch_decode.split(",") if m.strip()]
    workers = [w.strip() for w in str(args.decode_workers).split(",") if w.strip()]
    if len(batch_modes) == len(workers):
        args.decode_modes = list(zip(batch_modes, workers, strict=True))
    else:
        args.decode_modes = [(m, w) for m in batch_modes for w in workers]
    if args.codes < 50:
        parser.error("--codes must be at least 50 (the smallest max_mel_tokens a request may ask for)")
    return args


def say(message: str) -> None:
    print(f"[node_bench] {message}", file=sys.stderr, flush=True)


# --- machine -------------------------------------------------------------------------------------


def machine(device: torch.device) -> dict[str, Any]:
    memory = 0
    if Path("/proc/meminfo").is_file():
        line = next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal"))
        memory = int(line.split()[1]) * 1024
    return {
        "device": str(device),
        "device_name": device_name(device),
        "cpu": device_name(torch.device("cpu")),
        "cpu_cores": os.cpu_count(),
        "memory_bytes": memory,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }


# --- steps 1 and 2: the stage benchmarks, in subprocesses ------------------------------------------


def run_json(command: list[str], out: Path, cwd: Path = REPO) -> dict[str, Any]:
    say("$ " + " ".join(command))
    subprocess.run(command, cwd=cwd, check=True)
    return json.loads(out.read_text(encoding="utf-8"))


def stage_reports(args: argparse.Namespace, folder: Path, work: Path) -> tuple[dict, dict | None, str]:
    common = ["--codes", str(args.codes), "--repeat", str(args.repeat), "--prompt", str(args.prompt.resolve())]
    threads = ["--threads", str(args.threads)] if args.threads else []
    ours = run_json(
        [sys.executable, "bench/stages.py", "--size", args.size, "--cache-dir", str(args.cache_dir),
         "--device", args.device, "--dtype", args.dtype, "--num-beams", str(args.num_beams),
         "--json", str(work / "ours.json"), *common, *threads],
        work / "ours.json",
    )  # fmt: skip
    if generation_of(args.size) == "2.5":
        # The official IndexTTS-2 code has no 2.5 model (no codec, another GPT); `make parity-25` compares 2.5.
        return ours, None, "not run: the official IndexTTS-2 code cannot load an IndexTTS-2.5 checkpoint"
    if args.reference == "off":
        return ours, None, "not run (--reference off)"
    if not REFERENCE_PYTHON.is_file():
        return ours, None, f"not run: {REFERENCE_PYTHON.relative_to(REPO)} is missing (`make parity` builds it)"
    if args.size != "full":
        # UnifiedVoice there fixes some widths at w2v-BERT's 1024, so the tiny checkpoint does not load.
        return ours, None, "not run: the official code loads only the full-size checkpoint (--size full)"
    if args.num_beams not in (1, 3):
        return ours, None, "not run: the reference benchmark knows 3 sampled beams (default) or greedy only"
    device = ours["device"]
    try:
        official = run_json(
            [str(REFERENCE_PYTHON), str(REPO / "bench" / "reference_stages.py"), "--model-dir", str(folder),
             "--decoding", "default" if args.num_beams == 3 else "greedy", "--device", device,
             *(["--fp16"] if args.dtype != "float32" and device != "cpu" else []),
             "--json", str(work / "official.json"), *common, *threads],
            work / "official.json",
            cwd=REPO / ".parity",
        )  # fmt: skip
    except subprocess.CalledProcessError as exc:
        return ours, None, f"failed (exit status {exc.returncode}; its messages are above in the log)"
    return ours, official, official["implementation"]


# --- step 3: the node under load -------------------------------------------------------------------


def watch(node: Node, job: Job, submitted: float, record: dict[str, float]) -> None:
    for _part in node.queue.stream(job, timeout=3600):
        record.setdefault("first_audio_s", time.perf_counter() - submitted)
    record["latency_s"] = time.perf_counter() - submitted


def load_level(node: Node, n: int, request: dict[str, Any]) -> dict[str, Any]:
    records: list[dict[str, float]] = [{} for _ in range(n)]
    threads, jobs = [], []
    started, cpu_started = time.perf_counter(), time.process_time()
    for i in range(n):
        submitted = time.perf_counter()
        job = node.submit(parse_request({**request, "seed": i}), origin="bench")
        jobs.append(job)
        threads.append(threading.Thread(target=watch, args=(node, job, submitted, records[i]), daemon=True))
        threads[-1].start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started  # every thread of the process
    failed = [job.error for job in jobs if job.state is not JobState.COMPLETED]
    if failed:
        raise SystemExit(f"{len(failed)} of {n} requests failed: {failed[0]}")
    audio = sum(job.result.duration for job in jobs)
    latencies = sorted(r["latency_s"] for r in records)
    firsts = sorted(r["first_audio_s"] for r in records)
    return {
        "requests": n,
        "wall_s": wall,
        "audio_s": audio,
        "audio_per_s": audio / wall,
        "cpu_s": cpu,
        "cpu_busy": cpu / (wall * cpu_cores()),
        "latency_p50_s": statistics.median(latencies),
        "latency_p95_s": latencies[min(n - 1, math.ceil(0.95 * n) - 1)],  # nearest-rank percentile
        "latency_max_s": latencies[-1],
        "first_audio_p50_s": statistics.median(firsts),
        "first_audio_min_s": firsts[0],
    }


def node_under_load(args: argparse.Namespace, folder: Path, work: Path) -> tuple[list[dict[str, Any]], dict]:
    with single_threaded_torch() as cpu_threads:  # as a node loads it: see serving/engine.py
        tts = IndexTTS2(folder, device=args.device, dtype=args.dtype, cache_dir=default_cache_dir())
    request = {
        "text": DEFAULT_TEXT,
        "spk_audio": str(args.prompt.resolve()),
        "max_mel_tokens": args.codes,
        "num_beams": args.num_beams,
    }
    levels = []
    with stop_code_impossible(tts):
        # Several decode modes alternate at each level, so a burst of load on a shared machine hits them alike.
        for n, (mode, workers) in ((n, mode) for n in args.levels for mode in args.decode_modes):
            batch = args.max_batch or n
            settings = NodeSettings(
                outputs_dir=work / "outputs",
                allowed_dirs=(args.prompt.resolve().parent,),
                max_pending=max(32, n),
                max_batch=batch,
                batch_decode=mode,
                decode_workers=workers,
            )
            node = Node(LoadedEngine(tts, folder, True, "bench", 0.0, cpu_threads), settings)
            try:
                if not levels:
                    say("warm-up request (prompt cache, first-call costs)")
                    load_level(node, 2, request)  # two: the batched decode's first call too
                say(f"{n} request(s) at once, max_batch {batch}, batch_decode {mode}, decode_workers {workers}")
                level = load_level(node, n, request)
                levels.append({**level, "max_batch": batch, "batch_decode": mode, "decode_workers": workers})
                done = levels[-1]
                say(f"  → {done['audio_per_s']:.3f} s of audio per s, TTFA p50 {done['first_audio_p50_s']:.3f} s")
            finally:
                node.close()
    memory = {
        "peak_rss_bytes": peak_rss_bytes(),
        "peak_gpu_bytes": torch.cuda.max_memory_allocated(tts.device) if tts.device.type == "cuda" else None,
    }
    return levels, memory


# --- step 4: the report ----------------------------------------------------------------------------


def official_rate(official: dict[str, Any]) -> float:
    """Seconds of audio per second for one request after another (cached prompt)."""
    s = summary(official, statistics.median)
    return s["audio_s"] / s["total_cached"]


def gib(value: float | None) -> str:
    return "—" if value is None else f"{value / 2**30:.2f} GiB"


def busy(level: dict[str, Any]) -> str:
    """Process CPU time over wall time × cores: below 100 % the cores idled somewhere."""
    return f"{level['cpu_busy']:.0%}" if "cpu_busy" in level else "—"


def markdown(report: dict[str, Any]) -> str:
    m, ours, official = report["machine"], report["ours"], report["official"]
    generation = report.get("generation", "2")
    audio_per_request = report["codes"] * SECONDS_PER_CODE[generation]
    lines = [
        f"# IndexTTS Node (IndexTTS-{generation}) vs the official IndexTTS2 — {report['tag']}",
        "",
        f"Written by `python bench/node_bench.py {' '.join(report['argv'])}` on {report['date']}.",
        "",
        "## Machine",
        "",
        f"- device: {m['device']} ({m['device_name']})",
        f"- CPU: {m['cpu']}, {m['cpu_cores']} cores; memory {gib(m['memory_bytes'])}",
        f"- {m['platform']}; Python {m['python']}; torch {m['torch']} ({m['torch_threads']} CPU threads)",
        f"- load average (1 min): {m['load_average_start']:.2f} at the start, {m['load_average_end']:.2f} at the end",
        "",
        "## Settings",
        "",
        f"- {report['size']} random-weight checkpoint (`python -m indextts make-checkpoint {report['size']}`), "
        f"GPT in {report['dtype']}",
        f"- every request: {report['codes']} forced codes (≈ {audio_per_request:.1f} s of audio: "
        f"{SECONDS_PER_CODE[generation] * 1000:.0f} ms per code), "
        f"{report['num_beams']} beam(s), 25 flow-matching steps, prompt `{Path(report['prompt']).name}`",
        f"- official reference: {report['official_status']}",
        "",
        "## One request, stage by stage",
        "",
    ]
    if official:
        lines += [
            compare(ours, official),
            "",
            "Ratio above 1: ours is faster. Medians and minimums over the timed runs.",
        ]
    else:
        s = summary(ours, statistics.median)
        lines += [
            "| stage | ours, median |",
            "|---|---:|",
            *(
                f"| {CONTENT_STAGE[generation] if key == 'gpt_latent' else name} | {s[key]:.3f} s |"
                for name, key in ROWS
            ),
            f"| GPT codes/s | {report['codes'] / s['gpt_generate']:.1f} |",
            f"| RTF, cached prompt | {s['total_cached'] / s['audio_s']:.3f} |",
        ]
    lines += [
        "",
        "## The node under load",
        "",
        "N requests submitted at once to the serving core (validation, queue, continuous batching, WAV "
        "writing). TTFA: time from submitting to the first streamed segment (each request is one "
        "segment here, so it is also the request's latency when it runs alone).",
        "",
        "| requests at once | max_batch | batch_decode | decode_workers | wall | audio | audio s per s, ours "
        "| official (serial) | ours / official | latency p50 | latency p95 | latency max | TTFA p50 | TTFA min "
        "| CPU busy |",
        "|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    serial = official_rate(official) if official else None
    for level in report["levels"]:
        ref = f"{serial:.3f}" if serial else "—"
        ratio = f"{level['audio_per_s'] / serial:.2f}" if serial else "—"
        lines.append(
            f"| {level['requests']} | {level['max_batch']} | {level.get('batch_decode', '—')} "
            f"| {level.get('decode_workers', '0')} "
            f"| {level['wall_s']:.2f} s | {level['audio_s']:.1f} s | {level['audio_per_s']:.3f} | {ref} | {ratio} "
            f"| {level['latency_p50_s']:.2f} s | {level['latency_p95_s']:.2f} s | "
            f"{level['latency_max_s']:.2f} s | {level['first_audio_p50_s']:.3f} s | "
            f"{level['first_audio_min_s']:.3f} s | {busy(level)} |"
        )
    lines += [
        "",
        f"Peak memory of the load test: RSS {gib(report['memory']['peak_rss_bytes'])}, "
        f"GPU {gib(report['memory']['peak_gpu_bytes'])}.",
        "",
    ]
    return "\n".join(lines)


def plot(report: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        say("matplotlib is not installed: no plot (pip install -e '.[bench]')")
        return False
    ours, official = report["ours"], report["official"]
    keys = ("prompt_cached", "gpt_generate", "gpt_latent", "s2mel", "vocoder")
    labels = (
        "prompt",
        "GPT gen.",
        "GPT latent" if report.get("generation", "2") == "2" else "codec",
        "s2mel",
        "vocoder",
    )
    figure, (stages_ax, load_ax) = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.4
    xs = range(len(keys))
    a = summary(ours, statistics.median)
    stages_ax.bar([x - width / 2 for x in xs], [a[k] for k in keys], width, label="ours")
    if official:
        b = summary(official, statistics.median)
        stages_ax.bar([x + width / 2 for x in xs], [b[k] for k in keys], width, label="official")
    stages_ax.set_xticks(list(xs), labels)
    stages_ax.set_ylabel("seconds (median)")
    stages_ax.set_title(f"one request, {report['codes']} codes")
    stages_ax.legend()

    def mode_of(level: dict[str, Any]) -> str:
        return f"batch_decode {level.get('batch_decode', 'auto')}, decode_workers {level.get('decode_workers', '0')}"

    modes = list(dict.fromkeys(mode_of(level) for level in report["levels"]))
    for mode in modes:
        levels = [level for level in report["levels"] if mode_of(level) == mode]
        n = [level["requests"] for level in levels]
        label = "ours (continuous batching)" + (f", {mode}" if len(modes) > 1 else "")
        load_ax.plot(n, [level["audio_per_s"] for level in levels], "o-", label=label)
    if official:
        load_ax.plot(n, [official_rate(official)] * len(n), "s--", label="official (one at a time)")
    load_ax.set_xscale("log", base=2)
    load_ax.set_xticks(n, [str(x) for x in n])
    load_ax.set_ylim(bottom=0)
    load_ax.set_xlabel("requests at once")
    load_ax.set_ylabel("seconds of audio per second")
    load_ax.set_title("aggregate throughput")
    load_ax.legend()
    figure.suptitle(f"{report['tag']}: {report['machine']['device_name']}")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return True


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_average_start = os.getloadavg()[0]  # before the work: machine() runs after it
    if args.threads:
        torch.set_num_threads(args.threads)
    folder = args.cache_dir / f"checkpoint-{args.size}"
    say(f"checkpoint: {folder} (written if missing)")
    make_checkpoint(folder, args.size)
    with tempfile.TemporaryDirectory(prefix="node-bench-") as tmp:
        work = Path(tmp)
        ours, official, status = stage_reports(args, folder, work)
        levels, memory = node_under_load(args, folder, work)
    device = torch.device(ours["device"])
    info = machine(device) | {"load_average_start": load_average_start, "load_average_end": os.getloadavg()[0]}
    tag = args.tag or f"{device.type}-{args.size}-{args.dtype}"
    report = {
        "tag": tag,
        "argv": sys.argv[1:] if argv is None else argv,
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "size": args.size,
        "generation": generation_of(args.size),
        "codes": args.codes,
        "num_beams": args.num_beams,
        "dtype": args.dtype,
        "prompt": str(args.prompt),
        "machine": info,
        "official_status": status,
        "ours": ours,
        "official": official,
        "levels": levels,
        "memory": memory,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{tag}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    text = markdown(report)
    if plot(report, args.out / f"{tag}.png"):
        text += f"\n![ours vs official]({tag}.png)\n"
    (args.out / f"{tag}.md").write_text(text, encoding="utf-8")
    print(text)
    say(f"written: {args.out / tag}.md, .json{', .png' if (args.out / f'{tag}.png').is_file() else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
