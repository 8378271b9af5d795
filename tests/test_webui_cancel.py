"""Stopping a generation from the web UI, in a real browser: the Stop button, and closing the page.

Each long job (a long text on the tiny demo checkpoint, which never emits its stop code: every
segment runs to the demo's length cap, so it would run for minutes) must end as cancelled within
`CANCEL_BOUND`, seen from the node's /metrics.
"""

from __future__ import annotations

import time
import urllib.request

from tests import test_webui as ui_tests
from tests.test_cancellation import CANCEL_BOUND
from tests.test_webui import IDLE_JS, _open, _prepare_fast_request, _set_number

pytestmark = ui_tests.pytestmark
webui, browser = ui_tests.webui, ui_tests.browser  # its fixtures: a `webui.py --demo` process, a browser

# A long job's first segment: the page shows "合成第 1/N 段" while it decodes.
RUNNING_JS = "() => document.querySelector('#result-info').innerText.includes('合成第')"


def _cancelled(url: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        lines = response.read().decode().splitlines()
    wanted = 'indextts_jobs_total{origin="webui",state="cancelled"}'
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith(wanted))


def _start_long_job(page) -> None:
    _prepare_fast_request(page)
    # The demo stops each segment at a length derived from its text, so a long job is a long text:
    # about ten segments of ~100 tokens, each up to 600 codes.
    page.locator("#text-input textarea").fill("这句话永远说不完，" * 120)
    _set_number(page, "max-mel-tokens", 1500)
    page.wait_for_function(IDLE_JS)
    page.locator("#generate").click()
    page.wait_for_function(RUNNING_JS, timeout=120_000)
    time.sleep(1.0)  # well inside its decoding


def _wait_cancelled(url: str, count: float, since: float, slack: float = 0.0) -> None:
    while _cancelled(url) < count:
        assert time.monotonic() - since < CANCEL_BOUND + slack, "the job was not cancelled in time"
        time.sleep(0.05)


def test_the_stop_button_cancels_the_pages_running_job(webui, browser):
    url = webui[0]
    page = _open(browser, url)
    before = _cancelled(url)
    _start_long_job(page)
    pressed = time.monotonic()
    page.locator("#stop").click()
    _wait_cancelled(url, before + 1, pressed)
    page.wait_for_function("() => document.querySelector('#result-info').innerText.includes('已停止')")
    page.wait_for_function(IDLE_JS)
    with urllib.request.urlopen(f"{url}/health", timeout=10) as response:
        assert b'"queue_depth":0' in response.read()
    page.context.close()


def test_closing_the_page_cancels_its_running_job(webui, browser):
    url = webui[0]
    page = _open(browser, url)
    before = _cancelled(url)
    _start_long_job(page)
    closed = time.monotonic()
    page.context.close()
    # Gradio notices a closed page when its event stream drops; allow it a few seconds on top.
    _wait_cancelled(url, before + 1, closed, slack=10.0)
