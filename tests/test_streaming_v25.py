"""Streaming inside a segment on IndexTTS-2.5: the short first segment per language, spans into the
user's text through the 2.5 front end, and chunks with spans out of the engine and the OpenAI
route's SSE stream (tiny random 2.5 checkpoint, real normalisers, CPU)."""

from __future__ import annotations

import base64
import itertools
import json
import re
from pathlib import Path

import numpy as np
import pytest
import requests

from indextts.text.segmenter import DEFAULT_FIRST_SEGMENT_TOKENS
from indextts.text.segmenter_v25 import short_first_segment, split_by_tokens, split_streaming
from indextts.text.spans_v25 import text_pieces
from tests.api_servers import http_server, make_node
from tests.conftest import EXAMPLES

# Tests of the 2.5 front end and engine: the `engine` fixture holds a 2.5 model in the --layout 2.5 pass.
V25 = pytest.mark.generation("2.5", reason="the IndexTTS-2.5 front end and engine")

FAST = {"max_mel_tokens": 20, "num_beams": 1, "seed": 4}
VOICE = str(EXAMPLES / "voice_01.wav")
TEXTS = {
    "en": "The library opens at nine in the morning, and closes at six. Visitors may borrow up to 5 books "
    "at a time, for three weeks. Please return them on time.",
    "zh": "你好，欢迎使用语音合成。今天是2024年5月3日，气温25度！我们一起去公园散步吧，好不好？",
    "ja": "こんにちは、元気ですか。東京へ行きます。明日も晴れるといいですね。傘を持って行きましょう。",
    "es": "Hola, ¿cómo estás? Tengo 25 años y vivo en Madrid desde hace mucho tiempo. Me gusta la ciudad.",
}
CLAUSE_END = re.compile(r"[,.!?;:]'?$")


# --- the rule, on text with a stand-in token count --------------------------------------------------


def _count(text: str) -> int:
    """One token per CJK character or kana, per Latin word, per mark (enough to state the rule)."""
    return len(re.findall(r"[\u3040-\u9fff]|[A-Za-z0-9]+|[^\sA-Za-z0-9\u3040-\u9fff]", text))


READING = "<|SPECIAL_TOKEN_1|>G OW1 . IH0 NG<|SPECIAL_TOKEN_1|>"
FIRST_SEGMENT = [
    # (prepared text, budget, expected first segment)
    ("a b.", 4, "a b."),  # the whole text fits
    ("a b, c d. e f g h.", 6, "a b, c d."),  # "a b," is too short a clause
    ("a b, c d e f g h.", 6, "a b,"),  # only a shorter clause fits: it
    ("a b c d, e f. g h.", 8, "a b c d,"),  # the first clause of 4 words or more
    ("今天天气很好，我们去公园。", 12, "今天天气很好，"),
    ("a b.' c d e f g.", 4, "a b.'"),  # a closing quote goes with its clause
    ("a b c d e f g h.", 3, "a b c"),  # no clause end: cut before the last word that starts within it
    ("今天天气很好我们去公园散步吧", 5, "今天天气很"),  # a CJK character is a word
    ("今日 は いい ね . 明日 も", 6, "今日 は いい"),  # ja, spaced into words: a mark stays with its word
    ("今日 は 東京 へ 行き ます", 4, "今日 は"),  # … and only a space ends a word: 東京 is not cut
    (", a b c d e", 3, ", a b"),  # a lone leading mark is no clause
    ("abcdefgh", 3, "abc"),  # one long word: cut where the next character would overflow
    (f"{READING} a b", 2, READING),  # a marked reading is never cut, not even at its own "."
]


@pytest.mark.parametrize(("text", "budget", "expected"), FIRST_SEGMENT)
def test_the_first_segment_is_the_first_clause_of_four_words_within_the_budget(text, budget, expected):
    count = len if text == "abcdefgh" else _count
    spaced_words = " は " in text  # the Japanese front end's output
    assert short_first_segment(text, budget, count, spaced_words) == expected


def test_only_the_first_segment_changes_and_the_segments_join_to_the_text():
    text = "a b, c d. e f g h. i j k."
    streamed = split_streaming(text, 6, 3, _count)
    assert streamed[0] == "a b," and "".join(streamed) == text
    assert streamed[1:] == split_by_tokens(text[len("a b,") :], 6, _count)  # the rest by the official rule


# --- the real front end, per language ---------------------------------------------------------------


@pytest.fixture(scope="module")
def frontend(engine):
    return engine.models.frontend


@V25
@pytest.mark.parametrize("language", sorted(TEXTS))
def test_a_streaming_request_gets_a_short_first_clause_and_a_plain_one_the_official_cut(
    engine, frontend, language: str
):
    text = TEXTS[language]
    prefix = frontend.tokenizer.count(frontend.tokenizer.prefix(language))
    official = frontend.segments(text, language)
    assert engine.split_segments(text, language=language) == official and len(official) == 1
    prepared = frontend.prepare(text, language)
    assert [s.pieces for s in official] == [(prepared,)]  # 2.5's cut: all fits 120 tokens
    streamed = engine.split_segments(text, language=language, first_segment_tokens=DEFAULT_FIRST_SEGMENT_TOKENS)
    assert len(streamed) == 2 and "".join(s.pieces[0] for s in streamed) == prepared  # (a segment's own text)
    first = streamed[0]
    assert len(first.ids) - 1 - prefix <= DEFAULT_FIRST_SEGMENT_TOKENS  # (ids: prefix + text + the stop id)
    assert CLAUSE_END.search(first.text), first.text


@V25
@pytest.mark.parametrize("language", ["en", "ja"])
def test_a_long_first_clause_is_cut_between_words(frontend, language: str):
    text = {
        "en": "Visitors who come to the library on a weekday morning may borrow up to five books at a time.",
        "ja": "今日は東京の大きな図書館で新しい本をたくさん借りてから友達と一緒に公園を散歩しました。",
    }[language]
    first, *rest = frontend.segments(text, language, first_segment_tokens=10)
    prepared = frontend.prepare(text, language)
    (cut,) = first.pieces
    assert rest and prepared.startswith(cut) and prepared[len(cut)] == " "  # a word ends there
    assert len(first.ids) - 1 - frontend.tokenizer.count(frontend.tokenizer.prefix(language)) <= 10


def _check_spans(frontend, text: str, language: str, segments, spans) -> list[tuple[int, int]]:
    """Spans in order and back to back up to spaces, covering the text, each reading as its segment."""
    located = [spans.span(i) for i in range(len(segments))]
    assert located[0][0] == 0 and located[-1][1] == len(text.rstrip())
    for before, after in itertools.pairwise(located):
        assert before[1] <= after[0] and not text[before[1] : after[0]].strip()
    for segment, (start, end) in zip(segments, located, strict=True):
        assert text_pieces(frontend.prepare(text[start:end], language)) == text_pieces(segment.pieces[0])
    return located


@V25
@pytest.mark.parametrize("language", sorted(TEXTS))
def test_each_segment_knows_where_it_came_from_in_the_original_text(frontend, language: str):
    text = TEXTS[language]
    segments, spans = frontend.located_segments(text, language, 50, first_segment_tokens=12)
    assert len(segments) >= 3
    located = _check_spans(frontend, text, language, segments, spans)
    assert len(set(located)) == len(located)  # every boundary found: a span of its own per segment


@V25
def test_annotations_stay_whole_inside_one_span(frontend):
    english = "I am <going|g ow1 . ih0 ng> to the store, and then <read|r iy1 d> a book. Then I will come home."
    chinese = "我们一起去<行|XING2>吧，然后回家。今天天气很好，我们明天再去。"
    for text, language, max_tokens in ((english, "en", 24), (chinese, "zh", 16)):
        segments, spans = frontend.located_segments(text, language, max_tokens, first_segment_tokens=8)
        located = _check_spans(frontend, text, language, segments, spans)
        for annotation in re.finditer(r"<[^>]*>", text):
            assert any(start <= annotation.start() and annotation.end() <= end for start, end in located)
    assert chinese[slice(*located[0])] == "我们一起去"  # the marked reading is a word: the cut falls before it


# --- audio with spans: the engine and one front door ------------------------------------------------


@V25
def test_engine_chunks_of_a_2_5_request_carry_their_segment_spans(engine):
    text = TEXTS["zh"]
    chunks = list(engine.infer_chunks(VOICE, text, language="zh", **FAST))
    assert [(c.index, c.count) for c in chunks] == sorted((c.index, 2) for c in chunks) and chunks[0].chunk == 0
    for index in (0, 1):
        own = [c for c in chunks if c.index == index]
        assert [c.chunk for c in own] == list(range(len(own))) and own[-1].last_in_segment
        assert len({c.span for c in own}) == 1
    assert text[slice(*chunks[0].span)] == "你好，欢迎使用语音合成。"  # the short first clause, heard first
    assert text[slice(*chunks[-1].span)] == text[len("你好，欢迎使用语音合成。") :]
    plain = engine.plan(VOICE, text, language="zh", **FAST)  # not streaming: the official single segment
    assert len(plain.segments) == 1 and plain.span(0) == (0, len(text))


@pytest.fixture(scope="module")
def api25(engine, demo_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    node = make_node(engine, demo_dir, tmp_path_factory.mktemp("streaming25"))
    with http_server(node) as (url, _):
        yield url, node
    node.close()


@V25
def test_openai_sse_streams_a_2_5_request_in_chunks_with_spans(api25):
    url, node = api25
    text = TEXTS["es"]
    body = {"input": text, "voice": "nova", "language": "es", "stream_format": "sse", "response_format": "pcm"}
    body |= {**FAST, "max_mel_tokens": 50}  # (the route's lowest)
    with requests.post(f"{url}/v1/audio/speech", json=body, stream=True, timeout=600) as response:
        assert response.status_code == 200, response.text
        lines = [line for line in response.iter_lines(decode_unicode=True) if line.startswith("data: ")]
    events = [json.loads(line[6:]) for line in lines]
    deltas, done = events[:-1], events[-1]
    assert done["type"] == "speech.audio.done" and len(deltas) >= 4
    assert [d["segment"] for d in deltas] == sorted(d["segment"] for d in deltas) and deltas[0]["segments"] == 2
    spans = [tuple(d["span"]) for d in deltas]
    assert text[slice(*spans[0])] == "Hola, ¿cómo estás?"  # the short first clause, chunk by chunk
    assert spans[-1] == (19, len(text)) and {spans[0], spans[-1]} == set(spans)
    job = next(j for j in reversed(node.queue.jobs()) if j.origin == "openai")
    pcm = np.concatenate([np.frombuffer(base64.b64decode(d["audio"]), "<i2") for d in deltas])
    assert job.payload.request.streaming and pcm.size / 24000 == pytest.approx(job.result.duration, abs=0.01)
