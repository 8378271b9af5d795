"""Where each segment came from in the user's own text: [start, end) character offsets.

The front end rewrites the text before the segmenter sees it (numbers read out, punctuation
mapped, upper-cased, CJK split), so a piece has no position in the original. A segment boundary
does, at clause granularity: segments end at punctuation or between words. So for each boundary,
in order, we look for the end offset e in the original (after the previous boundary s) such that
the front end, run on text[s:e] alone (in the language of the whole text), gives exactly the
pieces from the previous boundary to this one. That verified equality is what a span means here:
the span's text on its own reads as the segment.

The normaliser is slow (English WeText: ~5 ms a character on a busy CPU), so the search reads
each clause (up to punctuation followed by a space or a CJK character, or a full-width mark) once,
joining their pieces; only where the joined pieces disagree with the whole (the normaliser read
across a clause end) is the stretch read again as one. A boundary inside a clause (a hard cut, or
the short first segment's cut between words) is found among that clause's word ends by a binary
search on the piece count. A boundary that nothing reproduces is skipped: the segments on both
sides then share one wider span, still a range that holds their source. No boundary is looked
for inside a pronunciation annotation (`<word|reading>`): the front end reads it as one unit.
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from collections.abc import Callable, Sequence

from indextts.text.rules import CJK_CHAR, PRONUNCIATION_ANNOTATION
from indextts.text.segmenter import QUOTES

Span = tuple[int, int]
Tokenize = Callable[[str], list[str]]  # a part of the text → its pieces, as inside the whole

_NEIGHBOURS_CHECKED = 3
_WORD = re.compile(r"\S+")  # candidates tried after the first one with enough pieces


def _is_word_end(text: str, i: int) -> bool:
    """Can a segment end at offset i (between text[i − 1] and text[i])?"""
    before, after = text[i - 1], text[i] if i < len(text) else " "
    if unicodedata.category(before).startswith("P") or CJK_CHAR.match(before) or CJK_CHAR.match(after):
        return True
    return after.isspace() and not before.isspace()


def _is_clause_end(text: str, i: int) -> bool:
    before, after = text[i - 1], text[i] if i < len(text) else " "
    if not unicodedata.category(before).startswith("P") or unicodedata.category(after).startswith("P"):
        return False
    return after.isspace() or unicodedata.east_asian_width(before) in "FW" or bool(CJK_CHAR.match(after))


def _piece_offsets(pieces: Sequence[str], segments: Sequence[Sequence[str]]) -> list[int]:
    """Offset in `pieces` where each segment ends (a quote copied into two segments counts once)."""
    ends, start = [], 0
    for segment in segments:
        repeated = start and segment and segment[0] in QUOTES and pieces[start - 1] == segment[0]
        if repeated and list(pieces[start : start + len(segment)]) != list(segment):
            start -= 1  # the official segmenter repeats a quote at the start of the next segment
        start += len(segment)
        ends.append(start)
    return ends


class SpanLocator:
    """Spans of a text's segments, each found when first asked for (the normaliser is slow: a
    streaming request's first chunk should wait for its own boundary only)."""

    def __init__(self, text: str, pieces: Sequence[str], segments: Sequence[Sequence[str]], tokenize: Tokenize) -> None:
        self.text, self.pieces = text, list(pieces)
        self.first = len(text) - len(text.lstrip())
        self.last = len(text.rstrip())
        self.inside = _inside_annotations(text)
        self.clause_ends = [
            i for i in range(self.first + 1, self.last) if i not in self.inside and _is_clause_end(text, i)
        ] + [self.last]
        self.tokenize = functools.cache(tokenize)
        self.piece_ends = _piece_offsets(self.pieces, segments)
        self.found: list[int] = []  # text offset of each segment's end; -1 where none reproduced it
        self.start_text, self.start_piece = self.first, 0  # after the last verified end

    def __len__(self) -> int:
        return len(self.piece_ends)

    def span(self, index: int) -> Span:
        """[start, end) of segment `index` in the text."""
        if not 0 <= index < len(self):
            raise IndexError(f"segment {index} of {len(self)}")
        while not any(end >= 0 for end in self.found[index:]):  # the last end is always known
            self._next_boundary()
        end = next(e for e in self.found[index:] if e >= 0)
        begin = self.first
        for previous in reversed(self.found[:index]):
            if previous >= 0:
                begin = _skip_space(self.text, previous)
                break
        return begin, end

    def _next_boundary(self) -> None:
        k = len(self.found)
        if k == len(self) - 1:
            self.found.append(self.last)
            return
        want = self.pieces[self.start_piece : self.piece_ends[k]]
        guess = _same_word_count(self.text, self.start_text, want)
        if guess is not None and self.tokenize(self.text[self.start_text : guess]) == want:
            end = guess  # the common case, one normaliser run: the words came through as words
        else:
            end = _find_end(self.text, self.start_text, want, self.clause_ends, self.tokenize, self.inside)
        self.found.append(end)
        if end >= 0:
            self.start_text, self.start_piece = _skip_space(self.text, end), self.piece_ends[k]


def segment_spans(
    text: str, pieces: Sequence[str], segments: Sequence[Sequence[str]], tokenize: Tokenize
) -> list[Span]:
    """[start, end) offsets into `text` of each segment (`segments` cut from `pieces`, the text's)."""
    locator = SpanLocator(text, pieces, segments, tokenize)
    return [locator.span(i) for i in range(len(locator))]


def _same_word_count(text: str, start: int, want: Sequence[str]) -> int | None:
    """The end of as many words of `text` after `start` as the pieces spell (None: too few)."""
    words = len("".join(want).replace("▁", " ").split())
    for match in _WORD.finditer(text, start):
        words -= 1
        if words == 0:
            return match.end()
    return None


def _skip_space(text: str, offset: int) -> int:
    while offset < len(text) and text[offset].isspace():
        offset += 1
    return offset


def _agrees(pieces: list[str], want: list[str]) -> bool:
    """Do `pieces` and `want` agree as far as both go?"""
    n = min(len(pieces), len(want))
    return pieces[:n] == want[:n]


def _inside_annotations(text: str) -> frozenset[int]:
    """Offsets strictly inside a pronunciation annotation: never a boundary."""
    return frozenset(
        i for match in PRONUNCIATION_ANNOTATION.finditer(text) for i in range(match.start() + 1, match.end())
    )


def _find_end(
    text: str, start: int, want: list[str], clause_ends: list[int], tokenize: Tokenize, inside: frozenset[int]
) -> int:
    """The first end e > start with tokenize(text[start:e]) == want (up to re-reading), or -1."""
    read: list[str] = []  # pieces of text[start:part_start]
    part_start = start
    for end in clause_ends[bisect.bisect_right(clause_ends, start) :]:
        pieces = read + tokenize(text[part_start:end])
        if not _agrees(pieces, want):
            pieces = tokenize(text[start:end])  # the normaliser read across a clause end: read it whole
            part_start = start
            read = []
        if pieces == want:
            return end
        if len(pieces) >= len(want):
            return _find_inside(text, part_start, end, read, want, tokenize, inside) if _agrees(pieces, want) else -1
        read, part_start = pieces, _skip_space(text, end)
    return -1


def _find_inside(
    text: str, start: int, end: int, read: list[str], want: list[str], tokenize: Tokenize, inside: frozenset[int]
) -> int:
    """A word end e in (start, end) with read + tokenize(text[start:e]) == want, or -1."""
    ends = [i for i in range(start + 1, end) if i not in inside and _is_word_end(text, i)]
    lo, hi = 0, len(ends)
    while lo < hi:  # first word end with at least len(want) pieces
        mid = (lo + hi) // 2
        if len(read) + len(tokenize(text[start : ends[mid]])) < len(want):
            lo = mid + 1
        else:
            hi = mid
    for k in range(max(0, lo - 1), min(len(ends), lo + _NEIGHBOURS_CHECKED)):
        if read + tokenize(text[start : ends[k]]) == want:
            return ends[k]
    return -1
