"""How long the demo takes to answer: every example sentence through `webui.py --demo`'s engine and queue.

    .venv/bin/python bench/demo_bench.py [--cases N] [--text "你好，欢迎使用。" …] [--uncapped]

Builds the node exactly as `python webui.py --demo` does (its flags, `load_engine`, `Node`), then
sends each line of `examples/cases.jsonl` the way the page's Generate button does (the UI's request
builder, its default settings) one after another, after one warm-up request, and prints per
sentence: text tokens, segments, seconds of audio, the wall time from submit to the finished WAV and
the CPU seconds spent. `--text` adds sentences of your own (read with `examples/voice_01.wav`);
`--uncapped` also runs the first sentence without the demo's speech length cap, to show what the
cap saves.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from serving.engine import load_engine  # noqa: E402
from serving.jobs import Job, JobState  # noqa: E402
from serving.node import Node  # noqa: E402
from serving.options import engine_options, node_settings  # noqa: E402
from serving.request import EMOTION_COUNT, EmotionMode, parse_request  # noqa: E402
from ui.examples import ExampleCase, load_cases  # noqa: E402
from ui.handlers import UiHandlers  # noqa: E402
from webui import EXAMPLES_FILE, parse_args  # noqa: E402

UI_DEFAULTS = {  # the page's advanced settings as it opens (see ui/layout.py)
    "do_sample": True,
    "temperature": 0.8,
    "top_p": 0.8,
    "top_k": 30,
    "num_beams": 3,
    "repetition_penalty": 10.0,
    "length_penalty": 0.0,
    "max_mel_tokens": 1500,
    "interval_silence": 200,
    "seed": 0,
}


def run_case(node: Node, handlers: UiHandlers, case: ExampleCase) -> tuple[Job, float, float]:
    """(the finished job, wall seconds, CPU seconds of this process) from submit to the WAV.

    On a shared machine the wall time depends on the neighbours; the CPU seconds do not, and on an
    otherwise idle machine the wall time is at most that (torch spreads them over the cores).
    """
    fields = handlers.build_request(
        case.prompt_audio,
        case.text,
        case.emo_mode.value,
        case.emo_audio,
        case.emo_weight,
        list(case.emo_vector),
        case.emo_text,
        False,
        120,
        dict(UI_DEFAULTS),
        "en",
    )
    started, cpu = time.perf_counter(), time.process_time()
    job = node.submit(parse_request(fields), origin="bench")
    node.queue.wait_finished(job, timeout=3600)
    return job, time.perf_counter() - started, time.process_time() - cpu


def row(node: Node, case: ExampleCase, job: Job, wall: float) -> str:
    if job.state is not JobState.COMPLETED or job.result is None:
        return f"| {case.label('en')} | failed: {job.error} |"
    segments = node.engine.split_segments(case.text, 120)
    tokens = sum(len(s.ids) for s in segments)
    duration = job.result.audio.shape[0] / job.result.sample_rate
    label = case.label("en").replace("|", "/")
    return f"| {label} | {tokens} | {len(segments)} | {duration:.2f} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uncapped", action="store_true", help="also time the first sentence without the cap")
    parser.add_argument("--cases", type=int, default=0, help="only the first N example lines (0 = all)")
    parser.add_argument("--text", action="append", default=[], help="one more sentence (voice_01.wav); repeatable")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory() as outputs:
        webui_args = parse_args(["--demo", "--outputs_dir", outputs, "--allowed_dirs", str(EXAMPLES_FILE.parent)])
        started = time.perf_counter()
        loaded = load_engine(engine_options(webui_args))
        node = Node(loaded, node_settings(webui_args))
        print(f"demo engine ready in {time.perf_counter() - started:.1f} s ({loaded.device}, {loaded.dtype})")
        print(f"speech length cap: {loaded.engine.speech_length_cap}")
        print(f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f} at the start")
        handlers = UiHandlers(node)
        cases = load_cases(EXAMPLES_FILE)[: args.cases or None]
        voice = str(EXAMPLES_FILE.parent / "voice_01.wav")
        silent = (0.0,) * EMOTION_COUNT
        cases += [ExampleCase(voice, line, EmotionMode.NONE, None, 0.65, silent, "") for line in args.text]
        try:
            # One warm-up request pays for first calls; each sentence's own voice is analysed in its run.
            _, warm, _ = run_case(node, handlers, cases[0])
            print(f"warm-up request: {warm:.2f} s")
            print("\n| example | text tokens | segments | audio s | wall s | CPU s |")
            print("|---|---:|---:|---:|---:|---:|")
            walls, cpus = [], []
            for case in cases:
                job, wall, cpu = run_case(node, handlers, case)
                walls.append(wall)
                cpus.append(cpu)
                print(f"{row(node, case, job, wall)} {wall:.2f} | {cpu:.2f} |", flush=True)
            print(f"load average {os.getloadavg()[0]:.2f} at the end")
            print(f"wall: mean {sum(walls) / len(walls):.2f} s, max {max(walls):.2f} s")
            print(f"CPU: mean {sum(cpus) / len(cpus):.2f} s, max {max(cpus):.2f} s over {len(cpus)} sentences")
            if args.uncapped:
                loaded.engine.speech_length_cap = None
                job, wall, cpu = run_case(node, handlers, cases[0])
                print("\nwithout the cap (the GPT runs to max_mel_tokens 1500):")
                print(f"{row(node, cases[0], job, wall)} {wall:.2f} | {cpu:.2f} |")
        finally:
            node.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
