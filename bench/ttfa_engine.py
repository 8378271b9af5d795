"""Engine-level time to first audio: streaming off (the official segmentation, a whole first
segment) vs on (a short first segment, the vocoder in chunks), for a 3-sentence text.

    .venv/bin/python bench/ttfa_engine.py                      # tiny random checkpoint, CPU
    .venv/bin/python bench/ttfa_engine.py --size full --repeat 1 --no-total

TTFA here is `plan` (prompt, emotion, text) → the first samples in hand: `infer_stream`'s first
`SegmentAudio` (off) or `infer_chunks`' first `AudioChunk` (on), with warm prompt and normaliser
caches, as a serving node has them. The random-weight GPT never stops by itself, so segments are
cut at the demo's `SpeechLengthCap` (12 codes per text token), the length the real model needs
for such a text. Per front door (HTTP, WebSocket, …) figures come from the doors' own bench.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from indextts.config import default_cache_dir
from indextts.factory import make_checkpoint
from indextts.length_cap import SpeechLengthCap
from indextts.pipeline import IndexTTS2
from indextts.text.segmenter import DEFAULT_FIRST_SEGMENT_TOKENS

REPO = Path(__file__).resolve().parent.parent
VOICE = str(REPO / "examples" / "voice_01.wav")
TEXT = (
    "The library opens at nine in the morning, and closes at six. "
    "Visitors may borrow up to five books at a time, for three weeks. "
    "Please return them on time, so that others can read them too."
)


def first_audio(run) -> tuple[float, float, object]:
    """Seconds to the first item of `run()`, seconds to its end, and the first item."""
    started = time.perf_counter()
    items = run()
    first = next(items)
    ttfa = time.perf_counter() - started
    for _ in items:
        pass
    return ttfa, time.perf_counter() - started, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=("tiny", "full"), default="tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--text", default=TEXT)
    parser.add_argument("--first-segment-tokens", type=int, default=DEFAULT_FIRST_SEGMENT_TOKENS)
    parser.add_argument("--num-beams", type=int, default=3, help="GPT beams (official default 3)")
    args = parser.parse_args()

    model_dir = make_checkpoint(default_cache_dir() / "bench" / f"checkpoint-{args.size}", args.size)
    tts = IndexTTS2(model_dir, device=args.device, speech_length_cap=SpeechLengthCap())
    settings = {"seed": 1, "num_beams": args.num_beams}
    list(tts.infer_stream(VOICE, "Warm up.", **settings))  # prompt cache, normaliser, kernels

    official = tts.split_segments(args.text)
    short = tts.split_segments(args.text, first_segment_tokens=args.first_segment_tokens)
    print(
        f"text: {len(args.text)} characters, official segments {[len(s) for s in official]} tokens, "
        f"streaming segments {[len(s) for s in short]} tokens"
    )
    modes = {
        "off": lambda: tts.infer_stream(VOICE, args.text, **settings),
        "on": lambda: tts.infer_chunks(VOICE, args.text, args.first_segment_tokens, **settings),
    }
    figures: dict[str, list[tuple[float, float, float]]] = {mode: [] for mode in modes}
    for _ in range(args.repeat):
        for mode, run in modes.items():  # alternated, so a load change hits both
            ttfa, total, first = first_audio(run)
            figures[mode].append((ttfa, total, first.samples.size / tts.sample_rate))
    load = os.getloadavg()[0]
    print(
        f"size {args.size}, device {args.device}, num_beams {args.num_beams}, {args.repeat} run(s) each, "
        f"load average {load:.1f} "
        f"on {os.cpu_count()} cores (shared machine)"
    )
    print("| streaming | TTFA s (median) | first audio piece s | whole request s |")
    print("|---|---|---|---|")
    for mode, rows in figures.items():
        ttfa = statistics.median(r[0] for r in rows)
        total = statistics.median(r[1] for r in rows)
        print(f"| {mode} | {ttfa:.2f} | {rows[0][2]:.2f} | {total:.2f} |")
    ratio = statistics.median(r[0] for r in figures["on"]) / statistics.median(r[0] for r in figures["off"])
    print(f"TTFA on / off: {ratio:.2f}")


if __name__ == "__main__":
    main()
