"""Audio as it is made, on the streaming front doors: the WebSocket's opt-in chunk frames and the
OpenAI route's streamed audio and SSE deltas, against real servers on the real tiny pipeline. The
pieces carry their segment, chunk and text span, and joined they are the job's final audio."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
import requests
import soundfile as sf
from websockets.asyncio.client import connect

from serving.jobs import PartialAudio
from serving.parts import PiecePlacer, SegmentGatherer
from serving.stream_server import StreamServer
from tests.api_servers import FAST, http_server, make_node

PROMPT = "examples/voice_01.wav"
TEXT = "第一句话在这里说完了。第二句话也在这里说完。第三句话就到此为止。"
SEGMENTED = {**FAST, "max_text_tokens_per_segment": 20}  # three segments


@pytest.fixture(scope="module")
def node(engine, demo_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    node = make_node(engine, demo_dir, tmp_path_factory.mktemp("streaming"))
    yield node
    node.close()


@pytest.fixture(scope="module")
def ws_url(node):
    server = StreamServer(node, "127.0.0.1", 0)
    server.start()
    yield f"ws://127.0.0.1:{server.port}"
    server.close()


@pytest.fixture(scope="module")
def http_url(node):
    with http_server(node) as (url, _):
        yield url


def _ws_task(url: str, **fields) -> list:
    """Every frame after the welcome up to the task's end (or error), in order."""

    async def go():
        message = {"type": "tts_stream", "text": TEXT, "prompt_audio": PROMPT, **FAST, "max_tokens": 20, **fields}
        async with connect(url, max_size=None) as ws:
            await ws.recv()
            await ws.send(json.dumps(message, ensure_ascii=False))
            frames = []
            async for frame in ws:
                frames.append(frame if isinstance(frame, bytes) else json.loads(frame))
                if isinstance(frames[-1], dict) and (frames[-1].get("type") in ("end", "error")):
                    return frames
        raise AssertionError(f"the connection closed early: {frames}")

    return asyncio.run(asyncio.wait_for(go(), 300))


def _check_places(announced: list[dict], text: str, total: int) -> None:
    """Pieces in order, back to back, covering the whole audio; spans inside the text when given."""
    assert [a["offset"] for a in announced] == [0, *np.cumsum([a["samples"] for a in announced])[:-1].tolist()]
    assert sum(a["samples"] for a in announced) == total
    assert [a["segment"] for a in announced] == sorted(a["segment"] for a in announced)
    assert announced[-1]["segment"] == announced[-1]["segments"] - 1 and announced[-1]["last_in_segment"]
    for a in announced:
        assert a["text"].strip() and (a["silence"] > 0) == (a["segment"] > 0 and a["chunk"] == 0)
        if a["span"] is not None:  # the engine fills spans where it can tell them
            start, end = a["span"]
            assert 0 <= start < end <= len(text)


@pytest.mark.parametrize("chunk_format", ["wav", "pcm"])
def test_websocket_chunks_announce_each_piece_and_join_to_the_final_audio(ws_url, node, chunk_format):
    frames = _ws_task(ws_url, chunks=True, chunk_format=chunk_format)
    assert [f["type"] for f in frames[:2]] == ["queued", "start"] and frames[-1]["type"] == "end"
    body = frames[2:-1]
    announced, audio = body[0::2], body[1::2]
    assert all(isinstance(a, dict) and a["type"] == "chunk" for a in announced)
    assert all(isinstance(b, bytes) and len(b) == a["bytes"] for a, b in zip(announced, audio, strict=True))
    assert {a["format"] for a in announced} == {chunk_format} and {a["sample_rate"] for a in announced} == {22050}
    if chunk_format == "wav":
        samples = [sf.read(io.BytesIO(b), dtype="int16")[0] for b in audio]
    else:
        samples = [np.frombuffer(b, "<i2") for b in audio]
    job = node.queue.get(frames[-1]["task_id"])
    assert job.payload.request.streaming
    joined = np.concatenate(samples)
    np.testing.assert_array_equal(joined, job.result.audio)
    assert frames[-1]["segments"] == announced[-1]["segments"] >= 3
    _check_places(announced, TEXT, joined.size)


def test_websocket_default_and_stream_flows_are_unchanged(ws_url, node):
    whole = _ws_task(ws_url)
    assert [type(f).__name__ if isinstance(f, bytes) else f["type"] for f in whole] == [
        "queued",
        "start",
        "bytes",
        "end",
    ]
    assert not node.queue.get(whole[-1]["task_id"]).payload.request.streaming  # the seed's flow: no change asked
    per_segment = _ws_task(ws_url, stream=True)
    wavs = [f for f in per_segment if isinstance(f, bytes)]
    assert all(isinstance(f, dict) for f in per_segment if not isinstance(f, bytes))  # no chunk frames
    assert len(wavs) == per_segment[-1]["segments"] >= 3
    assert node.queue.get(per_segment[-1]["task_id"]).payload.request.streaming


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"chunks": "yes"}, "chunks"),
        ({"chunks": True, "chunk_format": "mp3"}, "chunk_format"),
        ({"chunkz": True}, "chunkz"),
    ],
)
def test_websocket_chunk_fields_are_checked(ws_url, fields, field):
    frames = _ws_task(ws_url, **fields)
    assert frames[-1]["status"] == "error" and frames[-1]["field"] == field
    assert frames[-1]["message"].startswith(f"{field}:")


def _sse(url: str, **body) -> list[dict]:
    body = {"input": TEXT, "voice": "nova", "stream_format": "sse", **SEGMENTED, **body}
    with requests.post(f"{url}/v1/audio/speech", json=body, stream=True, timeout=300) as response:
        assert response.status_code == 200
        return [json.loads(line[6:]) for line in response.iter_lines(decode_unicode=True) if line.startswith("data: ")]


def test_sse_deltas_carry_segment_chunk_span_and_times(http_url, node):
    events = _sse(http_url, response_format="pcm")
    deltas, done = events[:-1], events[-1]
    assert done["type"] == "speech.audio.done" and {d["type"] for d in deltas} == {"speech.audio.delta"}
    job = next(j for j in reversed(node.queue.jobs()) if j.origin == "openai")
    assert job.payload.request.streaming
    assert len(deltas) == len(job.parts) and deltas[-1]["segments"] >= 3
    pcm = [np.frombuffer(base64.b64decode(d["audio"]), "<i2") for d in deltas]
    for delta, samples in zip(deltas, pcm, strict=True):
        assert delta["end_time"] - delta["start_time"] == pytest.approx(samples.size / 24000, abs=0.002)
        assert delta["text"].strip() and set(delta) >= {"segment", "chunk", "span", "last_in_segment"}
    assert [d["start_time"] for d in deltas[1:]] == [d["end_time"] for d in deltas[:-1]]
    assert sum(p.size for p in pcm) / 24000 == pytest.approx(job.result.duration, abs=0.01)


def test_stream_true_streams_raw_audio_and_plain_requests_do_not_ask_for_streaming(http_url, node):
    body = {"input": TEXT, "voice": "nova", "response_format": "wav", **SEGMENTED}
    with requests.post(f"{http_url}/v1/audio/speech", json=body | {"stream": True}, stream=True, timeout=300) as r:
        streamed = b"".join(r.iter_content(None))
    job = next(j for j in reversed(node.queue.jobs()) if j.origin == "openai")
    assert job.payload.request.streaming
    assert streamed[:4] == b"RIFF" and streamed[40:44] == b"\xff\xff\xff\xff"  # the streaming header
    np.testing.assert_array_equal(np.frombuffer(streamed[44:], "<i2"), job.result.audio)
    plain = requests.post(f"{http_url}/v1/audio/speech", json=body, timeout=300)
    assert plain.status_code == 200
    assert not next(j for j in reversed(node.queue.jobs()) if j.origin == "openai").payload.request.streaming
    refused = requests.post(f"{http_url}/v1/audio/speech", json=body | {"stream": "yes"}, timeout=30)
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "stream"


def _chunked(index: int, count: int, sizes: list[int], rate: int = 1000) -> list[PartialAudio]:
    """A segment cut into chunks, as in-segment streaming emits it (values tell the chunks apart)."""
    return [
        PartialAudio(
            index,
            count,
            f"segment {index}",
            rate,
            np.full(size, 10 * index + n, np.int16),
            (10 * index, 10 * index + 9),
            n,
            n == len(sizes) - 1,
        )
        for n, size in enumerate(sizes)
    ]


def test_chunks_of_a_segment_place_and_gather_like_whole_segments():
    parts = _chunked(0, 2, [3, 2]) + _chunked(1, 2, [4, 1, 2])
    placer = PiecePlacer(interval_silence_ms=5)  # 5 samples at 1 kHz
    placed = [placer.place(part) for part in parts]
    assert [p.silence for p in placed] == [0, 0, 5, 0, 0]  # only before the second segment's first chunk
    assert [p.offset for p in placed] == [0, 3, 5, 14, 15]
    gatherer = SegmentGatherer()
    segments = [s for s in (gatherer.add(part) for part in parts) if s is not None]
    assert [s.index for s in segments] == [0, 1] and gatherer.flush() is None
    assert segments[1].audio.tolist() == [10] * 4 + [11] + [12] * 2 and segments[1].span == (10, 19)
    assert np.concatenate([p.audio for p in placed]).size == 3 + 2 + 5 + 4 + 1 + 2
    cut_short = SegmentGatherer()
    assert cut_short.add(parts[2]) is None and cut_short.flush().audio.size == 4  # a job stopped mid-segment
