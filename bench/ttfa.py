"""Time to first audio (TTFA) on every front door: request sent → first audio byte at the client.

    python bench/ttfa.py                         # tiny random-weight checkpoint on the CPU
    python bench/ttfa.py --size full             # full size (writes ~7 GB once, under --cache-dir)
    python bench/ttfa.py --doors openai-sse,ws-chunks --repeat 3
    python bench/ttfa.py --size full --doors openai-sse,ws-chunks --first-audio-only

One process runs a real node (the same app as `webui.py`: Web UI, REST, OpenAI, and the WebSocket
server on its own port) and talks to it as clients do, over HTTP and WebSocket on 127.0.0.1. For
each door it times the first audio the client receives and the whole request, twice:

- before: the request is made as before streaming existed (`SynthesisRequest.streaming` forced
  off, so the engine makes whole segments). The Web UI's "before" is its result file, since the
  page had no live player then.
- after: as the doors send it now (`streaming` on where the door streams).

With --first-audio-only the client stops at the first audio byte and the bench cancels the job on
the node (a full-size request takes minutes per segment on a CPU; the rest of it is not what TTFA
measures), so the total column is then the time until that first byte too.

The text has three sentences. Random weights never say "stop", so every segment is made exactly
as long as the demo's length cap gives its text (`indextts/length_cap.py`): the audio has the
length the real model would typically give it, and before/after compare the same work.
Timings are informative only (no test asserts them); on a shared machine, say so with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stages import stop_code_impossible

from indextts.config import default_cache_dir
from indextts.factory import make_checkpoint
from indextts.length_cap import DEMO_SPEECH_LENGTH
from indextts.pipeline import IndexTTS2
from serving.engine import LoadedEngine, single_threaded_torch
from serving.node import Node, NodeSettings

REPO = Path(__file__).resolve().parent.parent
TEXT = "今天的天气非常好，我们一起去公园散步吧。公园里的花都开了，红的黄的紫的，非常漂亮。走累了就坐在湖边休息一会儿。"
PROMPT = REPO / "examples" / "voice_01.wav"
DOORS = ("ui", "rest", "openai", "openai-audio", "openai-sse", "ws", "ws-segments", "ws-chunks")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--size", choices=("tiny", "full"), default="tiny", help="random-weight checkpoint size")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--doors", default=",".join(DOORS), help="comma-separated, from: " + ", ".join(DOORS))
    parser.add_argument("--modes", default="before,after", help="before (streaming off), after (on), or both")
    parser.add_argument("--repeat", type=int, default=1, help="runs per door and mode (the median is shown)")
    parser.add_argument("--text", default=TEXT, help="the text (three sentences by default)")
    parser.add_argument("--num-beams", type=int, default=3, help="beam width (3: the official default)")
    parser.add_argument("--seg-tokens", type=int, default=120, help="max text tokens per segment (the default)")
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir() / "bench", help="checkpoints live here")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument(
        "--first-audio-only",
        action="store_true",
        help="stop each request at its first audio byte (the bench cancels its job): TTFA without the rest",
    )
    args = parser.parse_args(argv)
    args.doors = [door.strip() for door in args.doors.split(",") if door.strip()]
    args.modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    unknown = [door for door in args.doors if door not in DOORS] + [
        m for m in args.modes if m not in ("before", "after")
    ]
    if unknown:
        parser.error(f"unknown door or mode: {', '.join(unknown)}")
    return args


def say(message: str) -> None:
    print(f"[ttfa {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the node, served as webui.py serves it --------------------------------------------------------


@contextmanager
def serve(node: Node) -> Iterator[tuple[str, str]]:
    """The node's app (UI + HTTP APIs) and its WebSocket server on free ports; yields their URLs."""
    import uvicorn

    from serving.stream_server import StreamServer
    from tests.api_servers import free_port
    from webui import build_app

    app = build_app(node)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    stream = StreamServer(node, "127.0.0.1", 0)
    stream.start()
    try:
        yield f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{stream.port}"
    finally:
        stream.close()
        server.should_exit = True
        thread.join(10)


@contextmanager
def streaming_forced_off(node: Node, off: bool) -> Iterator[None]:
    """ "before": every door's request reaches the queue with `streaming` off, as before it existed."""
    submit = node.submit
    if off:
        node.submit = lambda request, origin: submit(request.model_copy(update={"streaming": False}), origin)
    try:
        yield
    finally:
        node.submit = submit


# --- one request per door: (seconds to the first audio byte, seconds to the end) --------------------


class FirstAudio(Exception):
    """Raised by `Clock.audio` under --first-audio-only: the client stops reading (the bench cancels the job)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"first audio after {seconds:.2f} s")
        self.seconds = seconds


class Clock:
    first_only = False  # --first-audio-only

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first: float | None = None

    def audio(self) -> None:
        if self.first is None:
            self.first = time.perf_counter() - self.start
            if self.first_only:
                raise FirstAudio(self.first)

    def done(self) -> tuple[float, float]:
        total = time.perf_counter() - self.start
        return (self.first if self.first is not None else float("nan")), total


@dataclass(frozen=True)
class Ask:
    """What every door is asked: the same text, segmentation and decoding."""

    text: str
    seg_tokens: int
    num_beams: int
    before: bool

    def settings(self, seg_name: str = "max_text_tokens_per_segment") -> dict[str, Any]:
        return {seg_name: self.seg_tokens, "num_beams": self.num_beams, "seed": 1}


def _speech(ask: Ask, **extra: Any) -> dict[str, Any]:
    body = {"model": "tts-1", "input": ask.text, "voice": "alloy", "response_format": "pcm"}
    return body | ask.settings() | extra


def door_rest(http: str, ws: str, ask: Ask) -> tuple[float, float]:
    body = {"text": ask.text, "spk_audio": PROMPT.read_bytes().hex(), **ask.settings()}
    clock = Clock()
    with requests.post(f"{http}/tts", json=body, stream=True, timeout=3600) as response:
        response.raise_for_status()
        for chunk in response.iter_content(None):  # the JSON carries the audio: its first byte is the answer
            if chunk:
                clock.audio()
    return clock.done()


def _openai(http: str, body: dict[str, Any], sse: bool = False) -> tuple[float, float]:
    clock = Clock()
    with requests.post(f"{http}/v1/audio/speech", json=body, stream=True, timeout=3600) as response:
        response.raise_for_status()
        if sse:
            for line in response.iter_lines(decode_unicode=True):
                if line.startswith("data: ") and json.loads(line[6:]).get("type") == "speech.audio.delta":
                    clock.audio()
        else:
            for chunk in response.iter_content(None):
                if chunk:
                    clock.audio()
    return clock.done()


def door_openai(http: str, ws: str, ask: Ask) -> tuple[float, float]:
    return _openai(http, _speech(ask))


def door_openai_audio(http: str, ws: str, ask: Ask) -> tuple[float, float]:
    return _openai(http, _speech(ask, stream_format="audio"))


def door_openai_sse(http: str, ws: str, ask: Ask) -> tuple[float, float]:
    return _openai(http, _speech(ask, stream_format="sse"), sse=True)


def _websocket(ws: str, ask: Ask, **fields: Any) -> tuple[float, float]:
    from websockets.asyncio.client import connect

    async def go() -> tuple[float, float]:
        async with connect(ws, max_size=None) as socket:
            await socket.recv()  # the welcome
            message = {"type": "tts_stream", "text": ask.text, "prompt_audio": str(PROMPT.relative_to(REPO))}
            clock = Clock()
            await socket.send(json.dumps(message | ask.settings("max_tokens") | fields))
            async for frame in socket:
                if isinstance(frame, bytes):
                    clock.audio()
                elif json.loads(frame).get("type") in ("end", "error"):
                    return clock.done()
        raise RuntimeError("the WebSocket closed before the end frame")

    return asyncio.run(go())


def door_ws(http: str, ws: str, ask: Ask) -> tuple[float, float]:
    return _websocket(ws, ask)


def door_ws_segments(http: str, ws: str, ask: Ask) -> tuple[float, float]:
    return _websocket(ws, ask, stream=True)


def door_ws_chunks(http: str, ws: str, ask: Ask) -> tuple[float, float]:
    return _websocket(ws, ask, chunks=True, chunk_format="pcm")


def door_ui(http: str, ws: str, ask: Ask) -> tuple[float, float]:
    """The page's `generate` event through gradio_client: the first live chunk the page would play
    ("after"), or the result file (the page before it had a live player)."""
    from gradio_client import Client, handle_file

    from ui.handlers import SAMPLING_FIELDS

    sampling = {"do_sample": True, "temperature": 0.8, "top_p": 0.8, "top_k": 30, "num_beams": ask.num_beams}
    sampling |= {"repetition_penalty": 10.0, "length_penalty": 0.0, "max_mel_tokens": 1500, "interval_silence": 200}
    sampling |= {"seed": 1}
    inputs = ["zh", handle_file(str(PROMPT)), ask.text, "none", None, 0.65, *[0.0] * 8, "", False, ask.seg_tokens]
    inputs += [sampling[name] for name in SAMPLING_FIELDS]
    client = Client(http, verbose=False)
    clock = Clock()
    job = client.submit(*inputs, api_name="/generate")
    try:
        for live, result, _info in job:  # an output the event left alone arrives as {"__type__": "update"}
            if isinstance(result if ask.before else live, str):  # the live stream's playlist, or the file
                clock.audio()
    except FirstAudio:
        job.cancel()
        raise
    job.result()
    return clock.done()


RUN: dict[str, Callable[[str, str, Ask], tuple[float, float]]] = {
    "ui": door_ui,
    "rest": door_rest,
    "openai": door_openai,
    "openai-audio": door_openai_audio,
    "openai-sse": door_openai_sse,
    "ws": door_ws,
    "ws-segments": door_ws_segments,
    "ws-chunks": door_ws_chunks,
}
WHAT = {
    "ui": "Web UI (gradio_client): live player; before = the result file",
    "rest": "REST /tts (whole JSON)",
    "openai": "OpenAI, no streaming (whole file)",
    "openai-audio": 'OpenAI stream_format "audio" (pcm)',
    "openai-sse": 'OpenAI stream_format "sse" (pcm deltas)',
    "ws": "WebSocket, seed's default (one WAV)",
    "ws-segments": 'WebSocket "stream": true (WAV per segment)',
    "ws-chunks": 'WebSocket "chunks": true (pcm chunks)',
}


def one_request(node: Node, door: str, http: str, ws: str, ask: Ask) -> tuple[float, float]:
    """(TTFA, total) of one request; under --first-audio-only its job is cancelled at the first byte."""
    try:
        return RUN[door](http, ws, ask)
    except FirstAudio as first:
        for job in node.queue.jobs():
            node.queue.cancel(job.id, "bench: first audio received")
        for job in node.queue.jobs():
            node.queue.wait_finished(job, timeout=3600)  # the next request starts on an idle node
        return first.seconds, first.seconds


def table(rows: list[dict[str, Any]], modes: list[str]) -> str:
    head = "| door | " + " | ".join(f"TTFA {m} (s) | total {m} (s)" for m in modes)
    head += " | TTFA after/before |" if modes == ["before", "after"] else " |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for door in dict.fromkeys(row["door"] for row in rows):
        cells = [f"{WHAT[door]}"]
        figures = {row["mode"]: row for row in rows if row["door"] == door}
        for mode in modes:
            row = figures.get(mode)
            cells += [f"{row['ttfa_s']:.2f}", f"{row['total_s']:.2f}"] if row else ["–", "–"]
        if modes == ["before", "after"] and len(figures) == 2:
            cells.append(f"{figures['after']['ttfa_s'] / figures['before']['ttfa_s']:.2f}×")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    Clock.first_only = args.first_audio_only
    os.chdir(REPO)  # prompts are named relative to the node's folder, as clients of a node do
    folder = args.cache_dir / f"checkpoint-{args.size}"
    if not (folder / "config.yaml").exists():
        say(f"writing the {args.size} random-weight checkpoint into {folder} (once)")
        make_checkpoint(folder, args.size)
    with single_threaded_torch() as cpu_threads:  # as a node loads it: see serving/engine.py
        tts = IndexTTS2(folder, device=args.device, cache_dir=default_cache_dir(), speech_length_cap=DEMO_SPEECH_LENGTH)
    settings = NodeSettings(outputs_dir=args.cache_dir / "ttfa-outputs", allowed_dirs=(PROMPT.parent,))
    node = Node(LoadedEngine(tts, folder, True, "bench", 0.0, cpu_threads), settings)
    segments = len(tts.split_segments(args.text, args.seg_tokens))
    rows: list[dict[str, Any]] = []
    try:
        with stop_code_impossible(tts), serve(node) as (http, ws):
            say("warm-up request")
            warm = "openai-sse" if args.first_audio_only else "openai"  # streaming: its first audio comes soon
            one_request(node, warm, http, ws, Ask(args.text, args.seg_tokens, args.num_beams, False))
            for door in args.doors:
                for mode in args.modes:
                    ask = Ask(args.text, args.seg_tokens, args.num_beams, mode == "before")
                    with streaming_forced_off(node, ask.before):
                        runs = [one_request(node, door, http, ws, ask) for _ in range(args.repeat)]
                    ttfa, total = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
                    rows.append({"door": door, "mode": mode, "ttfa_s": ttfa, "total_s": total, "runs": runs})
                    say(f"{door:13s} {mode:6s} TTFA {ttfa:7.2f} s, total {total:7.2f} s")
    finally:
        node.close()
    print(
        f"\nTTFA, {args.size} random-weight checkpoint on {tts.device} · {len(args.text)} characters, "
        f"{segments} segment(s) at {args.seg_tokens} tokens, {args.num_beams} beam(s) · "
        f"median of {args.repeat} run(s)"
        f"{' · stopped at the first audio byte' if args.first_audio_only else ''}\n"
    )
    print(table(rows, args.modes))
    if args.json:
        args.json.write_text(json.dumps({"size": args.size, "device": str(tts.device), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
