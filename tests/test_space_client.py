"""The space client against a real Socket.IO hub that behaves as the central site does
(tests/spaces_hub.py), with the real pipeline on the tiny checkpoint behind it."""

from __future__ import annotations

import io
import time
import uuid
from pathlib import Path

import pytest
import soundfile as sf

from serving.engine import LoadedEngine
from serving.node import Node, NodeSettings
from serving.status import ConnectionStatus
from tests.conftest import EXAMPLES
from tests.spaces_hub import SpacesHub
from ws_client import SpaceClient
from ws_client.journal import SENT, UNDELIVERABLE
from ws_client.uploader import RetryPolicy

FAST = {"max_mel_tokens": 50, "num_beams": 1, "seed": 3}
QUICK_RETRY = RetryPolicy(attempts=6, first_delay=0.3, max_delay=2.0)


@pytest.fixture
def hub():
    hub = SpacesHub(spaces=["voice"]).start()
    yield hub
    hub.stop()


def _node(engine, demo_dir: Path, tmp_path: Path, hub: SpacesHub) -> Node:
    settings = NodeSettings(outputs_dir=tmp_path / "outputs", allowed_dirs=(EXAMPLES,), spaces_server=hub.url)
    return Node(LoadedEngine(engine, demo_dir, True, "tests", 0.0), settings, ConnectionStatus(hub.url, "voice"))


@pytest.fixture
def make_client(engine, demo_dir: Path, tmp_path: Path):
    made: list[tuple[SpaceClient, Node]] = []

    def make(hub: SpacesHub, space: str = "voice", start: bool = True) -> SpaceClient:
        node = _node(engine, demo_dir, tmp_path, hub)
        client = SpaceClient(node, hub.url, space, upload_retry=QUICK_RETRY)
        made.append((client, node))
        if start:
            client.start()
        return client

    yield make
    for client, node in made:
        client.stop()
        node.close()


def _wait_state(client: SpaceClient, state: str, timeout: float = 30, contains: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap = client.status.snapshot()
        if snap.state == state and contains in snap.last_error:
            return snap
        time.sleep(0.05)
    raise AssertionError(f"status stayed {client.status.snapshot()} (wanted {state!r} with {contains!r})")


def _wav(hub: SpacesHub, record) -> tuple[int, int]:
    audio, rate = sf.read(io.BytesIO(hub.fetch(record.result["audio_url"])), dtype="int16")
    return audio.shape[0], rate


def test_registers_once_and_shows_the_connection(hub: SpacesHub, make_client):
    client = make_client(hub)
    snap = _wait_state(client, "connected")
    assert snap.connection_id == hub.state.registrations[-1]
    assert snap.space == "voice" and snap.connected_since is not None
    assert [event for event, _ in hub.state.events] == ["register"]
    assert hub.state.events[0][1] == {"space_name": "voice"}
    assert hub.connected_space("voice") is not None


def test_a_missing_space_is_shown_and_retried_until_it_exists(hub: SpacesHub, make_client):
    client = make_client(hub, space="later")
    _wait_state(client, "error", contains='Space "later" not found')
    hub.state.add_space("later")
    _wait_state(client, "connected", timeout=20)


def test_duplicate_space_names_are_reported(hub: SpacesHub, make_client):
    hub.state.add_space("twin")
    hub.state.add_space("twin")
    client = make_client(hub, space="twin")
    _wait_state(client, "error", contains="Please use unique space names")


def test_an_occupied_space_is_retried_until_the_old_registration_goes(hub: SpacesHub, make_client):
    import socketio

    squatter = socketio.Client(reconnection=False)
    answers = []
    squatter.on("register_response", answers.append)
    squatter.connect(hub.url)
    squatter.emit("register", {"space_name": "voice"})
    hub.wait_until(lambda: hub.connected_space("voice") is not None, what="the first node to register")
    client = make_client(hub)
    _wait_state(client, "error", contains="Space already has a connected app")
    squatter.disconnect()
    _wait_state(client, "connected", timeout=20)  # backoff tops out at 5 s: the free space is taken quickly
    assert answers[0]["success"] is True


def test_a_burst_of_five_runs_in_submission_order_and_every_result_arrives(hub: SpacesHub, make_client):
    client = make_client(hub)
    _wait_state(client, "connected")
    texts = ["第一句话。", "第二句话。", "第三句话。", "第四句话。", "第五句话。"]
    ids = [hub.submit("voice", text, hub.prompt_url(f"voice_0{i + 1}.wav"), **FAST) for i, text in enumerate(texts)]
    records = [hub.wait_for(request_id) for request_id in ids]
    for record in records:
        assert record.status == "completed", record.result
        assert record.statuses[0] == "processing"
        samples, rate = _wav(hub, record)
        assert rate == 22050 == record.result["sample_rate"]
        assert record.result["audio_format"] == "wav"
        assert record.result["duration"] == pytest.approx(samples / rate, abs=1e-3)
        assert record.result["processing_time"] > 0 and record.result["rtf"] > 0
    started = [data["request_id"] for event, data in hub.state.events if data.get("status") == "processing"]
    assert started == ids  # one at a time, in the order the users submitted
    assert max(hub.state.message_sizes) < 2000  # audio went by upload, never over the socket
    snap = client.status.snapshot()
    assert (snap.jobs_received, snap.jobs_done, snap.jobs_failed, snap.backlog) == (5, 5, 0, 0)


def test_object_storage_gets_a_presigned_put(make_client):
    hub = SpacesHub(spaces=["voice"], object_storage=True).start()
    try:
        client = make_client(hub)
        _wait_state(client, "connected")
        request_id = hub.submit("voice", "你好。", hub.prompt_url("voice_02.wav"), **FAST)
        record = hub.wait_for(request_id)
        assert record.status == "completed"
        assert record.result["audio_url"] == f"{hub.url}/files/{request_id}.wav"
        assert _wav(hub, record)[0] > 0
    finally:
        hub.stop()


def test_bad_jobs_fail_with_a_message_and_the_node_carries_on(hub: SpacesHub, make_client):
    client = make_client(hub)
    _wait_state(client, "connected")
    cases = {
        hub.submit("voice", "   ", hub.prompt_url("voice_01.wav")): "prompt",
        hub.submit("voice", "你好。", ""): "audio",
        hub.submit("voice", "你好。", hub.prompt_url("missing.wav")): "404",
        hub.submit("voice", "你好。", hub.prompt_url("not-audio.txt")): "audio",
        hub.submit("voice", "你好。", "ftp://example.com/a.wav"): "audio",
        hub.submit("voice", "你好。", hub.prompt_url("voice_01.wav"), top_p=7): "top_p",
    }
    for request_id, word in cases.items():
        record = hub.wait_for(request_id)
        assert record.status == "failed"
        assert word in record.result["error"], record.result["error"]
        assert "Traceback" not in record.result["error"]
    broken_id = str(uuid.uuid4())
    hub.state.requests[broken_id] = type(next(iter(hub.state.requests.values())))(broken_id, "voice", "tester")
    hub.emit_raw("voice", {"request_id": broken_id, "payload": "not an object"})
    assert "payload" in hub.wait_for(broken_id).result["error"]
    hub.emit_raw("voice", ["not", "a", "request"])  # nothing to answer; must not break anything
    good = hub.wait_for(hub.submit("voice", "还能继续工作。", hub.prompt_url("voice_03.wav"), **FAST))
    assert good.status == "completed"
    assert client.status.snapshot().state == "connected"


def test_a_duplicate_request_id_runs_once(hub: SpacesHub, make_client):
    client = make_client(hub)
    _wait_state(client, "connected")
    request_id = hub.submit("voice", "只说一遍。", hub.prompt_url("voice_01.wav"), **FAST)
    hub.submit("voice", "只说一遍。", hub.prompt_url("voice_01.wav"), request_id=request_id, **FAST)
    first = hub.wait_for(request_id)
    assert first.status == "completed"
    time.sleep(1.0)
    hub.submit("voice", "只说一遍。", hub.prompt_url("voice_01.wav"), request_id=request_id, **FAST)
    hub.wait_until(lambda: hub.state.requests[request_id].statuses.count("completed") == 2, what="the resend")
    assert client.node.queue.stats().completed == 1
    assert hub.state.requests[request_id].result["audio_url"] == first.result["audio_url"]


def test_uploads_are_retried_after_transient_errors(hub: SpacesHub, make_client):
    client = make_client(hub)
    _wait_state(client, "connected")
    hub.state.failing_uploads = 2
    record = hub.wait_for(hub.submit("voice", "上传重试。", hub.prompt_url("voice_04.wav"), **FAST))
    assert record.status == "completed"
    assert hub.state.upload_attempts == 3
    assert _wav(hub, record)[0] > 0


def test_a_result_made_while_the_hub_is_down_is_delivered_after_it_returns(hub: SpacesHub, make_client):
    client = make_client(hub)
    _wait_state(client, "connected")
    text = "今天天气很好。我们去公园散步。然后回家吃饭。"
    request_id = hub.submit("voice", text, hub.prompt_url("voice_05.wav"), max_text_tokens_per_segment=20, **FAST)
    hub.wait_until(lambda: client.node.queue.depth > 0, what="the job to be in the node's queue")
    hub.restart(keep_history=True, down_for=1.0)
    record = hub.wait_for(request_id)
    assert record.status == "completed" and _wav(hub, record)[0] > 0
    # A new connection delivers what is owed first, then registers again.
    hub.wait_until(lambda: len(hub.state.registrations) == 2, what="the node to register on the new connection")
    _wait_state(client, "connected")


def test_a_result_the_restarted_site_forgot_is_marked_undeliverable(hub: SpacesHub, make_client):
    client = make_client(hub)
    _wait_state(client, "connected")
    request_id = hub.submit("voice", "网站重启了。", hub.prompt_url("voice_06.wav"), **FAST)
    hub.wait_until(lambda: client.node.queue.stats().running > 0, what="the job to start")
    # The site comes back once the result is made (a job it forgets mid-synthesis is cancelled instead).
    hub.restart(keep_history=False, down_for=0.5, until=lambda: client.node.queue.stats().completed >= 1)
    deadline = time.monotonic() + 60
    while (entry := client.journal.get(request_id)).state not in (UNDELIVERABLE, SENT):
        assert time.monotonic() < deadline, entry
        time.sleep(0.1)
    assert entry.state == UNDELIVERABLE and "Invalid request_id" in entry.note
    snap = client.status.snapshot()
    assert (snap.jobs_undeliverable, snap.jobs_failed) == (1, 0)  # made, not failed: counted apart
    hub.wait_until(lambda: hub.connected_space("voice") is not None, what="the node to register again")
    fresh = hub.wait_for(hub.submit("voice", "继续服务。", hub.prompt_url("voice_07.wav"), **FAST))
    assert fresh.status == "completed"


def test_a_result_larger_than_a_socket_message_travels_by_upload(hub: SpacesHub, make_client):
    client = make_client(hub)
    _wait_state(client, "connected")
    connection = client.status.snapshot().connection_id
    text = "今天天气很好我们一起去。" * 7  # seven segments of 20 tokens at most, 5 s of silence between
    request_id = hub.submit(
        "voice", text, hub.prompt_url("voice_08.wav"), max_text_tokens_per_segment=20, interval_silence=5000, **FAST
    )
    record = hub.wait_for(request_id, timeout=180)
    assert record.status == "completed"
    assert len(hub.fetch(record.result["audio_url"])) > 1_000_000
    assert max(hub.state.message_sizes) < 2000
    assert client.status.snapshot().connection_id == connection  # the connection never dropped
