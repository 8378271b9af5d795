"""Rounds: one segment of each of several requests, made side by side in two stages.

`generate_round` is the GPT stage: the codes of every segment are generated in one batched decode,
and each segment is handed over (`ReadySegment`) the step its own codes are done, its content latent
made and its flow-matching noise already drawn. `decode_segments` is the decode stage: s2mel flow
matching and the BigVGAN vocoder for one segment alone or a group decoded together.

Drawing the noise at hand-over keeps each request's random stream in the order of a request run
alone (its codes, then its noise, then its next segment's codes), whatever thread decodes it and
whenever: the decode stage never touches a generator. So the stages may overlap (the serving runner
generates the next round while a pool decodes this one) and every segment still sounds as alone.
`synthesize_round` is the library's sequential composition of the two.

Legend: M mel bins, P prompt frames, G generated frames, C content channels.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from indextts.errors import Cancelled
from indextts.gpt.generation import GeneratedCodes
from indextts.s2mel.batched import MelRequest, generate_mel_batch
from indextts.streaming import chunk_handler
from indextts.vocoder import to_pcm16_scale
from indextts.vocoder.batched import vocode_batch

if TYPE_CHECKING:
    from indextts.pipeline import Generated, IndexTTS, RequestPlan, SegmentAudio, StageTimings

log = logging.getLogger(__name__)

DIFFUSION_STEPS = 25
CFG_RATE = 0.7

# solver frames of each segment of a round → groups of segment positions to decode together
DecodeGroups = Callable[[list[int]], list[list[int]]]


@dataclass(eq=False)
class ReadySegment:
    """A segment whose codes are done: all its decode needs, with its random draw already made."""

    plan: RequestPlan
    index: int  # the segment of the plan
    codes: GeneratedCodes
    latent: torch.Tensor  # (1, N, C) 2.0's GPT latent | (1, 2N, H) 2.5's codec decode
    noise: torch.Tensor  # (1, M, P + G) the flow-matching start, drawn from the plan's generator
    timings: StageTimings

    @property
    def frames(self) -> int:
        """Solver frames (prompt + generated): what the decode batching rule groups by."""
        return self.noise.shape[-1]

    @property
    def streaming(self) -> bool:
        return self.plan.on_chunk is not None

    def where(self) -> str:
        return f"segment {self.index + 1}/{len(self.plan.segments)}"


Outcome = ReadySegment | Cancelled
OnReady = Callable[[int, Outcome], None]


def generate_round(
    tts: IndexTTS, work: Sequence[tuple[RequestPlan, int]], on_ready: OnReady | None = None
) -> list[Outcome]:
    """Codes of segment `index` of each plan, generated together; a plan whose `should_stop` said
    stop between decode steps gets a `Cancelled`. `on_ready(position, outcome)` gets each one the
    step it is known (on this thread), while the rest of the round goes on generating."""
    out: dict[int, Outcome] = {}

    def ready(position: int, generated: Generated) -> None:
        out[position] = _ready_segment(tts, *work[position], generated)
        if on_ready is not None:
            on_ready(position, out[position])

    tts.generate_batch(
        [(plan.speaker, plan.emovec, plan.segments[i], plan.settings_for(i), plan.generator) for plan, i in work],
        [plan.should_stop for plan, _ in work],
        [plan.language for plan, _ in work],
        on_ready=ready,
    )
    return [out[k] for k in range(len(work))]


def _ready_segment(tts: IndexTTS, plan: RequestPlan, index: int, generated: Generated) -> Outcome:
    result, latent, timings = generated
    if latent is None:
        return Cancelled(f"cancelled while generating the codes of segment {index + 1}/{len(plan.segments)}")
    frames = tts.decode_frames(plan.speaker, result.codes.shape[0], plan.duration_factor)
    n_mels = plan.speaker.ref_mel.shape[1]
    # The draw `solve_cfm` makes for this segment alone (s2mel runs in float32 on every device).
    noise = torch.randn((1, n_mels, frames), generator=plan.generator, device=tts.device, dtype=torch.float32)
    return ReadySegment(plan, index, result, latent, noise, timings)


def decode_segments(tts: IndexTTS, segments: Sequence[ReadySegment]) -> list[SegmentAudio | Cancelled]:
    """s2mel + vocoder for one group. Alone, the diffusion loop asks the plan's `should_stop`
    between steps, and a streaming plan's audio goes to its `on_chunk` chunk by chunk; together,
    a plan that said stop before the solve is left out. A `Cancelled` stands in for a stopped one."""
    if len(segments) == 1:
        (segment,) = segments
        try:
            wav, timings = _decode_alone(tts, segment)
        except Cancelled as stopped:
            return [Cancelled(f"{stopped} of {segment.where()}")]
        return [_segment_audio(segment, wav, timings, 1)]
    members = [s for s in segments if not s.plan.stop_requested()]
    items = [(s.plan.speaker, s.codes.codes, s.latent, s.plan.generator) for s in members]
    factors = [s.plan.duration_factor for s in members]
    decoded = tts.decode_batch(items, factors, [s.noise for s in members]) if members else []
    made = {id(s): (wav, timings) for s, (_, wav, timings) in zip(members, decoded, strict=True)}
    return [
        _segment_audio(s, *made[id(s)], len(members))
        if id(s) in made
        else Cancelled(f"cancelled before decoding of {s.where()}")
        for s in segments
    ]


@torch.inference_mode()
def _decode_alone(tts: IndexTTS, segment: ReadySegment) -> tuple[torch.Tensor, StageTimings]:
    plan = segment.plan
    _, wav, timings = tts.decode(
        plan.speaker,
        segment.codes.codes,
        segment.latent,
        noise=segment.noise,
        should_stop=plan.should_stop,
        duration_factor=plan.duration_factor,
        on_samples=chunk_handler(plan, segment.index) if plan.on_chunk else None,
    )
    return wav, timings


@torch.inference_mode()
def decode_batch(
    tts: IndexTTS,
    items: Sequence[tuple[object, torch.Tensor, torch.Tensor, torch.Generator | None]],
    duration_factors: Sequence[float] | None = None,
    noises: Sequence[torch.Tensor] | None = None,
) -> list[tuple[torch.Tensor, torch.Tensor, StageTimings]]:
    """`IndexTTS.decode_batch`: one flow-matching solve and one vocoder pass for several segments."""
    from indextts.pipeline import StageTimings

    factors = list(duration_factors) if duration_factors is not None else [1.0] * len(items)
    starts = list(noises) if noises is not None else [None] * len(items)
    if len(items) == 1:
        return [tts.decode(*items[0], noise=starts[0], duration_factor=factors[0])]  # type: ignore[arg-type]
    m, timings = tts.models, StageTimings()
    started = tts._now()
    requests = []
    for (speaker, codes, latent, generator), factor, noise in zip(items, factors, starts, strict=True):
        cond = m.content(codes, latent, factor)  # (1, G, C)
        requests.append(
            MelRequest(speaker.prompt_condition, cond, speaker.ref_mel, speaker.style, generator, noise=noise)  # type: ignore[attr-defined]
        )
    mels = generate_mel_batch(m.s2mel.estimator, requests, DIFFUSION_STEPS, CFG_RATE)  # (1, M, G) each
    timings.s2mel = tts._now() - started
    started = tts._now()
    wavs = [to_pcm16_scale(w).reshape(-1) for w in vocode_batch(m.vocoder, [mel.float() for mel in mels])]
    timings.vocoder = tts._now() - started
    return [(mel, wav, timings) for mel, wav in zip(mels, wavs, strict=True)]


def _segment_audio(
    segment: ReadySegment, wav: torch.Tensor, decode_timings: StageTimings, together: int
) -> SegmentAudio:
    from indextts.pipeline import SegmentAudio

    plan, index, result = segment.plan, segment.index, segment.codes
    count, timings = len(plan.segments), segment.timings
    limit = plan.settings_for(index).max_mel_tokens
    if not result.stopped and limit == plan.settings.max_mel_tokens:  # not the demo's length cap
        log.warning(
            "segment %d/%d reached max_mel_tokens (%d) before the stop code: it may be cut short",
            index + 1,
            count,
            limit,
        )
    timings.add(decode_timings)
    if index == 0:
        timings.prompt, timings.text = plan.prompt_seconds, plan.text_seconds
    log.info(
        "segment %d/%d: %d codes%s, gpt %.2fs + %.2fs, s2mel %.2fs, vocoder %.2fs%s",
        index + 1,
        count,
        result.codes.shape[0],
        "" if result.stopped else f" (hit max_mel_tokens {limit})",
        timings.gpt_generate,
        timings.gpt_latent,
        timings.s2mel,
        timings.vocoder,
        f" (decoded {together} together)" if together > 1 else "",
    )
    samples = wav.cpu().numpy().astype(np.float32)
    text = plan.segments[index].text
    return SegmentAudio(
        index, count, text, samples, int(result.codes.shape[0]), result.stopped, timings, plan.span(index)
    )


def decode_order(segments: Sequence[ReadySegment], decode_groups: DecodeGroups | None) -> list[list[int]]:
    """Groups of positions in `segments`, in the order to decode them: a streaming plan's segment
    alone and first (its first audio should not wait for the others), then the rule's groups."""
    groups = [list(g) for g in decode_groups([s.frames for s in segments]) if g] if decode_groups else None
    groups = groups if groups is not None else [[k] for k in range(len(segments))]
    if sorted(i for group in groups for i in group) != list(range(len(segments))):
        raise ValueError(f"decode groups {groups} must hold each of the {len(segments)} segments once")
    streaming = [k for k, s in enumerate(segments) if s.streaming]
    rest = [g for g in ([k for k in g if k not in streaming] for g in groups) if g]
    return [[k] for k in streaming] + sorted(rest, key=min)


def synthesize_round(
    tts: IndexTTS, work: Sequence[tuple[RequestPlan, int]], decode_groups: DecodeGroups | None = None
) -> Iterator[SegmentAudio | Cancelled]:
    """Both stages one after the other, the segments yielded in the order of `work` (`IndexTTS.synthesize_round`)."""
    generated = generate_round(tts, work)
    live = [k for k, outcome in enumerate(generated) if isinstance(outcome, ReadySegment)]
    ready: list[ReadySegment] = [generated[k] for k in live]  # type: ignore[misc]
    pending = iter(decode_order(ready, decode_groups))
    decoded: dict[int, SegmentAudio | Cancelled] = {}
    for position, outcome in enumerate(generated):
        if isinstance(outcome, Cancelled):
            yield outcome
            continue
        while position not in decoded:  # decode groups until this segment's is done, so order is kept
            group = next(pending)
            outcomes = tts.decode_segments([ready[j] for j in group])  # the engine's: one place to observe
            decoded.update((live[j], o) for j, o in zip(group, outcomes, strict=True))
        yield decoded.pop(position)
