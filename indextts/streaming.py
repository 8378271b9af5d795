"""Audio in chunks as it is made: what a streaming request hands out, and the library's loop.

A streaming request gets a short first segment (`indextts.text.segmenter`; 2.5:
`segmenter_v25.split_streaming`) and its segments' audio in vocoder chunks
(`indextts.vocoder.streaming`), each with the span of the request's text it came from
(`indextts.text.spans`), so the first audio leaves after a clause's worth of work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from indextts.errors import Cancelled
from indextts.text.spans import Span
from indextts.vocoder.streaming import chunk_bounds

if TYPE_CHECKING:
    from indextts.pipeline import IndexTTS2, RequestPlan


@dataclass(frozen=True)
class AudioChunk:
    """A piece of a segment's audio, handed out as soon as the vocoder made it.

    Joined in order, a segment's chunks are its samples (within 1 LSB of the one-shot vocoder).
    """

    index: int  # the segment
    count: int  # segments in the request
    chunk: int  # position inside the segment
    last_in_segment: bool
    text: str  # the segment's text, as the front end read it
    span: Span | None  # [start, end) of the request's own text this segment came from
    samples: np.ndarray  # (n,) float32, PCM scale (±32767)


OnChunk = Callable[[AudioChunk], None]


def chunk_handler(plan: RequestPlan, index: int) -> Callable[[int, int, torch.Tensor], None]:
    """`IndexTTS2.decode`'s `on_samples` for segment `index`: each chunk to the plan's `on_chunk`."""
    assert plan.on_chunk is not None
    on_chunk, text, count = plan.on_chunk, plan.segments[index].text, len(plan.segments)

    def handle(chunk: int, chunks: int, samples: torch.Tensor) -> None:
        audio = samples.cpu().numpy().astype(np.float32)
        on_chunk(AudioChunk(index, count, chunk, chunk == chunks - 1, text, plan.span(index), audio))

    return handle


def stream_chunks(tts: IndexTTS2, plan: RequestPlan) -> Iterator[AudioChunk]:
    """The plan's audio, segment by segment and chunk by chunk, each yielded as soon as it exists.

    The same calls in the same order as `IndexTTS2.infer_stream`, so with a seed the joined chunks
    are its segments' samples (within 1 LSB); raises `Cancelled` when `should_stop` says so.
    """
    count = len(plan.segments)
    for index in range(count):
        segment = plan.segments[index]
        item = (plan.speaker, plan.emovec, segment, plan.settings_for(index), plan.generator)
        ((result, latent, _),) = tts.generate_batch([item], [plan.should_stop])
        if latent is None:
            raise Cancelled(f"cancelled while generating the codes of segment {index + 1}/{count}")
        mel = tts.mel(plan.speaker, result.codes, latent, plan.generator, should_stop=plan.should_stop)
        chunks = len(chunk_bounds(mel.shape[-1]))
        for chunk, samples in enumerate(tts.vocode_chunks(mel, plan.should_stop)):
            audio = samples.cpu().numpy().astype(np.float32)
            yield AudioChunk(index, count, chunk, chunk == chunks - 1, segment.text, plan.span(index), audio)
