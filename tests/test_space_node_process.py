"""The headless node (`python -m ws_client`) as a real process: killed in the middle of a queue of
space jobs and started again, it completes every job it had accepted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.spaces_hub import SpacesHub

FAST = {"max_mel_tokens": 50, "num_beams": 1, "seed": 3}


def _start_node(hub: SpacesHub, demo_dir: Path, cache_dir: Path, outputs: Path, log: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "ws_client",
        "--server",
        hub.url,
        "--space",
        "voice",
        "--model_dir",
        str(demo_dir),
        "--cache_dir",
        str(cache_dir),
        "--outputs_dir",
        str(outputs),
        "--device",
        "cpu",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("ab") as sink:
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT)


def test_a_killed_node_finishes_its_accepted_jobs_after_a_restart(demo_dir: Path, cache_dir: Path, tmp_path: Path):
    hub = SpacesHub(spaces=["voice"]).start()
    outputs, log = tmp_path / "outputs", tmp_path / "node.log"
    node = _start_node(hub, demo_dir, cache_dir, outputs, log)
    try:
        hub.wait_until(lambda: hub.connected_space("voice") is not None, timeout=120, what="the node to register")
        sentences = ["第一个任务。", "第二个任务。", "第三个任务。", "第四个任务。"]
        ids = [hub.submit("voice", text, hub.prompt_url("voice_01.wav"), **FAST) for text in sentences]
        assert hub.wait_for(ids[0]).status == "completed"
        node.send_signal(signal.SIGKILL)  # no clean shutdown: the journal is all that is left
        node.wait(10)
        unfinished = [request_id for request_id in ids if hub.state.requests[request_id].status != "completed"]
        assert unfinished, "the node finished everything before it was killed; the test proves nothing"

        node = _start_node(hub, demo_dir, cache_dir, outputs, log)
        records = [hub.wait_for(request_id, timeout=180) for request_id in ids]
        assert [record.status for record in records] == ["completed"] * 4, log.read_text()[-3000:]
        assert all(record.result["duration"] > 0 for record in records)
        assert "from before the restart will be completed" in log.read_text()
        hub.wait_until(lambda: len(hub.state.registrations) == 2, what="the restarted node to register")
    finally:
        node.kill()
        node.wait(10)
        hub.stop()


def test_a_second_node_on_the_same_journal_stops_with_the_holders_pid(demo_dir: Path, cache_dir: Path, tmp_path: Path):
    hub = SpacesHub(spaces=["voice"]).start()
    outputs = tmp_path / "outputs"
    first = _start_node(hub, demo_dir, cache_dir, outputs, tmp_path / "first.log")
    try:
        hub.wait_until(lambda: hub.connected_space("voice") is not None, timeout=120, what="the first node")
        second_log = tmp_path / "second.log"
        second = _start_node(hub, demo_dir, cache_dir, outputs, second_log)
        assert second.wait(120) == 1
        message = second_log.read_text()
        assert f"the space journal in {outputs} is in use by another node process (pid {first.pid})" in message
        assert len(hub.state.registrations) == 1  # the second never connected
        request_id = hub.submit("voice", "第一个节点还在工作。", hub.prompt_url("voice_01.wav"), **FAST)
        assert hub.wait_for(request_id, timeout=300).status == "completed"
    finally:
        first.kill()
        first.wait(10)
        hub.stop()


def test_webui_on_a_taken_port_stops_before_its_space_client_starts(
    cache_dir: Path, tmp_path: Path, demo_args: list[str]
):
    import socket

    hub = SpacesHub(spaces=["voice"]).start()
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    command = [sys.executable, "webui.py", *demo_args, "--host", "127.0.0.1", "--port", str(port), "--ws_port", "0"]
    command += ["--outputs_dir", str(tmp_path / "outputs"), "--cache_dir", str(cache_dir)]
    command += ["--websocket-mode", "--websocket-server", hub.url, "--websocket-space", "voice"]
    try:
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
        assert done.returncode == 1
        assert f"Cannot start: cannot listen on 127.0.0.1:{port}" in done.stderr and "--port" in done.stderr
        assert hub.state.events == []  # it never connected, so it never took a job
        assert "loading IndexTTS2" not in done.stderr  # nor spent time loading the model
    finally:
        taken.close()
        hub.stop()
