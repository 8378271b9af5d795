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

Ours, for streaming requests only (`split_streaming`): a short first segment, the 2.0 rule
(`indextts.text.segmenter`) applied to text. It ends after the first clause mark (the marks above,
with a quote right after it) whose prefix holds at least `MIN_FIRST_CLAUSE` words and fits
`first_budget`, else after the last one that fits; a first clause longer than
that is cut before the last word that starts within the budget (a CJK character is a word, except
in Japanese, which the front end spaces into words: there only a space starts one); one long word
is cut where the next character would overflow. A marked reading is never cut. The rest is
segmented as above, so the segments still join to the whole text, character for character.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator

from indextts.text.annotations import MARKED_READING
from indextts.text.rules import CJK_CHAR
from indextts.text.segmenter import MIN_FIRST_CLAUSE

_AFTER_PUNCTUATION = re.compile(r"(?<=[，。！？、；：,\.!\?;:\n])")
CLAUSE_MARKS = frozenset("，。！？、；：,.!?;:\n")  # the characters the pattern above cuts after
CLOSING_QUOTES = ("'", '"')

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


def split_streaming(
    text: str, budget: int, first_budget: int, count: TokenCount, spaced_words: bool = False
) -> list[str]:
    """A short first segment of at most `first_budget` tokens (see the module text), then the rest
    cut by `split_by_tokens`. `spaced_words`: words are delimited by spaces only (Japanese)."""
    first = short_first_segment(text, min(first_budget, budget), count, spaced_words)
    rest = text[len(first) :]
    if not rest.strip():
        return [text]
    return [first, *split_by_tokens(rest, budget, count)]


def short_first_segment(text: str, budget: int, count: TokenCount, spaced_words: bool = False) -> str:
    """The start of `text` up to the first clause mark within `budget` tokens that closes at least
    `MIN_FIRST_CLAUSE` words (else the last within it), else up to the last word that starts
    within it, else as many characters as fit (see the module text)."""
    if count(text) <= budget:
        return text
    inside = _inside_readings(text)
    first_word = next((i for i, char in enumerate(text) if char.isalnum()), len(text))
    clause_ends = (
        i + 1 for i, char in enumerate(text) if char in CLAUSE_MARKS and i > first_word and i not in inside
    )  # (a lone leading mark is no clause)

    def words(end: int) -> int:  # in text[:end]; only prefixes within the budget are asked
        return 1 + sum(i not in inside and _starts_word(text, i, spaced_words) for i in range(first_word + 1, end))

    end = _first_clause(text, clause_ends, words, budget, count)
    if end is not None:
        if text[end : end + 1] in CLOSING_QUOTES and count(text[: end + 1]) <= budget:
            end += 1  # the quote that closes the clause goes with it
        return text[:end]
    word_starts = (
        i for i in range(first_word + 1, len(text)) if i not in inside and _starts_word(text, i, spaced_words)
    )
    end = _last_fitting(text, (len(text[:i].rstrip()) for i in word_starts), budget, count)
    if end is None:  # one long word (or a marked reading) over the budget
        cuts = [i for i in range(1, len(text) + 1) if i not in inside]
        end = _last_fitting(text, cuts, budget, count) or cuts[0]
    return text[:end]


def _inside_readings(text: str) -> set[int]:
    """Offsets strictly inside a marked reading: no cut may fall there."""
    return {i for match in MARKED_READING.finditer(text) for i in range(match.start() + 1, match.end())}


def _starts_word(text: str, i: int, spaced_words: bool) -> bool:
    """Does a word start at offset i > 0? (Unless `spaced_words`, a CJK character is a word of its
    own; a mark stays with the word before it, though the Japanese front end spaces it off.)"""
    if text[i].isspace() or unicodedata.category(text[i]).startswith("P"):
        return False
    if text[i - 1].isspace():
        return True
    return not spaced_words and bool(CJK_CHAR.match(text[i]) or CJK_CHAR.match(text[i - 1]))


def _first_clause(
    text: str, ends: Iterable[int], words: Callable[[int], int], budget: int, count: TokenCount
) -> int | None:
    """The first of the clause `ends` whose prefix fits `budget` and holds `MIN_FIRST_CLAUSE` words,
    else the last that fits (only shorter clauses fit)."""
    fitting = None
    for end in ends:
        if count(text[:end]) > budget:
            break
        if words(end) >= MIN_FIRST_CLAUSE:
            return end
        fitting = end
    return fitting


def _last_fitting(text: str, ends: Iterable[int], budget: int, count: TokenCount) -> int | None:
    """The last of `ends` (increasing) whose prefix of `text` fits `budget`; the scan stops at the
    first that does not (a longer prefix has at least as many tokens, give or take a merge)."""
    fitting = None
    for end in ends:
        if end == fitting or end <= 0:
            continue
        if count(text[:end]) > budget:
            break
        fitting = end
    return fitting
