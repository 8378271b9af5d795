"""The WebSocket streaming protocol with the `websockets` client against a real StreamServer on a
free port and the real tiny pipeline."""

from __future__ import annotations

import asyncio
import io
import json
import re
from datetime import datetime
from pathlib import Path

import pytest
import soundfile as sf
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from serving.auth import ApiKey
from serving.stream_server import StreamServer
from tests.api_servers import FAST, make_node

PROMPT = "examples/voice_01.wav"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def node(engine, demo_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    node = make_node(engine, demo_dir, tmp_path_factory.mktemp("stream"))
    yield node
    node.close()


@pytest.fixture(scope="module")
def server(node):
    server = StreamServer(node, "127.0.0.1", 0, max_pending_per_connection=2)
    server.start()
    yield f"ws://127.0.0.1:{server.port}"
    server.close()


def _request(**fields) -> str:
    return json.dumps({"type": "tts_stream", "text": "你好。", "prompt_audio": PROMPT, **FAST, **fields})


async def _until(ws, wanted: str) -> tuple[list, dict]:
    """Frames up to and including the first JSON message of type `wanted` (or an error)."""
    seen = []
    async for message in ws:
        if isinstance(message, bytes):
            seen.append(message)
            continue
        data = json.loads(message)
        seen.append(data)
        if data.get("type") == wanted or data.get("status") == "error":
            return seen, data
    raise AssertionError(f"connection closed before {wanted}: {seen}")


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 300))


def test_the_seed_client_flow_works_unchanged(server: str):
    async def seed_client() -> tuple[int, int]:
        request = {
            "type": "tts_stream",
            "text": "今天天气很好。",
            "prompt_audio": PROMPT,
            "emo_mode": "none",
            "interval_silence": 200,
            "max_tokens": 120,
            "use_random": False,
            **FAST,
        }
        segments, sample_rate = [], 0
        async with connect(server, max_size=None) as ws:
            await ws.recv()  # welcome
            await ws.send(json.dumps(request, ensure_ascii=False))
            async for msg in ws:
                if isinstance(msg, bytes):
                    audio, sample_rate = sf.read(io.BytesIO(msg), dtype="int16")
                    segments.append(audio)
                else:
                    data = json.loads(msg)
                    if data.get("type") == "end":
                        break
                    assert data.get("status") != "error", data
        return sum(len(s) for s in segments), sample_rate

    samples, rate = run(seed_client())
    assert rate == 22050 and samples > 0


def test_messages_arrive_in_order_with_task_and_session_ids(server: str):
    async def go():
        async with connect(server) as ws:
            welcome = json.loads(await ws.recv())
            await ws.send(_request(emo_mode="vector", emo_vector=[0, 0, 0.6, 0, 0, 0, 0, 0]))
            frames, end = await _until(ws, "end")
            return welcome, frames, end

    welcome, frames, end = run(go())
    assert welcome["status"] == "success" and welcome["message"] == "已连接到 IndexTTS WebSocket"
    assert welcome["usage"].startswith('发送 {"type":"tts_stream"') and welcome["sample_rate"] == 22050
    assert UUID.fullmatch(welcome["session_id"])
    kinds = [frame["type"] if isinstance(frame, dict) else "binary" for frame in frames]
    assert kinds == ["queued", "start", "binary", "end"]
    messages = [frame["message"] for frame in frames if isinstance(frame, dict)]
    assert messages == ["任务已加入队列，等待处理", "开始生成音频", "生成完成"]
    task_ids = {frame["task_id"] for frame in frames if isinstance(frame, dict)}
    sessions = {frame["session_id"] for frame in frames if isinstance(frame, dict)}
    assert len(task_ids) == 1 and sessions == {welcome["session_id"]}
    assert UUID.fullmatch(task_ids.pop())
    audio, rate = sf.read(io.BytesIO(frames[2]), dtype="int16")
    assert rate == 22050 and end["duration"] == pytest.approx(len(audio) / rate, abs=1e-3)
    assert end["rtf"] > 0 and end["segments"] == 1


def test_stream_true_sends_one_wav_per_segment(server: str):
    async def go():
        async with connect(server) as ws:
            await ws.recv()
            text = "第一句话在这里说完了。第二句话也在这里说完。"
            await ws.send(_request(text=text, max_tokens=20, stream=True))
            return await _until(ws, "end")

    frames, end = run(go())
    wavs = [frame for frame in frames if isinstance(frame, bytes)]
    assert len(wavs) == end["segments"] >= 2
    assert all(sf.info(io.BytesIO(wav)).samplerate == 22050 for wav in wavs)


def test_task_status_reports_each_state(server: str):
    async def go():
        async with connect(server) as ws:
            await ws.recv()
            await ws.send(_request(text="第一个任务。"))
            await ws.send(_request(text="第二个任务。"))
            first = json.loads(await ws.recv())
            states = {}
            for _ in range(40):
                message = await ws.recv()
                if isinstance(message, bytes):
                    continue
                data = json.loads(message)
                if data.get("type") == "queued" and data["task_id"] != first["task_id"]:
                    await ws.send(json.dumps({"type": "task_status", "task_id": data["task_id"]}))
                if data.get("type") == "task_status":
                    states["second"] = data
                if data.get("type") == "end" and data["task_id"] == first["task_id"]:
                    await ws.send(json.dumps({"type": "task_status", "task_id": first["task_id"]}))
                    _, done = await _until(ws, "task_status")
                    states["first"] = done
                    break
            await ws.send(json.dumps({"type": "task_status", "task_id": "nope"}))
            _, unknown = await _until(ws, "task_status")
            return states, unknown

    states, unknown = run(go())
    second, first = states["second"], states["first"]
    assert second["status"] in ("pending", "running") and second["completed_at"] is None
    assert first["status"] == "completed" and first["error_message"] is None
    # The seed's form: 2024-11-04T10:30:00.123456
    stamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}")
    assert stamp.fullmatch(first["created_at"]) and stamp.fullmatch(first["completed_at"])
    created, completed = (datetime.fromisoformat(first[key]) for key in ("created_at", "completed_at"))
    assert created <= completed and abs((datetime.now() - completed).total_seconds()) < 300
    assert unknown["status"] == "error" and "unknown task_id" in unknown["message"] and unknown["field"] == "task_id"


# The seed's error table, word for word: the whole message is the seed's text.
SEED_ERRORS = [
    (_request(text="  "), "缺少有效的 text", "text"),
    (_request(text=None), "缺少有效的 text", "text"),
    (_request(emo_mode="happy"), "emo_mode 必须是 none/audio/vector/text", "emo_mode"),
    (_request(emo_mode="audio"), "情感参考音频模式需要提供 emo_audio", "emo_audio"),
    (_request(emo_mode="vector"), "情感向量模式需要提供 emo_vector", "emo_vector"),
    (_request(emo_mode="text"), "情感文本引导模式需要提供 emo_text", "emo_text"),
]
# Cases the table does not list: the message names the field.
OTHER_ERRORS = [
    ("{not json", "not valid JSON", "message"),
    (json.dumps({"type": "dance"}), "unknown message type", "type"),
    (_request(prompt_audio=""), "prompt_audio", "prompt_audio"),
    (_request(prompt_audio="../../etc/passwd"), "prompt_audio", "prompt_audio"),
    (_request(prompt_audio="examples/missing.wav"), "prompt_audio", "prompt_audio"),
    (_request(prompt_audio="ftp://example.com/x.wav"), "prompt_audio", "prompt_audio"),
    (_request(emo_mode="vector", emo_vector=[1, 2]), "emo_vector", "emo_vector"),
    (_request(max_tokens=5), "max_tokens", "max_tokens"),
    (_request(tempreature=0.5), "tempreature: unknown field", "tempreature"),
    (_request(top_k=True), "top_k: must be a number, not true", "top_k"),
    (_request(interval_silence="200"), "interval_silence: must be a number", "interval_silence"),
    (_request(use_random=1), "use_random", "use_random"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply", "message"),
    ('{"type": "tts_stream", "text": ' + "[" * 500 + "]" * 500 + "}", "缺少有效的 text", "text"),
    (b"\xff\xfe{not utf-8}", "not UTF-8", "message"),
]


async def _error_then_synthesis(server: str, message: str | bytes):
    async with connect(server) as ws:
        await ws.recv()
        await ws.send(message)
        _, failure = await _until(ws, "never")
        await ws.send(_request())
        _, end = await _until(ws, "end")
        return failure, end


@pytest.mark.parametrize(("message", "text", "field"), SEED_ERRORS)
def test_the_seed_error_table_texts(server: str, message: str, text: str, field: str):
    failure, end = run(_error_then_synthesis(server, message))
    assert failure["status"] == "error" and failure["message"] == text and failure["field"] == field
    assert UUID.fullmatch(failure["session_id"]) and failure["task_id"] is None
    assert end["type"] == "end"


@pytest.mark.parametrize(("message", "words", "field"), OTHER_ERRORS)
def test_each_error_case_gets_an_error_frame_and_the_connection_keeps_working(
    server: str, message: str | bytes, words: str, field: str
):
    failure, end = run(_error_then_synthesis(server, message))
    assert failure["status"] == "error" and words in failure["message"] and failure["session_id"]
    assert failure["field"] == field
    assert end["type"] == "end"


def test_a_text_frame_that_is_not_utf8_gets_an_error_and_the_running_task_finishes(server: str):
    """The bytes go out as a *text* frame (RFC 6455 says text is UTF-8; some clients break that)."""

    async def go():
        async with connect(server) as ws:
            await ws.recv()
            await ws.send(_request(text="坏消息来的时候，这个任务还在运行。"))
            queued = json.loads(await ws.recv())
            await ws.send(b'{"type": "\xff"}', text=True)  # sent before the task ends
            _, failure = await _until(ws, "never")
            _, end = await _until(ws, "end")
            return queued, failure, end

    queued, failure, end = run(go())
    assert "not UTF-8" in failure["message"] and failure["field"] == "message"
    assert end["task_id"] == queued["task_id"]


def test_json_in_a_binary_frame_is_read_like_text(server: str):
    async def go():
        async with connect(server) as ws:
            await ws.recv()
            await ws.send(_request().encode())
            return await _until(ws, "end")

    _, end = run(go())
    assert end["type"] == "end"


def test_five_clients_at_once_all_complete(server: str):
    async def one(index: int):
        async with connect(server) as ws:
            await ws.recv()
            await ws.send(_request(text=f"第{index}位客户。", seed=index))
            return (await _until(ws, "end"))[1]

    async def go():
        return await asyncio.gather(*(one(i) for i in range(5)))

    ends = run(go())
    assert [end["type"] for end in ends] == ["end"] * 5
    assert len({end["task_id"] for end in ends}) == 5


def test_a_client_that_leaves_cancels_its_waiting_tasks(server: str, node):
    async def go():
        async with connect(server) as ws:
            await ws.recv()
            await ws.send(_request(text="正在运行的任务，" * 4, max_mel_tokens=200))
            await ws.send(_request(text="等待中的任务。"))
            queued = []
            while len(queued) < 2:
                data = json.loads(await ws.recv())
                if data.get("type") == "queued":
                    queued.append(data["task_id"])
        return queued

    running_id, waiting_id = run(go())
    waiting = node.queue.get(waiting_id)
    node.queue.wait_finished(node.queue.get(running_id), timeout=120)
    assert waiting.state.value == "cancelled"


def test_the_pending_limit_per_connection(server: str):
    async def go():
        async with connect(server) as ws:
            await ws.recv()
            for index in range(4):
                await ws.send(_request(text=f"任务{index}。", max_mel_tokens=120))
            errors, ends = [], 0
            async for message in ws:
                if isinstance(message, bytes):
                    continue
                data = json.loads(message)
                errors += [data] if data.get("status") == "error" else []
                ends += data.get("type") == "end"
                if ends + len(errors) == 4:
                    return errors

    errors = run(go())
    assert errors and all("already waiting on this connection" in error["message"] for error in errors)


def test_the_api_key_is_checked_at_the_handshake(node):
    server = StreamServer(node, "127.0.0.1", 0, api_key=ApiKey("k3y"))
    server.start()
    url = f"ws://127.0.0.1:{server.port}"

    async def go():
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url):
                pass
        async with connect(url, additional_headers={"Authorization": "Bearer k3y"}) as ws:
            by_header = json.loads(await ws.recv())
        async with connect(url + "/?token=k3y") as ws:
            by_query = json.loads(await ws.recv())
        return refused.value.response.status_code, by_header, by_query

    try:
        status, by_header, by_query = run(go())
    finally:
        server.close()
    assert status == 401 and by_header["type"] == by_query["type"] == "welcome"


def test_emo_alpha_defaults_to_the_seeds_one(server: str, node):
    async def go():
        async with connect(server) as ws:
            await ws.recv()
            await ws.send(_request(emo_mode="vector", emo_vector=[0, 0, 0.5, 0, 0, 0, 0, 0]))
            _, end = await _until(ws, "end")
            await ws.send(_request(emo_mode="vector", emo_vector=[0, 0, 0.5, 0, 0, 0, 0, 0], emo_alpha=0.3))
            _, second = await _until(ws, "end")
            return end["task_id"], second["task_id"]

    default, given = run(go())
    assert node.queue.get(default).payload.request.emo_alpha == 1.0
    assert node.queue.get(given).payload.request.emo_alpha == 0.3


def test_a_burst_of_garbage_frames_each_get_an_error_while_a_task_runs(server: str):
    """Random bytes, random JSON values and broken UTF-8, as text and binary frames, on one connection."""
    import random

    chooser = random.Random(16)
    junk: list[tuple[bytes, bool]] = []
    for index in range(60):
        kind = index % 4
        if kind == 0:
            data = bytes(chooser.randrange(256) for _ in range(chooser.randrange(1, 200)))
        elif kind == 1:
            data = json.dumps(chooser.choice([None, 3, "x", [], [1, {"a": []}], {"type": None}, {"type": 7}])).encode()
        elif kind == 2:
            data = b'{"type": "tts_stream", "text": "' + bytes([0xC3, 0x28]) + b'"}'
        else:
            data = ("[" * chooser.randrange(1000, 50_000)).encode()
        junk.append((data, chooser.random() < 0.5))

    async def go():
        async with connect(server) as ws:
            await ws.recv()
            await ws.send(_request(text="垃圾消息来的时候，这个任务还在排队或运行。"))
            for data, as_text in junk:
                await ws.send(data, text=as_text)
            errors, end = 0, None
            async for message in ws:
                if isinstance(message, bytes):
                    continue
                frame = json.loads(message)
                errors += frame.get("status") == "error"
                if frame.get("type") == "end":
                    end = frame
                if end is not None and errors == len(junk):
                    return errors, end

    errors, end = run(go())
    assert errors == len(junk) and end["message"] == "生成完成"
