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

Segment = list[str]


def split_segments(
    pieces: Sequence[str],
    max_tokens: int = DEFAULT_MAX_TOKENS,
    quick_streaming_tokens: int = 0,
) -> list[Segment]:
    """Segments of at most `max_tokens` pieces, cut at sentence ends, commas and hyphens.

    `quick_streaming_tokens` > 0 keeps the first pieces (until that many were seen) in short
    segments of their own, so the first audio of a stream comes sooner.
    """
    if max_tokens < 1:
        raise TextError(f"max_text_tokens_per_segment must be at least 1, got {max_tokens}")
    return _split(list(pieces), SENTENCE_ENDS, max_tokens, quick_streaming_tokens)


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
