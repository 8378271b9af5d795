"""Tokenisation and segmentation by `max_text_tokens_per_segment`, with the official rules and quirks.

Piece-level cases spell out the rules one at a time (see indextts/text/segmenter.py); the
end-to-end cases run real text through the normaliser and the demo checkpoint's tokenizer.
"""

from __future__ import annotations

import pytest

from indextts.errors import TextError
from indextts.text import TextFrontEnd, split_segments


def P(text: str) -> list[str]:
    """'▁A ▁B .' → ['▁A', '▁B', '.']"""
    return text.split()


SEGMENTATION = [
    # (pieces, max_tokens, quick_streaming_tokens, expected segments)
    ("", 120, 0, []),
    ("▁A ▁B .", 120, 0, ["▁A ▁B ."]),
    # sentences are cut at ends, then re-packed while they fit
    ("▁A ▁B . ▁C ▁D .", 120, 0, ["▁A ▁B . ▁C ▁D ."]),
    ("▁A ▁B . ▁C ▁D .", 4, 0, ["▁A ▁B .", "▁C ▁D ."]),
    ("▁A ▁B ▁? ▁C ▁D ▁...", 4, 0, ["▁A ▁B ▁?", "▁C ▁D ▁..."]),
    # an end mark with at most 2 pieces before it closes nothing; the overflow is hard-cut
    ("▁A . ▁B ▁C .", 4, 0, ["▁A . ▁B ▁C", "."]),
    # every comma cuts (in a sub-split with commas as ends), whatever the length
    ("▁A ▁B , ▁C ▁D ▁E .", 4, 0, ["▁A ▁B ,", "▁C ▁D ▁E ."]),
    ("▁A ▁B , ▁C ▁D ▁E .", 120, 0, ["▁A ▁B , ▁C ▁D ▁E ."]),
    ("▁A , ▁B ,", 3, 0, ["▁A ,", "▁B ,"]),
    # a hyphen cuts too; a piece of 2 stays whole
    ("▁A - ▁B ▁C ▁D .", 3, 0, ["▁A -", "▁B ▁C ▁D", "."]),
    # a quote right after an end mark is copied into the segment and also starts the next one
    ("▁A ▁B . ' ▁C .", 4, 0, ["▁A ▁B . '", "' ▁C ."]),
    ("▁A ▁B . ' ▁C .", 120, 0, ["▁A ▁B . ' ' ▁C ."]),
    # … which may take a full segment one piece over max
    ("▁A ▁B . ' ▁C .", 3, 0, ["▁A ▁B . '", "' ▁C ."]),
    # a run without any cut point is hard-cut every max pieces, one piece at a time after it
    ("▁A ▁B ▁C ▁D ▁E ▁F ▁G ▁H ▁I ▁J", 4, 0, ["▁A ▁B ▁C ▁D", "▁E", "▁F ▁G ▁H ▁I", "▁J"]),
    # "▁!" is not an end mark (the official vocabulary has no such piece); "!" is
    ("▁X ▁Y ▁! ▁Z .", 4, 0, ["▁X ▁Y ▁! ▁Z", "."]),
    ("▁X ▁Y ! ▁Z .", 4, 0, ["▁X ▁Y !", "▁Z ."]),
    # streaming: the first pieces stay apart until more than quick_streaming_tokens were seen …
    ("▁A ▁B . ▁C ▁D . ▁E ▁F .", 10, 7, ["▁A ▁B .", "▁C ▁D . ▁E ▁F ."]),
    # … unless two pieces fit in half of max
    ("▁A ▁B . ▁C ▁D . ▁E ▁F .", 120, 7, ["▁A ▁B . ▁C ▁D . ▁E ▁F ."]),
]


@pytest.mark.parametrize(("pieces", "max_tokens", "quick", "expected"), SEGMENTATION)
def test_split_segments(pieces, max_tokens, quick, expected):
    segments = split_segments(P(pieces), max_tokens, quick)
    assert [" ".join(segment) for segment in segments] == expected


def test_no_segment_exceeds_max_except_by_a_copied_quote():
    pieces = P("▁A ▁B , ▁C - ▁D ▁E . ' ▁F ▁G ▁H ▁I ▁J ▁K ▁L ▁M ▁N ▁O ▁P ? ▁Q ▁R ▁S ▁T ▁U ▁V ▁W ▁X")
    for max_tokens in range(1, 30):
        segments = split_segments(pieces, max_tokens)
        for segment in segments:
            limit = max_tokens + 1 if segment[-1] in ("'", "▁'") else max_tokens
            assert 1 <= len(segment) <= limit
        flat = [p for segment in segments for p in segment]
        assert [p for p in flat if p != "'"] == [p for p in pieces if p != "'"]


def test_max_tokens_must_be_positive():
    with pytest.raises(TextError, match="max_text_tokens_per_segment"):
        split_segments(P("▁A ."), 0)


LONG = (
    "第十四届全国人民代表大会第一次会议于2023年3月5日在北京开幕，会议听取和审议了政府工作报告，"
    "选举产生了新一届国家机构组成人员，并通过了关于修改立法法的决定。"
)
LONG_PIECES = (
    "▁第 ▁十 ▁四 ▁届 ▁全 ▁国 ▁人 ▁民 ▁代 ▁ 表 ▁大 ▁会 ▁第 ▁一 ▁次 ▁会 ▁议 ▁于 ▁二 "
    "▁零 ▁二 ▁三 ▁年 ▁三 ▁月 ▁五 ▁日 ▁在 ▁北 ▁京 ▁开 ▁幕 ▁, "
    "▁会 ▁议 ▁听 ▁取 ▁和 ▁审 ▁议 ▁了 ▁政 ▁府 ▁工 ▁作 ▁报 ▁告 ▁, "
    "▁ 选 ▁举 ▁产 ▁生 ▁了 ▁新 ▁一 ▁届 ▁国 ▁家 ▁机 ▁构 ▁组 ▁成 ▁人 ▁员 ▁, "
    "▁并 ▁ 通 ▁过 ▁了 ▁关 ▁于 ▁修 ▁改 ▁立 ▁法 ▁法 ▁的 ▁决 ▁定 ▁."
)

END_TO_END = [
    # (text, max_tokens, expected segments as space-joined pieces)
    (
        "今天天气很好。我们去公园吧！明天见。",
        8,
        ["▁今 ▁天 ▁天 ▁气 ▁很 ▁好 ▁.", "▁我 ▁们 ▁去 ▁公 ▁园 ▁吧 ▁ !", "▁明 ▁天 ▁ 见 ▁."],
    ),
    (
        "今天天气很好。我们去公园吧！明天见。",
        120,
        ["▁今 ▁天 ▁天 ▁气 ▁很 ▁好 ▁. ▁我 ▁们 ▁去 ▁公 ▁园 ▁吧 ▁ ! ▁明 ▁天 ▁ 见 ▁."],
    ),
    (
        "第一，准备材料；第二，开始制作；第三，检查结果。",
        6,
        ["▁第 ▁一 ▁,", "▁准 ▁备 ▁材 ▁料 ▁,", "▁第 ▁二 ▁,", "▁开 ▁始 ▁制 ▁作 ▁,", "▁第 ▁三 ▁,", "▁检 ▁查 ▁结 ▁果 ▁."],
    ),
    (
        "Hello world. How are you? I am fine, thank you!",
        6,
        ["▁H ELL O ▁W OR LD", ". ▁H OW ▁ARE ▁YOU ?", "▁I ▁A M ▁F IN E", ", ▁THANK ▁YOU !"],
    ),
    ("他说“好的。”然后走了。", 6, ["▁他 ▁说 ▁' ▁好 ▁的 ▁. '", "' ▁然 ▁后 ▁走 ▁了 ▁."]),
    (
        "会议定在2025年3月18日上午9:30。",
        10,
        ["▁会 ▁议 ▁定 ▁在 ▁二 ▁零 ▁二 ▁五 ▁年 ▁三", "▁月", "▁十 ▁八 ▁日 ▁上 ▁午 ▁九 ▁点 ▁三 ▁十 ▁分", "▁."],
    ),
    # a very long sentence: cut at commas, the over-long first clause hard-cut at max
    (
        LONG,
        20,
        [
            "▁第 ▁十 ▁四 ▁届 ▁全 ▁国 ▁人 ▁民 ▁代 ▁ 表 ▁大 ▁会 ▁第 ▁一 ▁次 ▁会 ▁议 ▁于 ▁二",
            "▁零 ▁二 ▁三 ▁年 ▁三 ▁月 ▁五 ▁日 ▁在 ▁北 ▁京 ▁开 ▁幕 ▁,",
            "▁会 ▁议 ▁听 ▁取 ▁和 ▁审 ▁议 ▁了 ▁政 ▁府 ▁工 ▁作 ▁报 ▁告 ▁,",
            "▁ 选 ▁举 ▁产 ▁生 ▁了 ▁新 ▁一 ▁届 ▁国 ▁家 ▁机 ▁构 ▁组 ▁成 ▁人 ▁员 ▁,",
            "▁并 ▁ 通 ▁过 ▁了 ▁关 ▁于 ▁修 ▁改 ▁立 ▁法 ▁法 ▁的 ▁决 ▁定 ▁.",
        ],
    ),
    (LONG, 120, [LONG_PIECES]),
    # currencies are read out before tokenising
    ("价格是$100，折后¥88.5。", 10, ["▁价 ▁格 ▁是 ▁一 ▁百 ▁美 ▁元 ▁,", "▁折 ▁后 ▁八 ▁十 ▁八 ▁点 ▁五 ▁元 ▁."]),
    # pinyin stays pinyin; a comma cut inside an over-long clause leaves the comma alone
    (
        "最zhong4要的是：不要chong2蹈覆辙。",
        8,
        ["▁最 ▁Z H ONG 4 ▁要 ▁的 ▁是", "▁,", "▁不 ▁要 ▁C H ONG 2 ▁ 蹈", "▁ 覆 ▁ 辙 ▁."],
    ),
    # English numbers and a phone number: every comma of the reading cuts
    (
        "It costs 1,000,000 dollars. Call me at (555) 123-4567!",
        12,
        [
            "▁IT ▁CO ST S ▁ON E ▁M ILLION ▁D O LL AR",
            "S . ▁C ALL ▁M E ▁AT ▁FIVE ▁FIVE ▁FIVE ,",
            "▁ON E ▁TW O ▁TH RE E ,",
            "▁FOUR ▁FIVE ▁SIX ▁SEVEN !",
        ],
    ),
    # "…" is read as "▁..."; an end mark after two pieces does not cut
    ("这酒...里...有毒...", 4, ["▁这 ▁酒 ▁...", "▁里 ▁... ▁有 ▁毒", "▁..."]),
    # English inside Chinese
    (
        "今天是个好日子 it's a good day. 我们出去玩吧。",
        10,
        ["▁今 ▁天 ▁是 ▁个 ▁好 ▁日 ▁子 ▁IT ▁IS ▁A", "▁G OOD ▁D AY .", "▁我 ▁们 ▁出 ▁去 ▁玩 ▁吧 ▁."],
    ),
    ("", 120, []),
    ("   ", 120, []),
]


@pytest.mark.parametrize(("text", "max_tokens", "expected"), END_TO_END)
def test_text_to_segments(frontend: TextFrontEnd, text, max_tokens, expected):
    segments = frontend.segments(text, max_tokens)
    assert [" ".join(segment.pieces) for segment in segments] == expected
    for segment in segments:
        assert list(segment.ids) == frontend.tokenizer.to_ids(segment.pieces)


def test_tokenizer_text_space(frontend: TextFrontEnd):
    tokenizer = frontend.tokenizer
    # CJK characters become words, everything else is upper-cased
    assert tokenizer.prepare("你好hello world的中文") == "你 好 HELLO WORLD 的 中 文"
    # one visible character is encoded as it is: no normalisation, no upper-casing
    assert tokenizer.prepare(" a ") == " a "
    assert tokenizer.tokenize("a") == tokenizer.sp.Encode("a", out_type=str)
    assert tokenizer.prepare("3") == "3" and tokenizer.prepare("33") == "三 十 三"
    assert tokenizer.tokenize("") == []
    # the tokenizer's <s> and </s> are the GPT's start and stop text tokens
    assert tokenizer.to_ids(["<s>", "</s>"]) == [0, 1]
    assert tokenizer.vocab_size <= 12000


def test_unknown_pieces_are_reported(frontend: TextFrontEnd):
    pieces = frontend.tokenizer.tokenize("你好 ☃")
    assert frontend.tokenizer.unknown_pieces(pieces) == ["☃"]
