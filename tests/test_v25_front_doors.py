"""Front doors on an IndexTTS-2.5 node (tiny 2.5 checkpoint): OpenAI `language`, /v1/models, the UI
controls that only a 2.5 model has, and `--demo 2.5`."""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import soundfile as sf

from serving.options import demo_generation
from tests.api_servers import http_server, make_node
from tests.conftest import REPO

FAST = {"max_mel_tokens": 50, "num_beams": 1, "seed": 3}


@pytest.fixture(scope="module")
def api(engine, demo_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    node = make_node(engine, demo_dir, tmp_path_factory.mktemp("openai"))
    with http_server(node) as (url, _):
        yield url
    node.close()


def test_models_name_the_loaded_generation(api, layout: str):
    first = requests.get(f"{api}/v1/models", timeout=10).json()["data"][0]
    assert first["id"] == f"indextts-{layout}" and first["generation"] == layout
    if layout == "2.5":
        assert first["duration_factor"] is True and {"zh", "en", "ja", "es"} <= set(first["languages"])
    else:
        assert "languages" not in first


@pytest.mark.generation("2.5", reason="2.0 reads Chinese and English only")
def test_openai_speech_takes_a_language(api):
    body = {"model": "indextts-2.5", "voice": "alloy", "input": "こんにちは。", "language": "ja", **FAST}
    response = requests.post(f"{api}/v1/audio/speech", json=body | {"response_format": "wav"}, timeout=600)
    assert response.status_code == 200, response.text
    audio, rate = sf.read(io.BytesIO(response.content))
    assert rate == 22050 and audio.shape[0] == int(2 * 50 * 1.72) * 256  # 50 codes at 25 Hz → 172 mel frames
    bad = requests.post(f"{api}/v1/audio/speech", json=body | {"language": "xx"}, timeout=600)
    assert bad.status_code == 400 and "language 'xx'" in bad.json()["error"]["message"]


def test_demo_flag_takes_the_generation():
    assert [demo_generation(v) for v in ("", "0", "1", "true", "2", "2.5")] == [False, False, "2", "2", "2", "2.5"]
    with pytest.raises(argparse.ArgumentTypeError, match=r"2 or 2\.5"):
        demo_generation("3")


playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.mark.generation("2.5", reason="the language and duration controls")
@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium")
def test_webui_demo_2_5_shows_language_and_duration_controls(tmp_path: Path, cache_dir: Path, demo_args: list[str]):
    from tests.test_webui import _free_port, _wait_for_health

    port = _free_port()
    log = tmp_path / "webui.log"
    env = {**os.environ, "INDEXTTS_CACHE_DIR": str(cache_dir), "GRADIO_ANALYTICS_ENABLED": "False"}
    command = [sys.executable, "webui.py", *demo_args, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--ws_port", "0", "--outputs_dir", str(tmp_path / "outputs"), "--cache_dir", str(cache_dir)]
    with open(log, "w") as log_file:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(url, process, log)
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=shutil.which("chromium"), args=["--no-sandbox", "--disable-background-networking"]
            )
            page = browser.new_context(locale="zh-CN").new_page()
            page.goto(url + "/", wait_until="networkidle")
            page.locator("#generate").wait_for()
            assert page.locator("#text-language").is_visible() and page.locator("#duration-factor").is_visible()
            page.locator("#text-language").get_by_text("文本语言").wait_for()
            page.locator("#lang-switch").get_by_text("English", exact=True).click()  # the page language
            page.locator("#text-language").get_by_text("Text language").wait_for()
            page.locator("#duration-factor").get_by_text("Duration factor").wait_for()
            page.locator("#text-input textarea").fill("こんにちは。")
            preview_js = "() => document.querySelector('#segment-preview').innerText.includes('こんにちは')"
            page.wait_for_function(preview_js, timeout=120_000)  # segmented in the chosen ("auto") language
            browser.close()
    finally:
        process.terminate()
        process.wait(30)
