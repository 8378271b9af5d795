"""A running job's streamed audio as the front doors send it: the pieces in order, each with the
request's silence in front where a new segment starts, so that the pieces joined are exactly the
job's final audio; where each piece sits in that audio; and the same pieces gathered back into
whole segments for clients that want one WAV per segment.

The runner may emit one `PartialAudio` per segment or several chunks per segment (in-segment
streaming); every function here works for any number.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from indextts.audio import silence_samples
from serving.jobs import PartialAudio


@dataclass(frozen=True)
class StreamedPiece:
    """One piece of the final audio: `audio` = silence (if a segment starts here) + the part's samples."""

    part: PartialAudio
    audio: np.ndarray  # (n,) int16, the leading silence included
    offset: int  # samples of the final audio before this piece
    silence: int  # leading samples of `audio` that are the gap between segments

    @property
    def sample_rate(self) -> int:
        return self.part.sample_rate

    def describe(self) -> dict[str, Any]:
        """What a client needs to place this piece: its segment and chunk, its text and the span of
        the request's text it came from (null when unknown), and where it sits in the final audio."""
        part, rate = self.part, self.part.sample_rate
        return {
            "segment": part.index,
            "segments": part.count,
            "chunk": part.chunk,
            "last_in_segment": part.last_in_segment,
            "text": part.text,
            "span": list(part.span) if part.span is not None else None,
            "sample_rate": rate,
            "samples": int(self.audio.size),
            "offset": self.offset,
            "silence": self.silence,
            "start_time": round(self.offset / rate, 4),
            "end_time": round((self.offset + self.audio.size) / rate, 4),
        }


class PiecePlacer:
    """Turns parts, fed in order, into pieces of the final audio (the gap before every segment but the first)."""

    def __init__(self, interval_silence_ms: int) -> None:
        self.interval_silence_ms = interval_silence_ms
        self.offset = 0

    def place(self, part: PartialAudio) -> StreamedPiece:
        starts_segment = part.chunk == 0 and part.index > 0
        silence = silence_samples(self.interval_silence_ms, part.sample_rate) if starts_segment else 0
        audio = np.concatenate([np.zeros(silence, part.audio.dtype), part.audio]) if silence else part.audio
        piece = StreamedPiece(part, audio, self.offset, silence)
        self.offset += int(audio.size)
        return piece


def pieces(parts: Iterable[PartialAudio], interval_silence_ms: int) -> Iterator[StreamedPiece]:
    """The parts as pieces of the final audio, as they come."""
    placer = PiecePlacer(interval_silence_ms)
    for part in parts:
        yield placer.place(part)


class SegmentGatherer:
    """Gathers parts, fed in order, back into one per segment (no gaps), each once its last chunk is in."""

    def __init__(self) -> None:
        self._held: list[PartialAudio] = []

    def add(self, part: PartialAudio) -> PartialAudio | None:
        self._held.append(part)
        return self.flush() if part.last_in_segment else None

    def flush(self) -> PartialAudio | None:
        """What is held, as one part (a job that ended inside a segment still delivers what was made)."""
        chunks, self._held = self._held, []
        if not chunks:
            return None
        first, last = chunks[0], chunks[-1]
        if len(chunks) == 1:
            return first
        span = (first.span[0], last.span[1]) if first.span is not None and last.span is not None else None
        audio = np.concatenate([chunk.audio for chunk in chunks])
        return PartialAudio(first.index, first.count, first.text, first.sample_rate, audio, span, 0, True)


def segment_count(parts: list[PartialAudio]) -> int:
    """How many segments the job had (its parts may be finer than segments)."""
    return parts[-1].count if parts else 0
