"""The web UI plays the audio as it is made, in a real browser: the live player has audio it can
play while the page still shows later segments being synthesized, and the whole file still comes
at the end."""

from __future__ import annotations

from tests import test_webui as ui_tests
from tests.test_webui import IDLE_JS, _generate, _open, _prepare_fast_request, _set_number

pytestmark = ui_tests.pytestmark
webui, browser = ui_tests.webui, ui_tests.browser  # its fixtures: a `webui.py --demo` process, a browser

# Polled in the page: the first moment the live player has audio, and what the page said then.
WATCH_JS = """() => {
  window.__firstLive = null;
  const timer = setInterval(() => {
    const player = document.querySelector('#live-audio audio');
    if (player && (player.readyState >= 2 || player.duration > 0)) {
      window.__firstLive = {
        info: document.querySelector('#result-info').innerText,
        finalFile: !!document.querySelector('#result-audio a[download]'),
      };
      clearInterval(timer);
    }
  }, 50);
}"""


def test_the_live_player_gets_audio_before_the_job_finishes(webui, browser):
    url = webui[0]
    page = _open(browser, url)
    _prepare_fast_request(page)
    page.locator("#text-input textarea").fill("第一句话在这里说完了。第二句话也在这里说完。第三句话就到此为止。")
    _set_number(page, "seg-tokens", 20)  # three segments
    _set_number(page, "num-beams", 1)
    # Segments as long as the demo allows (its cap, not 50 codes): the later two take long enough for
    # a loaded browser to start the live player while they are made.
    _set_number(page, "max-mel-tokens", 600)
    assert "边生成边播放" in page.locator("#live-audio").inner_text()
    page.wait_for_function(IDLE_JS)
    page.evaluate(WATCH_JS)
    info, samples = _generate(page, url)
    page.wait_for_function("() => window.__firstLive !== null", timeout=30_000)  # "the live player never had audio"
    first = page.evaluate("() => window.__firstLive")
    assert "合成第" in first["info"] and not first["finalFile"], f"audio came only with the result: {first}"
    assert samples > 0 and "RTF" in info
    page.locator("#lang-switch").get_by_text("English", exact=True).click()
    page.wait_for_function("() => document.querySelector('#live-audio').innerText.includes('Playing as it is made')")
    page.context.close()
