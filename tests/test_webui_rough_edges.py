"""The web UI's first ten minutes in a real browser (Playwright + Debian's chromium) against
`webui.py --demo`: the language switch re-words everything, the preview keeps its Tokens column in
view, long texts get a notice, uploads are checked at once, refused input logs one line."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import EXAMPLES
from tests.test_webui import IDLE_JS, JOB_ID_JS, ROWS_JS, _generate, _open, _set_number, browser, webui

__all__ = ["browser", "webui"]  # the module's fixtures, shared with test_webui.py

HEADERS_JS = "() => [...document.querySelectorAll('#segment-preview th')].map(th => th.innerText.trim())"


def _english(browser, url: str, width: int = 1280, height: int = 1800):
    context = browser.new_context(locale="en-US", viewport={"width": width, "height": height})
    page = _open(browser, url, context=context)
    page.wait_for_function("() => document.querySelector('#generate').innerText.trim() === 'Generate'")
    return page


def _switch(page, name: str, generate_label: str) -> None:
    page.locator("#lang-switch").get_by_text(name, exact=True).click()
    page.wait_for_function(f"() => document.querySelector('#generate').innerText.trim() === '{generate_label}'")


def test_language_switch_rewords_preview_headers_and_the_result_line(webui, browser):
    url = webui[0]
    page = _english(browser, url)
    page.wait_for_function(f"() => ({HEADERS_JS})().join('|') === '#|Segment|Tokens'")  # before any typing
    page.locator("#prompt-audio input[type=file]").set_input_files(str(EXAMPLES / "voice_01.wav"))
    page.locator("#text-input textarea").fill("Hello, and welcome.")
    page.wait_for_function(f"() => ({ROWS_JS})().length === 1")
    page.get_by_text("Advanced sampling settings").click()
    _set_number(page, "max-mel-tokens", 50)
    info, _ = _generate(page, url)
    job = page.evaluate(JOB_ID_JS)
    assert "of audio" in info and job in info

    _switch(page, "中文", "生成语音")
    page.wait_for_function(f"() => ({HEADERS_JS})().join('|') === '序号|分句内容|Token 数'")
    page.wait_for_function("() => document.querySelector('#result-info').innerText.includes('时长')")
    assert page.evaluate(JOB_ID_JS) == job  # the same result, re-worded
    assert page.evaluate(ROWS_JS)[0].upper().startswith("1 HELLO")  # the rows survive the switch

    _switch(page, "English", "Generate")
    page.wait_for_function(f"() => ({HEADERS_JS})().join('|') === '#|Segment|Tokens'")
    page.wait_for_function("() => document.querySelector('#result-info').innerText.includes('of audio')")


def test_the_tokens_column_stays_in_view_at_1280_px(webui, browser, layout: str):
    page = _english(browser, webui[0], 1280, 900)
    _set_number(page, "seg-tokens", 600)
    long_sentence = "今天天气很好我们一起去公园散步吧明天如果下雨的话我们就待在家里看书" * 8 + "。"
    page.locator("#text-input textarea").fill(long_sentence)
    rows = 2  # the streaming page (either generation): a short first segment, then the rest
    page.wait_for_function(f"() => ({ROWS_JS})().length === {rows}")
    page.locator("#segment-preview").scroll_into_view_if_needed()
    box = page.evaluate(
        """() => {
            const cells = [...document.querySelectorAll('#segment-preview [role=gridcell]')];
            const last = cells[cells.length - 1].getBoundingClientRect();
            const segment = cells[cells.length - 2].getBoundingClientRect();
            return {right: last.right, left: last.left, width: window.innerWidth, rowHeight: segment.height};
        }"""
    )
    assert box["left"] >= 0 and box["right"] <= box["width"], box  # the token count is on screen
    assert box["rowHeight"] > 40, box  # the long segment wraps onto several lines instead of widening the table
    tokens = page.evaluate(ROWS_JS)[-1].split()[-1]
    assert tokens.isdigit() and int(tokens) > 200


def test_a_long_text_shows_its_length_and_what_happens_beyond_the_limit(webui, browser):
    page = _english(browser, webui[0])
    notice = page.locator("#text-length")
    page.locator("#text-input textarea").fill("好" * 100)
    page.wait_for_timeout(500)
    assert notice.inner_text().strip() == ""  # far from the limit: nothing to say
    page.locator("#text-input textarea").fill("好" * 8500)
    page.wait_for_function("() => document.querySelector('#text-length').innerText.includes('8,500 / 10,000')")
    assert "beyond is not taken in" in notice.inner_text()
    page.locator("#text-input textarea").fill("好" * 12000)
    page.wait_for_function("() => document.querySelector('#text-length').innerText.includes('10,000 / 10,000')")
    assert len(page.locator("#text-input textarea").input_value()) == 10_000
    _switch(page, "中文", "生成语音")
    page.wait_for_function("() => document.querySelector('#text-length').innerText.includes('10,000 / 10,000 字')")
    assert "超出的部分不会被输入" in notice.inner_text()


def test_uploads_are_checked_at_once_and_long_prompts_trimmed_to_15_s(webui, browser, tmp_path):
    url = webui[0]
    page = _english(browser, url)
    note = page.locator("#prompt-audio-note")
    fake = tmp_path / "holiday.wav"
    fake.write_text("these are notes from a holiday, not a recording\n" * 50)
    page.locator("#prompt-audio input[type=file]").set_input_files(str(fake))
    page.wait_for_function("() => document.querySelector('#prompt-audio-note').innerText.includes('not audio')")
    assert "holiday.wav" in note.inner_text()
    page.locator("#prompt-audio input[type=file]").wait_for(state="attached")  # the widget is empty again

    # Ten minutes of 22.05 kHz mono: 26 MB, more than an API upload may be.
    rate = 22050
    voice, _ = sf.read(EXAMPLES / "voice_01.wav", dtype="float32")
    long_take = np.resize(voice, 600 * rate)
    sf.write(tmp_path / "lecture.wav", long_take, rate, subtype="PCM_16")
    page.locator("#prompt-audio input[type=file]").set_input_files(str(tmp_path / "lecture.wav"))
    page.wait_for_function("() => document.querySelector('#prompt-audio-note').innerText.includes('600.0 s')")
    assert "Only the first 15 s" in note.inner_text()
    page.locator("#text-input textarea").fill("Hello.")
    page.get_by_text("Advanced sampling settings").click()
    _set_number(page, "max-mel-tokens", 50)
    info, samples = _generate(page, url)
    assert "of audio" in info and samples > 0
    _switch(page, "中文", "生成语音")
    page.wait_for_function("() => document.querySelector('#prompt-audio-note').innerText.includes('只使用参考音频')")


def test_a_refused_request_logs_one_line_without_a_traceback(webui, browser):
    url, _, folder = webui
    log = folder / "webui.log"
    page = _english(browser, url)
    page.wait_for_function(IDLE_JS)
    before = log.read_text()
    page.locator("#text-input textarea").fill("Hello.")
    page.locator("#generate").click()
    page.get_by_text("Upload or record a voice reference first").first.wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    added = log.read_text()[len(before) :]
    assert "webui request refused: no voice prompt" in added
    assert "Traceback" not in added


@pytest.mark.parametrize("lang, mode", [("en", "emotion vector"), ("zh", "情感向量")])
def test_examples_name_the_emotion_mode_in_the_pages_language(webui, browser, lang, mode):
    page = _english(browser, webui[0])
    if lang == "zh":
        _switch(page, "中文", "生成语音")
    page.get_by_text(f"voice_10 · {mode}").wait_for()
    assert page.get_by_text("voice_10 · vector").count() == 0


def test_the_eight_emotion_sliders_share_one_row_on_a_laptop(webui, browser):
    page = _english(browser, webui[0], 1280, 900)
    page.locator("#emo-mode").get_by_text("Emotion vector", exact=True).click()
    page.locator("#emo-vec-8").wait_for(state="visible")
    tops = [page.locator(f"#emo-vec-{i}").bounding_box()["y"] for i in range(1, 9)]
    assert max(tops) - min(tops) < 2, tops  # Calm sits beside the others, not on a row of its own


def test_the_demo_banner_leaves_a_phones_first_screen_to_the_page(webui, browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True)
    page = _open(browser, webui[0], context=context)
    banner = page.locator("#demo-banner")
    assert "噪声" in banner.inner_text()  # the warning itself is on the first screen
    assert banner.bounding_box()["height"] < 0.15 * 844
    banner.get_by_text("详情").click()  # the details are one tap away
    banner.get_by_text("hf download IndexTeam/IndexTTS-2").wait_for()
    context.close()
