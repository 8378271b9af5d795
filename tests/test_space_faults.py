"""The space client under the site's faults, against the real Socket.IO hub (tests/spaces_hub.py)
with the real pipeline on the tiny checkpoint: a restarted site's forgotten requests are dropped
before they run, a node refused the space still delivers, one process per journal, 4xx prompt URLs
are final, and an old error is shown as old."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import socketio

from serving.engine import LoadedEngine
from serving.node import Node, NodeSettings
from serving.status import ConnectionStatus
from tests.conftest import EXAMPLES
from tests.spaces_hub import SpacesHub
from ws_client import SpaceClient
from ws_client.journal import ACCEPTED, FORGOTTEN, Journal, JournalInUse
from ws_client.uploader import RetryPolicy

FAST = {"max_mel_tokens": 50, "num_beams": 1, "seed": 3}
LONG = "今天天气很好。我们去公园散步。然后回家吃饭。晚上看书。"  # four segments: a job that runs a while
# Twelve segments of up to 600 codes each: minutes if nothing stops it.
VERY_LONG = {"max_text_tokens_per_segment": 20, "max_mel_tokens": 600, "num_beams": 1, "seed": 3}
QUICK_RETRY = RetryPolicy(attempts=6, first_delay=0.3, max_delay=2.0)


@pytest.fixture
def hub():
    hub = SpacesHub(spaces=["voice"]).start()
    yield hub
    hub.stop()


@pytest.fixture
def make_client(engine, demo_dir: Path, tmp_path: Path):
    """Space clients on one outputs folder (one journal); each with its own Node on the shared engine."""
    made: list[tuple[SpaceClient, Node]] = []

    def make(hub: SpacesHub, start: bool = True) -> SpaceClient:
        settings = NodeSettings(outputs_dir=tmp_path / "outputs", allowed_dirs=(EXAMPLES,), spaces_server=hub.url)
        node = Node(LoadedEngine(engine, demo_dir, True, "tests", 0.0), settings, ConnectionStatus(hub.url, "voice"))
        client = SpaceClient(node, hub.url, "voice", upload_retry=QUICK_RETRY)
        made.append((client, node))
        if start:
            client.start()
        return client

    yield make
    for client, node in made:
        client.stop()
        node.close()


def _registered(hub: SpacesHub, count: int = 1) -> None:
    hub.wait_until(lambda: len(hub.state.registrations) >= count and hub.connected_space("voice"), what="registration")


def _started(hub: SpacesHub) -> list[str]:
    """Request ids the node reported `processing` for: the jobs it started."""
    results = [data for event, data in hub.state.events if event == "inference_result"]
    return [data["request_id"] for data in results if data["status"] == "processing"]


def _wait(predicate, timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_requests_a_restarted_site_forgot_are_dropped_and_the_running_one_stopped(hub: SpacesHub, make_client):
    client = make_client(hub)
    _registered(hub)
    running = hub.submit("voice", LONG * 3, hub.prompt_url("voice_01.wav"), **VERY_LONG)
    waiting = [hub.submit("voice", f"第{n}句。", hub.prompt_url("voice_02.wav"), **FAST) for n in (2, 3, 4)]
    hub.wait_until(lambda: _started(hub) == [running], what="the first job to start")
    _wait(lambda: client.journal.count(ACCEPTED) == 4, what="all four to be journaled")

    hub.restart(keep_history=False, down_for=0.5)  # the site forgets all four (and its connections)
    _registered(hub)
    fresh = hub.wait_for(hub.submit("voice", "重启之后。", hub.prompt_url("voice_03.wav"), **FAST))
    assert fresh.status == "completed"

    for request_id in [running, *waiting]:
        assert client.journal.get(request_id).state == FORGOTTEN
    assert {running, *waiting} <= set(hub.state.status_queries)  # asked, not guessed
    assert _started(hub) == [fresh.request_id]  # since the restart: no GPU time for the forgotten three
    stats = client.node.queue.stats()
    # the long job was stopped mid-synthesis instead of running to an undeliverable end
    assert (stats.completed, stats.failed, stats.cancelled) == (1, 0, 1)
    snap = client.status.snapshot()
    assert (snap.jobs_forgotten, snap.jobs_undeliverable, snap.jobs_done, snap.jobs_failed) == (4, 0, 1, 0)
    assert snap.backlog == 0


def test_a_request_forgotten_while_it_waits_is_checked_again_before_it_starts(hub: SpacesHub, make_client):
    client = make_client(hub)
    _registered(hub)
    first = hub.submit("voice", LONG, hub.prompt_url("voice_01.wav"), max_text_tokens_per_segment=20, **FAST)
    lost = hub.submit("voice", "网站忘了我。", hub.prompt_url("voice_02.wav"), **FAST)
    kept = hub.submit("voice", "网站还记得我。", hub.prompt_url("voice_03.wav"), **FAST)
    hub.wait_until(lambda: _started(hub) == [first], what="the first job to start")
    hub.forget(lost)  # no restart, no re-registration: only the check before the start can see it
    assert hub.wait_for(kept).status == "completed"
    assert hub.wait_for(first).status == "completed"
    assert client.journal.get(lost).state == FORGOTTEN
    assert lost not in _started(hub)
    assert client.status.snapshot().jobs_forgotten == 1


def test_a_site_without_the_status_endpoint_still_gets_its_jobs_run(make_client):
    hub = SpacesHub(spaces=["voice"], status_endpoint=False).start()
    try:
        client = make_client(hub)
        _registered(hub)
        ids = [hub.submit("voice", f"第{n}句。", hub.prompt_url("voice_05.wav"), **FAST) for n in (1, 2)]
        assert [hub.wait_for(request_id).status for request_id in ids] == ["completed"] * 2
        assert set(ids) <= set(hub.state.status_queries)  # asked; the HTML 404 is no answer about the request
        assert client.status.snapshot().jobs_forgotten == 0
    finally:
        hub.stop()


def test_a_node_refused_the_space_still_delivers_its_results(hub: SpacesHub, make_client):
    first = make_client(hub)
    _registered(hub)
    ids = [hub.submit("voice", f"第{n}个任务。", hub.prompt_url("voice_04.wav"), **FAST) for n in (1, 2, 3)]
    _wait(lambda: first.journal.count(ACCEPTED) == 3, what="the jobs to be journaled")
    first.stop()  # the node goes away with its jobs journaled, unrun
    first.node.close()
    assert [hub.state.requests[request_id].status for request_id in ids] == ["processing"] * 3

    squatter = socketio.Client(reconnection=False)  # another node takes the space meanwhile
    squatter.connect(hub.url)
    squatter.emit("register", {"space_name": "voice"})
    hub.wait_until(lambda: hub.connected_space("voice") == squatter.get_sid(), what="the other node to register")
    try:
        second = make_client(hub)  # the same outputs folder: the same journal
        records = [hub.wait_for(request_id, timeout=120) for request_id in ids]
        assert [record.status for record in records] == ["completed"] * 3
        assert all(len(hub.fetch(record.result["audio_url"])) > 44 for record in records)
        assert hub.connected_space("voice") == squatter.get_sid()  # delivered without ever holding the space
        _wait(lambda: second.status.snapshot().state == "error", what="the refusal on the panel")
        snap = second.status.snapshot()
        assert "Space already has a connected app" in snap.last_error
        assert "finished results are still delivered" in snap.last_error
    finally:
        squatter.disconnect()


def test_one_process_per_journal(tmp_path: Path):
    path = tmp_path / "outputs" / "space_journal.sqlite3"
    journal = Journal(path)
    with pytest.raises(JournalInUse) as refused:
        Journal(path)
    message = str(refused.value)
    assert str(path.parent) in message and f"pid {__import__('os').getpid()}" in message
    journal.close()
    Journal(path).close()  # free again once the holder closed it


def test_a_prompt_url_answering_404_is_not_fetched_again(hub: SpacesHub, make_client):
    make_client(hub)
    _registered(hub)
    record = hub.wait_for(hub.submit("voice", "你好。", hub.prompt_url("missing.wav"), **FAST))
    assert record.status == "failed" and "404" in record.result["error"]
    assert hub.state.prompt_fetches.count("missing.wav") == 1


def test_an_old_error_is_dated_and_marked_as_before_the_connection(hub: SpacesHub, make_client):
    from ui.handlers import UiHandlers

    client = make_client(hub)
    _registered(hub)
    hub.stop()
    _wait(lambda: client.status.snapshot().state != "connected", what="the drop")
    _wait(lambda: "cannot connect" in client.status.snapshot().last_error, what="a failed reconnect")
    hub.start()
    _registered(hub, count=2)
    _wait(lambda: client.status.snapshot().state == "connected", what="the reconnect")
    snap = client.status.snapshot()
    assert snap.error_predates_connection and snap.last_error_at < snap.connected_since
    panel = UiHandlers(client.node).status_markdown("en")
    stamp = time.strftime("%H:%M:%S", time.localtime(snap.last_error_at))
    assert f"Last error {stamp}, before this connection" in panel and "cannot connect" in panel


def test_the_grammar_compile_does_not_stall_the_connection(tmp_path: Path, make_client):
    """The one-time normaliser compile (about a minute) must leave the node's other threads running.

    In-process it held the GIL for one 42 s stretch (longer on a busy machine); reading the finished
    FSTs still holds it for a second or two (several under load). The hub here allows 5 s + 20 s,
    less than the site's 25 s + 20 s but well above what the FST read takes."""
    from indextts.text.wetext import WeTextBackend

    hub = SpacesHub(spaces=["voice"], ping_interval=5, ping_timeout=20).start()
    try:
        client = make_client(hub)
        _wait(lambda: client.status.snapshot().state == "connected", what="the registration")
        connection = client.status.snapshot().connection_id
        gaps: list[float] = []
        compiling = threading.Thread(target=WeTextBackend(tmp_path / "fresh-cache").load)
        compiling.start()
        last = time.perf_counter()
        while compiling.is_alive():
            time.sleep(0.05)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now
        assert len(gaps) > 100, "the compile was too quick to prove anything"
        assert max(gaps) < 20, f"another thread stalled for {max(gaps):.1f} s"
        assert client.status.snapshot().connection_id == connection
        assert len(hub.state.registrations) == 1
    finally:
        hub.stop()
