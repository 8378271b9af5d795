"""Engine-level time to first audio: streaming off (the official segmentation, a whole first
segment) vs on (a short first segment, the vocoder in chunks), for a 3-sentence text.

    .venv/bin/python bench/ttfa_engine.py                      # tiny random checkpoint, CPU
    .venv/bin/python bench/ttfa_engine.py --size full --repeat 1 --num-beams 1
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
    parser.add_argument("--size", choices=("tiny", "full", "tiny-2.5", "full-2.5"), default="tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--language", choices=sorted(TEXTS_25), default=None, help="2.5 only (default: en)")
    parser.add_argument("--text", default=None, help="default: the 3 sentences in --language")
    parser.add_argument("--first-segment-tokens", type=int, default=DEFAULT_FIRST_SEGMENT_TOKENS)
    parser.add_argument("--num-beams", type=int, default=3, help="GPT beams (official default 3)")
    args = parser.parse_args()
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
