"""`webui.py --websocket-mode` in a real browser: the node-status panel follows the space client
live while a real hub (tests/spaces_hub.py) sends it a job."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.spaces_hub import SpacesHub
from tests.test_webui import _free_port, _wait_for_health

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium")

FAST = {"max_mel_tokens": 50, "num_beams": 1, "seed": 3}


def test_the_status_panel_follows_the_space_connection(tmp_path: Path, cache_dir: Path, demo_args: list[str]):
    hub = SpacesHub(spaces=["voice"]).start()
    port, log = _free_port(), tmp_path / "webui.log"
    command = [sys.executable, "webui.py", *demo_args, "--host", "127.0.0.1", "--port", str(port), "--ws_port", "0"]
    command += ["--outputs_dir", str(tmp_path / "outputs"), "--cache_dir", str(cache_dir)]
    command += ["--websocket-mode", "--websocket-server", hub.url, "--websocket-space", "voice"]
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    with log.open("w") as sink:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(url, process, log)
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=shutil.which("chromium"), args=["--no-sandbox", "--disable-background-networking"]
            )
            page = browser.new_context(locale="en-US").new_page()
            page.goto(url + "/", wait_until="networkidle")
            panel = page.locator("#node-status")
            hub.wait_until(lambda: hub.connected_space("voice") is not None, timeout=60, what="registration")
            connection_id = hub.state.registrations[-1]
            playwright_api.expect(panel).to_contain_text("Connected", timeout=15_000)
            playwright_api.expect(panel).to_contain_text(connection_id)

            request_id = hub.submit("voice", "Hello from the space.", hub.prompt_url("voice_02.wav"), **FAST)
            assert hub.wait_for(request_id).status == "completed"
            playwright_api.expect(panel).to_contain_text("received 1 · done 1 · failed 0", timeout=15_000)

            hub.stop()  # the site goes away: the panel says so, then reconnects when it is back
            playwright_api.expect(panel).to_contain_text("Disconnected", timeout=15_000)
            hub.start()
            playwright_api.expect(panel).to_contain_text("Connected", timeout=30_000)
            browser.close()
    finally:
        process.terminate()
        process.wait(30)
        hub.stop()
