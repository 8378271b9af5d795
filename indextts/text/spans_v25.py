"""The IndexTTS-2.5 prepared text as the span locator's pieces (`indextts.text.spans`).

2.5 segments are cuts of the prepared text itself (`segmenter_v25.py`), not of a token list, and
BPE ids do not add up across a cut, so the locator gets characters instead: every non-space
character is a piece, a marked reading (`<|SPECIAL_TOKEN_n|>…<|SPECIAL_TOKEN_n|>`) is one piece,
and a piece that starts a word carries "▁", SentencePiece-style, so the locator can count words.
A word starts at the text's start, after a space, at and after a CJK character or kana, and at
and after a marked reading. The mark must not depend on where the text was cut: a clause read on
its own starts with a word, so whatever follows a CJK character or a reading without a space
(Chinese, "我喜欢iPhone", "去<行|XING2>") starts one in the whole text too.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

from indextts.text.annotations import MARKED_READING
from indextts.text.rules import CJK_CHAR

WORD_MARK = "▁"
_PIECE = re.compile(f"{MARKED_READING.pattern}|\\S")


def _pieces(text: str) -> list[tuple[int, str]]:
    """(offset, piece) of every piece of `text`, in order."""
    found: list[tuple[int, str]] = []
    word_before = True  # the last piece was a CJK character or a reading (or there was none)
    for match in _PIECE.finditer(text):
        piece, start = match.group(), match.start()
        is_word = len(piece) > 1 or bool(CJK_CHAR.match(piece))
        starts_word = is_word or word_before or text[start - 1].isspace()
        found.append((start, WORD_MARK + piece if starts_word else piece))
        word_before = is_word
    return found


def text_pieces(prepared: str) -> list[str]:
    """'hello, 你好world' → ['▁h', 'e', 'l', 'l', 'o', ',', '▁你', '▁好', '▁w', 'o', 'r', 'l', 'd']."""
    return [piece for _, piece in _pieces(prepared)]


def segment_pieces(segments: Sequence[str]) -> list[list[str]]:
    """The pieces of each segment as they stand in the whole text the segments join to (a
    segment after a cut inside a word starts without a word mark)."""
    whole = _pieces("".join(segments))
    starts = [start for start, _ in whole]
    cut: list[list[str]] = []
    first, end = 0, 0
    for segment in segments:
        end += len(segment)
        last = bisect.bisect_left(starts, end)
        cut.append([piece for _, piece in whole[first:last]])
        first = last
    return cut
