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
        assert len(hub.state.registrations) == 2
    finally:
        node.kill()
        node.wait(10)
        hub.stop()
