"""The web UI in a real browser (Playwright + Debian's chromium) against `webui.py --demo` on a free port."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import soundfile as sf

from tests.conftest import EXAMPLES, REPO

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(
    shutil.which("chromium") is None, reason="needs Debian's chromium (make test installs it)"
)

GENERATION_TIMEOUT_MS = 240_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_health(url: str, process: subprocess.Popen, log: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"webui.py exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"webui.py did not come up in {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def webui(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, demo_args: list[str]):
    """A real `python webui.py --demo` process; yields (base URL, process, output folder)."""
    folder = tmp_path_factory.mktemp("webui")
    port = _free_port()
    log = folder / "webui.log"
    env = {**os.environ, "INDEXTTS_CACHE_DIR": str(cache_dir), "GRADIO_ANALYTICS_ENABLED": "False"}
    command = [sys.executable, "webui.py", *demo_args, "--host", "127.0.0.1", "--port", str(port), "--ws_port", "0"]
    command += ["--outputs_dir", str(folder / "outputs"), "--cache_dir", str(cache_dir)]
    with open(log, "w") as log_file:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(url, process, log)
        yield url, process, folder
    finally:
        process.terminate()
        process.wait(30)


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=shutil.which("chromium"), args=["--no-sandbox", "--disable-background-networking"]
        )
        yield chromium
        chromium.close()


def _open(browser, url: str, locale: str = "zh-CN", context=None):
    context = context or browser.new_context(locale=locale, viewport={"width": 1280, "height": 1800})
    page = context.new_page()
    page.goto(url + "/", wait_until="networkidle")
    page.locator("#generate").wait_for()
    return page


def _set_number(page, elem_id: str, value: float) -> None:
    field = page.locator(f"#{elem_id} input[type=number]")
    field.fill(str(value))
    field.press("Enter")


TRACKERS = "#result-info [data-testid=status-tracker], #result-audio [data-testid=status-tracker]"
IDLE_JS = f"() => [...document.querySelectorAll('{TRACKERS}')].every(tracker => tracker.classList.contains('hide'))"
JOB_ID_JS = """() => (document.querySelector('#result-info').innerText.match(/(?:任务|job) ([0-9a-f-]{36})/) || [])[1]
    || ((document.querySelector('#result-info').innerText.match(/(Error|错误)/) || [])[0] ? 'error' : null)"""


def _generate(page, url: str) -> tuple[str, int]:
    """Click Generate, wait for a new job's result and the end of the event; → (info, WAV samples)."""
    page.wait_for_function(IDLE_JS)  # a click while the previous event is still closing would be ignored
    before = page.evaluate(JOB_ID_JS)
    page.locator("#generate").click()
    page.wait_for_function(
        f"(before) => {{ const id = ({JOB_ID_JS})(); return id && id !== before; }}",
        arg=before,
        timeout=GENERATION_TIMEOUT_MS,
    )
    page.wait_for_function(IDLE_JS)
    info = page.locator("#result-info").inner_text()
    assert "RTF" in info, f"no result: {info}"
    href = page.locator("#result-audio a[download]").first.get_attribute("href")
    with urllib.request.urlopen(href if href.startswith("http") else url + href, timeout=30) as response:
        audio, rate = sf.read(io.BytesIO(response.read()), dtype="int16")
    assert rate == 22050
    return info, audio.shape[0]


def _prepare_fast_request(page) -> None:
    page.locator("#prompt-audio input[type=file]").set_input_files(str(EXAMPLES / "voice_01.wav"))
    page.locator("#text-input textarea").fill("你好，欢迎使用。")
    page.get_by_text("高级生成参数").click()
    _set_number(page, "max-mel-tokens", 50)  # random weights never say "stop": keep each segment short


def test_demo_page_generates_in_each_emotion_mode(webui, browser):
    url, _, folder = webui
    page = _open(browser, url)
    assert "演示模式" in page.locator("#demo-banner").inner_text()  # the noise warning is on the page
    assert "本地模式" in page.locator("#node-status").inner_text()
    _prepare_fast_request(page)

    info, samples = _generate(page, url)  # mode: same as the voice reference
    assert "RTF" in info and samples > 0

    page.get_by_text("使用情感参考音频").click()
    page.locator("#emo-audio input[type=file]").set_input_files(str(EXAMPLES / "emo_happy.wav"))
    _generate(page, url)

    page.get_by_text("使用情感向量控制").click()
    _set_number(page, "emo-vec-2", 0.9)
    page.wait_for_function("() => document.querySelector('#vector-note').innerText.includes('0.79')")
    _generate(page, url)
    _set_number(page, "emo-vec-7", 1.0)
    page.wait_for_function("() => document.querySelector('#vector-note').innerText.includes('⚠️')")

    page.get_by_text("使用情感描述文本控制").click()
    page.locator("#emo-text textarea").fill("非常开心")
    _generate(page, url)
    page.screenshot(path=str(folder / "webui-after-four-modes.png"), full_page=True)
    assert len(list((folder / "outputs").glob("tts_*.wav"))) == 4


@pytest.mark.generation(
    "2", reason="the queue display is the same on either generation; tiny 2.5 ends the first job too soon"
)
def test_a_second_page_sees_its_place_in_the_queue_then_its_result(webui, browser):
    url = webui[0]
    first, second = _open(browser, url), _open(browser, url)
    for page in (first, second):
        _prepare_fast_request(page)
    first.locator("#text-input textarea").fill(
        "今天天气很好，我们一起去公园散步吧。明天如果下雨的话，我们就待在家里看书。" * 3
    )
    _set_number(first, "max-mel-tokens", 600)  # several long segments keep the worker busy for a while
    first.wait_for_function(IDLE_JS)
    first.locator("#generate").click()
    first.wait_for_function("() => document.querySelector('#result-info').innerText.includes('合成第')")

    second.locator("#generate").click()
    second.wait_for_function("() => document.querySelector('#result-info').innerText.includes('前面还有 1 个任务')")
    first.wait_for_function(f"() => ({JOB_ID_JS})()", timeout=GENERATION_TIMEOUT_MS)
    second.wait_for_function(f"() => ({JOB_ID_JS})()", timeout=GENERATION_TIMEOUT_MS)
    assert "RTF" in first.locator("#result-info").inner_text()
    assert "RTF" in second.locator("#result-info").inner_text()


def test_mode_switch_shows_only_that_modes_controls(webui, browser):
    page = _open(browser, webui[0])
    assert not page.locator("#emo-audio").is_visible() and not page.locator("#emo-vec-1").is_visible()
    page.get_by_text("使用情感参考音频").click()
    page.locator("#emo-audio").wait_for(state="visible")
    assert page.locator("#emo-alpha").is_visible() and not page.locator("#emo-text").is_visible()
    page.get_by_text("使用情感向量控制").click()
    page.locator("#emo-vec-1").wait_for(state="visible")
    page.locator("#emo-audio").wait_for(state="hidden")
    page.get_by_text("与音色参考音频相同").click()
    page.locator("#emo-alpha").wait_for(state="hidden")


# The table's body cells, grouped by row (Gradio renders rows as divs of role=gridcell).
ROWS_JS = """() => {
    const rows = {};
    for (const cell of document.querySelectorAll('#segment-preview [role=gridcell]')) {
        (rows[cell.dataset.row] ??= []).push(cell.innerText.trim());
    }
    return Object.values(rows).map(cells => cells.join(' ')).filter(row => row.trim());
}"""


def test_segment_preview_follows_the_text_and_the_slider(webui, browser, layout: str):
    page = _open(browser, webui[0])
    text = "今天天气很好，我们一起去公园散步吧。明天如果下雨的话，我们就待在家里看书。后天我们去图书馆借几本新书回来。"
    page.locator("#text-input textarea").fill(text)
    # The page streams: a short first segment (its first clause), then the official split.
    page.wait_for_function(f"() => ({ROWS_JS})().length === 2")
    first, rest = (row.replace(" ", "") for row in page.evaluate(ROWS_JS))
    assert "今天天气" in first and "明天" in rest and "后天" in rest
    _set_number(page, "seg-tokens", 24)  # the rest is split smaller: more rows, numbered, in order
    page.wait_for_function(f"() => ({ROWS_JS})().length >= 3")
    rows = [row.replace(" ", "") for row in page.evaluate(ROWS_JS)]
    assert [row[0] for row in rows] == [str(n) for n in range(1, len(rows) + 1)]
    assert "今天天气" in rows[0] and "明天" in "".join(rows[1:]) and "后天" in "".join(rows[2:])
    if layout == "2":
        assert len(rows) == 4  # 今天天气很好， | 我们…吧。明天…的话， | 我们就…看书。 | 后天…回来。
    with urllib.request.urlopen(webui[0] + "/health", timeout=5) as response:
        assert b'"queue_depth":0' in response.read()  # previewing never touched the synthesis queue


def test_language_follows_the_browser_and_the_switch(webui, browser):
    url, _, folder = webui
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 1800})
    page = _open(browser, url, context=context)
    page.wait_for_function("() => document.querySelector('#generate').innerText.trim() === 'Generate'")
    assert "Demo mode" in page.locator("#demo-banner").inner_text()
    page.get_by_text("voice_10 · emotion vector").click()  # an example fills the inputs and keeps the language
    page.locator("#emo-vec-6").wait_for(state="visible")
    assert page.locator("#emo-vec-6 input[type=number]").input_value() == "0.7"
    page.wait_for_function(f"() => ({ROWS_JS})().length >= 1")
    page.wait_for_timeout(500)
    assert page.locator("#text-input").get_by_text("Text", exact=True).is_visible()
    assert page.get_by_text("Emotion vector", exact=True).is_visible()
    assert page.locator("#segment-preview").get_by_text("Segment", exact=True).is_visible()
    page.get_by_text("中文", exact=True).click()
    page.wait_for_function("() => document.querySelector('#generate').innerText.trim() === '生成语音'")
    assert page.get_by_text("情感控制方式").is_visible()
    page.screenshot(path=str(folder / "webui-chinese.png"), full_page=True)
    again = _open(browser, url, context=context)  # the choice is remembered over the browser's language
    again.wait_for_function("() => document.querySelector('#generate').innerText.trim() === '生成语音'")
    context.close()


def test_generate_without_a_voice_prompt_explains_what_to_do(webui, browser):
    page = _open(browser, webui[0])
    page.locator("#text-input textarea").fill("你好")
    page.locator("#generate").click()
    page.get_by_text("请先上传或录制音色参考音频").first.wait_for(timeout=30_000)


def test_an_idle_page_costs_the_server_next_to_no_cpu(webui, browser):
    url, process, _ = webui
    page = _open(browser, url)
    time.sleep(3)  # let the page settle

    def cpu_seconds() -> float:
        fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    before, started = cpu_seconds(), time.monotonic()
    time.sleep(10)
    used = (cpu_seconds() - before) / (time.monotonic() - started)
    page.close()
    assert used < 0.15, f"the idle server used {used:.0%} of a core"


def test_the_2_5_controls_show_only_on_a_2_5_page(webui, browser, layout: str):
    page = _open(browser, webui[0])
    page.locator("#seg-tokens").wait_for()
    if layout == "2":
        assert page.locator("#text-language").count() == 0 and page.locator("#duration-factor").count() == 0
        return
    assert page.locator("#text-language").is_visible() and page.locator("#duration-factor").is_visible()
    page.locator("#text-language").get_by_text("文本语言").wait_for()
    page.locator("#lang-switch").get_by_text("English", exact=True).click()  # the page language
    page.locator("#text-language").get_by_text("Text language").wait_for()
    page.locator("#duration-factor").get_by_text("Duration factor").wait_for()
    page.locator("#text-input textarea").fill("こんにちは。")
    preview_js = "() => document.querySelector('#segment-preview').innerText.includes('こんにちは')"
    page.wait_for_function(preview_js, timeout=120_000)  # segmented in the chosen ("auto") language
