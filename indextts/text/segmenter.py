"""Cutting a tokenised text into segments of at most `max_text_tokens_per_segment` pieces.

The official procedure, quirks included, because the segment boundaries decide what each GPT
call sees:

1. Walk the pieces; after each piece, the first rule that applies:
   a. the running segment holds a comma while commas are not yet boundaries at this level →
      split it again with commas as boundaries;
   b. likewise for a hyphen;
   c. it fits (≤ max): on a boundary piece with more than 2 pieces so far, close it (a quote
      piece right after the boundary is copied into it *and* stays at the start of the next
      segment, so such a segment can hold max + 1 pieces);
   d. it overflows: hard-cut it into chunks of `max` pieces.
2. Re-pack greedily: join a piece to the previous segment when the two fit in `max` and more
   than `quick_streaming_tokens` pieces have been seen, or when they fit in `max / 2`.

Ours, for streaming requests only (`first_segment_tokens` > 0): a short first segment, so the
first audio comes after a few words' worth of GPT, s2mel and vocoder work instead of up to
`max` pieces' worth. It ends at the first clause boundary (sentence end, comma or hyphen, with a
quote that follows it) that closes at least `MIN_FIRST_CLAUSE` words, within the first
`first_segment_tokens` pieces (the s2mel of a first segment redoes the prompt's frames: its own
length is what is left to cut); with only shorter clauses there, at the last boundary within the
budget; a first clause longer than the budget is cut before the last word that starts within it
(a CJK character is a word), and a run of one word is cut at the budget. The rest is segmented by
the official rules above.
(Official `quick_streaming_tokens` only stops the re-packing from merging beyond `max / 2` over
the first pieces: with the default 120, a first segment can still hold 60 pieces.)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from indextts.errors import TextError

log = logging.getLogger(__name__)

SENTENCE_ENDS = frozenset({".", "!", "?", "▁.", "▁?", "▁..."})
COMMAS = frozenset({",", "▁,"})
HYPHENS = frozenset({"-"})
QUOTES = frozenset({"'", "▁'"})

DEFAULT_MAX_TOKENS = 120
DEFAULT_FIRST_SEGMENT_TOKENS = 20  # streaming requests: ≈ a clause, ≈ 1–2 s of speech
MIN_FIRST_CLAUSE = 4  # words (a CJK character is one): not "Hello there," alone, but "今天的天气非常好，"

Segment = list[str]


def split_segments(
    pieces: Sequence[str],
    max_tokens: int = DEFAULT_MAX_TOKENS,
    quick_streaming_tokens: int = 0,
    first_segment_tokens: int = 0,
) -> list[Segment]:
    """Segments of at most `max_tokens` pieces, cut at sentence ends, commas and hyphens.

    `quick_streaming_tokens` > 0 keeps the first pieces (until that many were seen) in short
    segments of their own, so the first audio of a stream comes sooner (official).
    `first_segment_tokens` > 0 makes the first segment a clause of at most that many pieces,
    the rest segmented as without it (ours, see the module text); 0 keeps the official result.
    """
    if max_tokens < 1:
        raise TextError(f"max_text_tokens_per_segment must be at least 1, got {max_tokens}")
    if first_segment_tokens < 0:
        raise TextError(f"first_segment_tokens must be 0 (off) or more, got {first_segment_tokens}")
    pieces = list(pieces)
    if first_segment_tokens and pieces:
        first = short_first_segment(pieces, min(first_segment_tokens, max_tokens))
        return [first, *_split(pieces[len(first) :], SENTENCE_ENDS, max_tokens, quick_streaming_tokens)]
    return _split(pieces, SENTENCE_ENDS, max_tokens, quick_streaming_tokens)


def short_first_segment(pieces: Sequence[str], budget: int) -> Segment:
    """The first pieces up to the first clause boundary within `budget` that closes at least
    `MIN_FIRST_CLAUSE` words, else the last one within it (see the module text)."""
    if len(pieces) <= budget:
        return list(pieces)
    boundaries = SENTENCE_ENDS | COMMAS | HYPHENS
    ends = [i + 1 for i, piece in enumerate(pieces[:budget]) if piece in boundaries and i > 0]
    if ends:
        word_starts = [i for i, piece in enumerate(pieces[:budget]) if piece[:1] == "▁" and piece[1:2].isalnum()]
        end = next((e for e in ends if sum(i < e for i in word_starts) >= MIN_FIRST_CLAUSE), ends[-1])
        if end < len(pieces) and pieces[end] in QUOTES and end < budget:
            end += 1  # the quote that closes the clause goes with it
        return list(pieces[:end])
    word_starts = [i for i in range(1, budget + 1) if pieces[i].startswith("▁")]
    return list(pieces[: word_starts[-1] if word_starts else budget])


def _split(pieces: list[str], boundaries: frozenset[str], max_tokens: int, quick: int) -> list[Segment]:
    if not pieces:
        return []
    cut: list[Segment] = []
    current: Segment = []
    for index, piece in enumerate(pieces):
        current.append(piece)
        if not boundaries & COMMAS and any(p in COMMAS for p in current):
            cut.extend(_split(current, COMMAS, max_tokens, quick))
            current = []
        elif not boundaries & HYPHENS and any(p in HYPHENS for p in current):
            cut.extend(_split(current, HYPHENS, max_tokens, quick))
            current = []
        elif len(current) <= max_tokens:
            if piece in boundaries and len(current) > 2:
                following = pieces[index + 1] if index + 1 < len(pieces) else None
                if following in QUOTES:
                    current.append(following)
                cut.append(current)
                current = []
        else:
            log.warning("A run of %d pieces has no place to cut; hard-cutting it every %d.", len(current), max_tokens)
            cut.extend(current[start : start + max_tokens] for start in range(0, len(current), max_tokens))
            current = []
    if current:
        cut.append(current)
    return _repack(cut, max_tokens, quick)


def _repack(cut: list[Segment], max_tokens: int, quick: int) -> list[Segment]:
    packed: list[Segment] = []
    seen = 0
    for segment in cut:
        seen += len(segment)
        if not segment:
            continue
        if packed and (
            (len(packed[-1]) + len(segment) <= max_tokens and seen > quick)
            or len(packed[-1]) + len(segment) <= max_tokens / 2
        ):
            packed[-1] = packed[-1] + segment
        else:
            packed.append(segment)
    return packed


def segment_text(pieces: Sequence[str]) -> str:
    """Readable text of a segment: SentencePiece word marks become spaces."""
    return "".join(pieces).replace("▁", " ").strip()
