"""Streaming inside a segment: the short first segment, spans into the user's text, the chunked
vocoder, and chunks out of the library and the serving runner (tiny random checkpoint, CPU)."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from indextts.errors import Cancelled
from indextts.factory.configs import bigvgan_config
from indextts.text import TextFrontEnd, split_segments
from indextts.text.segmenter import short_first_segment
from indextts.vocoder import BigVGAN, BigVGANConfig, to_pcm16_scale
from indextts.vocoder.streaming import chunk_bounds, receptive_field_frames, vocode_chunks
from serving.engine import LoadedEngine
from serving.jobs import JobState
from serving.node import Node, NodeSettings
from serving.request import parse_request
from tests.conftest import EXAMPLES

FAST = {"max_mel_tokens": 50, "num_beams": 1, "seed": 5}
VOICE = str(EXAMPLES / "voice_01.wav")
ENGLISH = "Hello there, my friend. This is the second sentence of three, with a comma. And here is the last one."
CHINESE = "你好，欢迎使用语音合成。今天是2024年5月3日，气温25度！我们一起去公园散步吧，好不好？"


def P(text: str) -> list[str]:
    return text.split()


# --- the short first segment ---------------------------------------------------------------------

FIRST_SEGMENT = [
    # (pieces, budget, expected first segment)
    ("▁A ▁B .", 4, "▁A ▁B ."),  # the whole text fits
    ("▁A ▁B , ▁C ▁D . ▁E ▁F ▁G .", 6, "▁A ▁B , ▁C ▁D ."),  # "▁A ▁B ," is too short a clause
    ("▁A ▁B , ▁C ▁D ▁E ▁F ▁G .", 6, "▁A ▁B ,"),  # only a shorter clause fits: it
    ("▁A ▁B ▁C ▁D , ▁E ▁F . ▁G ▁H .", 8, "▁A ▁B ▁C ▁D ,"),  # the first clause of 4 words or more
    ("▁HEL LO ▁THE RE , ▁MY ▁FRI END .", 9, "▁HEL LO ▁THE RE , ▁MY ▁FRI END ."),  # words, not pieces
    ("▁A ▁B . ' ▁C ▁D ▁E ▁F .", 6, "▁A ▁B . '"),  # a closing quote goes with its clause
    ("▁A ▁B - ▁C ▁D ▁E ▁F ▁G", 4, "▁A ▁B -"),  # a hyphen is a clause boundary too
    ("▁A ▁B ▁C ▁D ▁E ▁F ▁G .", 4, "▁A ▁B ▁C ▁D"),  # no boundary: cut before the last word start
    ("▁HEL LO ▁WOR LD ▁AGAIN .", 3, "▁HEL LO"),  # … never inside a word
    ("▁HEL LO ▁WOR LD ▁AGAIN .", 4, "▁HEL LO ▁WOR LD"),
    (", ▁A ▁B ▁C ▁D ▁E", 3, ", ▁A ▁B"),  # a lone leading mark is no clause
    ("A B C D E F", 4, "A B C D"),  # one long word: cut at the budget
]


@pytest.mark.parametrize(("pieces", "budget", "expected"), FIRST_SEGMENT)
def test_the_first_segment_is_the_first_clause_of_four_words_within_the_budget(pieces, budget, expected):
    assert short_first_segment(P(pieces), budget) == P(expected)


def test_streaming_changes_only_the_first_segment_and_plain_requests_keep_the_official_cut():
    pieces = P("▁A ▁B , ▁C ▁D . ▁E ▁F ▁G ▁H . ▁I ▁J , ▁K ▁L ▁M .")
    official = split_segments(pieces, 8)
    assert split_segments(pieces, 8, first_segment_tokens=0) == official
    streamed = split_segments(pieces, 8, first_segment_tokens=3)
    assert streamed[0] == P("▁A ▁B ,")
    assert streamed[1:] == split_segments(pieces[3:], 8)  # the rest by the official rules


def test_the_real_front_end_cuts_a_short_first_clause_only_when_asked(frontend: TextFrontEnd):
    plain = frontend.segments(ENGLISH, 120)
    assert len(plain) == 1  # the official cut: all three sentences fit one segment
    streamed = frontend.segments(ENGLISH, 120, first_segment_tokens=20)
    assert len(streamed[0]) <= 20 and streamed[0].text.endswith((",", "."))
    assert [p for s in streamed for p in s.pieces] == list(plain[0].pieces)


# --- spans into the original text ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text", [ENGLISH, CHINESE, "  It cost $3.50, said Dr. Smith on May 5th, 2021! Then we left.  "]
)
def test_each_segment_knows_where_it_came_from_in_the_original_text(frontend: TextFrontEnd, text: str):
    segments, spans = frontend.located_segments(text, 16, first_segment_tokens=8)
    assert len(segments) > 2
    located = [spans.span(i) for i in range(len(segments))]
    assert located[0][0] == len(text) - len(text.lstrip()) and located[-1][1] == len(text.rstrip())
    for before, after in itertools.pairwise(located):
        if before != after:  # (segments whose boundary nothing reproduced share one span)
            assert before[1] <= after[0] and not text[before[1] : after[0]].strip()  # in order, no gaps
    chinese = text == CHINESE
    for segment, (start, end) in zip(segments, located, strict=True):
        if located.count((start, end)) == 1:  # a span of its own reads as exactly its segment
            assert frontend.tokenizer.tokenize(text[start:end], chinese) == list(segment.pieces)


# --- the chunked vocoder -------------------------------------------------------------------------


def _vocoders(engine) -> list[BigVGAN]:
    torch.manual_seed(0)
    full_layers = BigVGANConfig.from_dict(bigvgan_config("full") | {"upsample_initial_channel": 64})
    return [engine.models.vocoder, BigVGAN(full_layers).eval()]  # tiny; the 256× layer structure


def _vocode(vocoder: BigVGAN, mel: torch.Tensor, dtype: torch.dtype) -> tuple[np.ndarray, list[np.ndarray]]:
    vocoder = copy.deepcopy(vocoder).to(dtype)
    with torch.inference_mode():
        whole = to_pcm16_scale(vocoder(mel.to(dtype))).reshape(-1).numpy()
        chunks = [to_pcm16_scale(c).reshape(-1).numpy() for c in vocode_chunks(vocoder, mel.to(dtype), 16, 64)]
    return whole, chunks


def test_chunks_of_the_vocoder_join_to_its_one_shot_output(engine):
    """In float64 the joined chunks are the one-shot samples (the windows hold the whole receptive
    field); in float32 the convolutions round differently for another length, which a random-weight
    network amplifies: ≤ 1 LSB of int16 on the 256× structure (the tiny checkpoint's reaches 2)."""
    mel = torch.randn(1, 80, 90, generator=torch.Generator().manual_seed(1))
    tiny, full = _vocoders(engine)
    for vocoder in (tiny, full):
        whole, chunks = _vocode(vocoder, mel, torch.float64)
        hop = vocoder.config.hop_length
        assert (
            [c.size for c in chunks]
            == [hop * (b - a) for a, b in chunk_bounds(90, 16, 64)]
            == [16 * hop, 32 * hop, 42 * hop]
        )
        assert np.array_equal(np.concatenate(chunks).astype(np.int16), whole.astype(np.int16))
    whole, chunks = _vocode(full, mel, torch.float32)
    assert np.abs(np.concatenate(chunks).astype(np.int16).astype(int) - whole.astype(np.int16)).max() <= 1


def test_the_receptive_field_is_what_makes_the_chunks_equal(engine, monkeypatch):
    """With too little context the joined chunks are audibly off: the bound is not decoration."""
    import indextts.vocoder.streaming as streaming

    vocoder = engine.models.vocoder
    assert receptive_field_frames(vocoder) == 30  # tiny: 4 × 4× stages, kernels 3 and 7
    assert receptive_field_frames(_vocoders(engine)[1]) == 42  # BigVGAN v2 22 kHz 256×: 0.49 s
    mel = torch.randn(1, 80, 120, generator=torch.Generator().manual_seed(2))
    monkeypatch.setattr(streaming, "receptive_field_frames", lambda v: 2)
    with torch.inference_mode():
        whole = to_pcm16_scale(vocoder(mel)).reshape(-1)
        joined = to_pcm16_scale(torch.cat(list(vocode_chunks(vocoder, mel)), -1)).reshape(-1)
    assert (whole - joined).abs().max() > 10


def test_chunk_sizes_start_small_and_double():
    assert chunk_bounds(100, 16, 64) == [(0, 16), (16, 48), (48, 100)]
    assert chunk_bounds(10) == [(0, 10)]
    with pytest.raises(ValueError, match="first"):
        chunk_bounds(10, 0)


# --- chunks out of the library and the runner ----------------------------------------------------


def test_library_chunks_join_to_the_segments_of_the_same_request(engine):
    kwargs = {**FAST, "first_segment_tokens": 12}
    segments = list(engine.infer_stream(VOICE, ENGLISH, **kwargs))
    chunks = list(engine.infer_chunks(VOICE, ENGLISH, **kwargs))
    assert len(segments) > 1 and chunks[0].index == 0 and chunks[0].chunk == 0  # a short first segment
    for segment in segments:
        own = [c for c in chunks if c.index == segment.index]
        assert [c.chunk for c in own] == list(range(len(own)))
        assert [c.last_in_segment for c in own] == [False] * (len(own) - 1) + [True]
        assert {c.span for c in own} == {segment.span} and segment.span is not None
        joined = np.concatenate([c.samples for c in own]).astype(np.int16)
        # float rounding only (a receptive-field error is hundreds): ≤ 1 LSB on 2.0, 2 on 2.5's longer segment
        assert np.abs(joined.astype(int) - segment.samples.astype(np.int16).astype(int)).max() <= 2
    assert ENGLISH[slice(*segments[0].span)].startswith("Hello there")


@pytest.fixture
def node(engine, demo_dir: Path, tmp_path: Path):
    settings = NodeSettings(outputs_dir=tmp_path / "outputs", allowed_dirs=(EXAMPLES,), max_pending=4)
    node = Node(LoadedEngine(engine, demo_dir, True, "tests", 0.0), settings)
    yield node
    node.close()


def test_a_streaming_job_streams_chunks_with_spans_that_join_to_its_result(node: Node, layout: str):
    request = {"text": ENGLISH, "spk_audio": "examples/voice_01.wav", "interval_silence": 100, **FAST}
    streamed = node.submit(parse_request({**request, "streaming": True}), origin="test")
    plain = node.submit(parse_request(request), origin="test")
    for job in (plain, streamed):  # the streaming job has one segment more: it may end last
        node.queue.wait_finished(job, timeout=300)
    assert streamed.state is JobState.COMPLETED and plain.state is JobState.COMPLETED

    # plain: one part per official segment (here one), with its span
    assert [(p.index, p.chunk, p.last_in_segment) for p in plain.parts] == [(0, 0, True)]
    assert plain.parts[0].span == (0, len(ENGLISH))

    # streaming: a short first segment (either generation), in chunks, with its segment's span
    parts = streamed.parts
    assert parts[0].index == 0 and parts[0].audio.size < parts[0].sample_rate * 2
    assert parts[0].count > 1 and ENGLISH[slice(*parts[0].span)].startswith("Hello there")
    if layout == "2":
        assert ENGLISH[slice(*parts[0].span)] == "Hello there, my friend."  # "Hello there," is too short
    gap = np.zeros(int(0.1 * 22050), dtype=np.int16)
    joined: list[np.ndarray] = []
    for index in range(parts[0].count):
        own = [p for p in parts if p.index == index]
        assert [p.chunk for p in own] == list(range(len(own))) and own[-1].last_in_segment
        assert len({p.span for p in own}) == 1
        joined += ([gap] if joined else []) + [p.audio for p in own]
    assert np.array_equal(np.concatenate(joined), streamed.result.audio)


def test_a_streaming_plan_cancelled_after_its_first_chunk_gets_no_more(engine):
    chunks: list = []
    plan = engine.plan(
        VOICE, ENGLISH, **FAST, first_segment_tokens=12, on_chunk=chunks.append, should_stop=lambda: bool(chunks)
    )
    (outcome,) = engine.synthesize_round([(plan, 0)])
    assert isinstance(outcome, Cancelled) and "vocoding" in str(outcome)
    assert [(c.index, c.chunk) for c in chunks] == [(0, 0)]
