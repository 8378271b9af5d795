"""Engine-level time to first audio: streaming off (the official segmentation, a whole first
segment) vs on (a short first segment, the vocoder in chunks), for a 3-sentence text.

    .venv/bin/python bench/ttfa_engine.py                      # tiny random checkpoint, CPU
    .venv/bin/python bench/ttfa_engine.py --size full --repeat 1 --num-beams 1 --no-total
    .venv/bin/python bench/ttfa_engine.py --size tiny-2.5 --language zh   # IndexTTS-2.5 (full-2.5 too)

TTFA here is `plan` (prompt, emotion, text) → the first samples in hand: `infer_stream`'s first
`SegmentAudio` (off) or `infer_chunks`' first `AudioChunk` (on), with warm prompt and normaliser
caches, as a serving node has them. The random-weight GPT never stops by itself, so segments are
cut at the demo's `SpeechLengthCap` (12 codes per text token; 6 for 2.5's 25 Hz codes), the
length the real model needs for such a text. 2.5 reads the text in `--language` (default en).
Per front door (HTTP, WebSocket, …) figures come from the doors' own bench.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch

from indextts.config import default_cache_dir
from indextts.factory import make_checkpoint
from indextts.length_cap import DEMO_SPEECH_LENGTH, DEMO_SPEECH_LENGTH_25
from indextts.pipeline import IndexTTS
from indextts.text.segmenter import DEFAULT_FIRST_SEGMENT_TOKENS

REPO = Path(__file__).resolve().parent.parent
VOICE = str(REPO / "examples" / "voice_01.wav")
TEXT = (
    "The library opens at nine in the morning, and closes at six. "
    "Visitors may borrow up to five books at a time, for three weeks. "
    "Please return them on time, so that others can read them too."
)
# The same three sentences, for a 2.5 request in another language (`--language` picks one).
TEXTS_25 = {
    "en": TEXT,
    "zh": "图书馆早上九点开门，晚上六点关门。每位读者一次最多可以借五本书，借期三周。请按时归还，让其他人也能阅读。",
    "ja": "図書館は朝九時に開き、夕方六時に閉まります。一度に五冊まで、三週間借りられます。"
    "ほかの人も読めるように、期限までに返してください。",
    "es": "La biblioteca abre a las nueve de la mañana, y cierra a las seis. Se pueden llevar hasta cinco libros "
    "a la vez, durante tres semanas. Devuélvanlos a tiempo, para que otros también puedan leerlos.",
}


def first_audio(run, whole: bool = True) -> tuple[float, float, float, object]:
    """Seconds to the first item of `run()` (wall and this thread's CPU), seconds to its end (wall;
    NaN when `whole` is off and the rest is skipped), and the first item."""
    started, cpu_started = time.perf_counter(), time.thread_time()
    items = run()
    first = next(items)
    ttfa, ttfa_cpu = time.perf_counter() - started, time.thread_time() - cpu_started
    if not whole:
        items.close()
        return ttfa, ttfa_cpu, float("nan"), first
    for _ in items:
        pass
    return ttfa, ttfa_cpu, time.perf_counter() - started, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=("tiny", "full", "tiny-2.5", "full-2.5"), default="tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--language", choices=sorted(TEXTS_25), default=None, help="2.5 only (default: en)")
    parser.add_argument("--text", default=None, help="default: the 3 sentences in --language")
    parser.add_argument("--first-segment-tokens", type=int, default=DEFAULT_FIRST_SEGMENT_TOKENS)
    parser.add_argument("--num-beams", type=int, default=3, help="GPT beams (official default 3)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (0: torch's choice). With 1, the CPU time to first audio is what an idle "
        "machine's wall time would be, and it holds on a shared one, where a 2-thread OpenMP team waits "
        "on its descheduled thread and wall times swing by 2x",
    )
    parser.add_argument("--no-total", action="store_true", help="stop each request at its first audio")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    v25 = args.size.endswith("-2.5")
    if args.language and not v25:
        parser.error("--language: IndexTTS-2 picks Chinese or English by itself (use --text)")
    language = (args.language or "en") if v25 else None
    text = args.text or TEXTS_25[language or "en"]

    model_dir = make_checkpoint(default_cache_dir() / "bench" / f"checkpoint-{args.size}", args.size)
    cap = DEMO_SPEECH_LENGTH_25 if v25 else DEMO_SPEECH_LENGTH
    tts = IndexTTS(model_dir, device=args.device, speech_length_cap=cap)
    settings = {"seed": 1, "num_beams": args.num_beams, **({"language": language} if v25 else {})}
    list(tts.infer_stream(VOICE, TEXTS_25[language or "en"][:12], **settings))  # prompt cache, normaliser, kernels

    def tokens(segment) -> int:  # text tokens (2.5 ids also hold the language prefix and a stop id)
        return len(segment.ids) - 1 - tts.models.frontend.tokenizer.count(f"<|{language}|> ") if v25 else len(segment)

    official = tts.split_segments(text, language=language)
    short = tts.split_segments(text, language=language, first_segment_tokens=args.first_segment_tokens)
    print(
        f"text ({language or 'auto'}): {len(text)} characters, official segments {[tokens(s) for s in official]} "
        f"tokens, streaming segments {[tokens(s) for s in short]} tokens"
    )
    modes = {
        "off": lambda: tts.infer_stream(VOICE, text, **settings),
        "on": lambda: tts.infer_chunks(VOICE, text, args.first_segment_tokens, **settings),
    }
    figures: dict[str, list[tuple[float, float, float, float]]] = {mode: [] for mode in modes}
    for _ in range(args.repeat):
        for mode, run in modes.items():  # alternated, so a load change hits both
            ttfa, ttfa_cpu, total, first = first_audio(run, whole=not args.no_total)
            figures[mode].append((ttfa, ttfa_cpu, total, first.samples.size / tts.sample_rate))
    load = os.getloadavg()[0]
    print(
        f"size {args.size}, device {args.device}, num_beams {args.num_beams}, torch threads "
        f"{torch.get_num_threads()}, {args.repeat} run(s) each, "
        f"load average {load:.1f} "
        f"on {os.cpu_count()} cores (shared machine)"
    )
    print("| streaming | TTFA s (median) | TTFA, CPU s | first audio piece s | whole request s |")
    print("|---|---|---|---|---|")
    for mode, rows in figures.items():
        ttfa, cpu, total = (statistics.median(r[k] for r in rows) for k in range(3))
        print(f"| {mode} | {ttfa:.2f} | {cpu:.2f} | {rows[0][3]:.2f} | {total:.2f} |")
    for k, what in ((0, "wall"), (1, "CPU")):
        ratio = statistics.median(r[k] for r in figures["on"]) / statistics.median(r[k] for r in figures["off"])
        print(f"TTFA on / off ({what}): {ratio:.2f}")


if __name__ == "__main__":
    main()
