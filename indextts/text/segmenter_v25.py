"""Cutting IndexTTS-2.5 text into segments by token count (the official 2.5 procedure).

Unlike 2.0 (which cuts a list of SentencePiece pieces), 2.5 cuts the text itself and measures
each candidate by encoding it:

1. budget = min(max_tokens, text capacity of the GPT) − tokens of the "<|lang|> " prefix (≥ 1);
   a text within the budget is one segment;
2. otherwise cut it into chunks: a marked pronunciation (<|SPECIAL_TOKEN_n|>…<|SPECIAL_TOKEN_n|>)
   is one chunk; the rest is cut after each of ，。！？、；：,.!?;: and newline, and a piece still over
   the budget is cut character by character where the next character would overflow;
3. pack the chunks greedily: a chunk joins the current segment while the two fit the budget.

Token counts of a concatenation are measured, not added, because BPE merges across the seam.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from indextts.text.annotations import MARKED_READING

_AFTER_PUNCTUATION = re.compile(r"(?<=[，。！？、；：,\.!\?;:\n])")

TokenCount = Callable[[str], int]


def _atomic_pieces(text: str) -> Iterator[tuple[str, bool]]:
    """(piece, is a marked reading) in text order."""
    position = 0
    for match in MARKED_READING.finditer(text):
        if match.start() > position:
            yield text[position : match.start()], False
        yield match.group(), True
        position = match.end()
    if position < len(text):
        yield text[position:], False


def _chunks(text: str, budget: int, count: TokenCount) -> Iterator[str]:
    for piece, atomic in _atomic_pieces(text):
        if atomic:
            yield piece
            continue
        for part in _AFTER_PUNCTUATION.split(piece):
            if not part:
                continue
            if count(part) <= budget:
                yield part
                continue
            current = ""
            for char in part:
                if current and count(current + char) > budget:
                    yield current
                    current = char
                else:
                    current += char
            if current:
                yield current


def split_by_tokens(text: str, budget: int, count: TokenCount) -> list[str]:
    """Segments of `text` of at most `budget` tokens each (a single chunk may exceed it: a marked
    reading or one character is never cut)."""
    if count(text) <= budget:
        return [text]
    segments: list[str] = []
    current = ""
    for chunk in _chunks(text, budget, count):
        if current and count(current + chunk) > budget:
            segments.append(current)
            current = chunk
        else:
            current += chunk
    if current:
        segments.append(current)
    return segments or [text]
