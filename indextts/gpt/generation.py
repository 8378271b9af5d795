"""Autoregressive generation of semantic codes, with the official decoding semantics.

The official code calls Hugging Face `generate` (transformers 4.52) on a wrapper model. This module
reproduces what that call does, step for step, on our own KV-cached backbone:

* the "input ids" are a fake prefix — one `1` per prefix row, then the start code — and the
  repetition penalty sees them, so codes 1 and `start_mel_token` are penalised from the first step;
* the first generated code is embedded at mel position 2, the k-th at k + 1 (position 1 is never
  used: the cached-generation quirk of the Tortoise lineage);
* `num_beams > 1`: beam search over log-softmax scores (penalty → temperature → top-k → top-p on
  the per-beam scores, then the running beam scores added), 2·beams candidates per step drawn
  without replacement (sampling) or taken best-first, finished hypotheses scored by their summed
  scores / generated_len ** length_penalty;
* `num_beams == 1`: the processors run on the raw logits and one code is drawn (or the arg-max).

Deviation, on purpose: the official code always samples (it drops `do_sample`); here
`do_sample=False` really is greedy / deterministic beam search.

Legend: K beams, V vocabulary (number_mel_codes), C model_dim, P prefix length.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from indextts.gpt.static_decode import HostReport, StaticDecoder
from indextts.gpt.unified_voice import UnifiedVoice

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerationSettings:
    """The official `infer` generation arguments and their defaults."""

    do_sample: bool = True
    top_p: float | None = 0.8
    top_k: int | None = 30
    temperature: float = 0.8
    num_beams: int = 3
    repetition_penalty: float = 10.0
    length_penalty: float = 0.0
    max_mel_tokens: int = 1500
    typical_sampling: bool = False
    typical_mass: float = 0.9


ShouldStop = Callable[[], bool]  # a request's cancellation check, asked between decode steps
# Called on the decoding thread with (position, codes) the step a request's result is known
# (finished or cancelled), while the rest of the batch goes on decoding.
OnFinished = Callable[[int, "GeneratedCodes"], None]


@dataclass(frozen=True)
class GeneratedCodes:
    codes: torch.Tensor  # (N,) int64, stop code removed
    stopped: bool  # False when generation ran into max_mel_tokens
    cancelled: bool = False  # its should_stop said stop: left the batch early, codes are unusable


# --- logits processors (transformers 4.52 semantics) --------------------------------------------


def repetition_penalty_(scores: torch.Tensor, history: torch.Tensor, penalty: float) -> torch.Tensor:
    """Every id present in the history: negative scores × penalty, positive ÷ penalty. (K, V)"""
    seen = scores.gather(1, history)  # (K, S)
    seen = torch.where(seen < 0, seen * penalty, seen / penalty)
    return scores.scatter(1, history, seen)


def typical_filter(scores: torch.Tensor, mass: float, keep: int) -> torch.Tensor:
    log_p = F.log_softmax(scores, dim=-1)
    entropy = -(log_p * log_p.exp()).nansum(-1, keepdim=True)  # (K, 1)
    shifted, order = torch.sort((-log_p - entropy).abs(), descending=False)
    cumulative = scores.gather(-1, order).softmax(dim=-1).cumsum(dim=-1)
    last = (cumulative < mass).sum(dim=1).clamp(min=0)
    remove = shifted > shifted.gather(1, last.view(-1, 1))
    if keep > 1:
        remove[..., :keep] = False
    return scores.masked_fill(remove.scatter(1, order, remove), float("-inf"))


def top_k_filter(scores: torch.Tensor, k: int, keep: int) -> torch.Tensor:
    k = min(max(k, keep), scores.shape[-1])
    kth = torch.topk(scores, k)[0][..., -1, None]  # (K, 1)
    return scores.masked_fill(scores < kth, float("-inf"))


def top_p_filter(scores: torch.Tensor, p: float, keep: int) -> torch.Tensor:
    ascending, order = torch.sort(scores, descending=False)
    cumulative = ascending.softmax(dim=-1).cumsum(dim=-1)
    remove = cumulative <= (1 - p)
    remove[..., -keep:] = False
    return scores.masked_fill(remove.scatter(1, order, remove), float("-inf"))


def top_k_top_p_filter(scores: torch.Tensor, k: int, p: float, keep: int) -> torch.Tensor:
    """`top_p_filter(top_k_filter(scores, k, keep), p, keep)`, bit for bit, without sorting the vocabulary.

    After top-k a row has k finite scores, so sorted ascending it is V − k copies of −inf followed by
    the top k reversed: that row (hence its softmax, cumulative sum and cut) is built from `topk`'s
    values instead of a sort of V. Where the result could depend on the order a sort gives equal
    scores — a tie at the k-th score, or equal scores on both sides of the cut — the two filters run.
    The tie checks are read on the host: this is for the CPU, where the sort is a sixth of a step.
    """
    V = scores.shape[-1]
    k = min(max(k, keep), V)
    top, index = torch.topk(scores, min(k + 1, V))  # (K, k + 1) descending: the extra one shows a tie at the k-th
    if k == V or bool((top[..., k] == top[..., k - 1]).any()):
        return top_p_filter(top_k_filter(scores, k, keep), p, keep)
    top, index = top[..., :k], index[..., :k]
    ascending = torch.full_like(scores, float("-inf"))
    ascending[..., V - k :] = top.flip(-1)  # what torch.sort gives the top-k-filtered row, value for value
    remove = (ascending.softmax(dim=-1).cumsum(dim=-1)[..., V - k :] <= (1 - p)).flip(-1)  # (K, k), as `top`
    remove[..., :keep] = False
    if bool(((top[..., 1:] == top[..., :-1]) & (remove[..., 1:] != remove[..., :-1])).any()):
        return top_p_filter(top_k_filter(scores, k, keep), p, keep)
    return torch.full_like(scores, float("-inf")).scatter_(1, index, top.masked_fill(remove, float("-inf")))


def process_scores(scores: torch.Tensor, history: torch.Tensor, settings: GenerationSettings) -> torch.Tensor:
    """HF's processor list for these settings, in its order. scores (K, V), history (K, S)."""
    keep = 2 if settings.num_beams > 1 else 1
    if settings.repetition_penalty != 1.0:
        scores = repetition_penalty_(scores, history, settings.repetition_penalty)
    if settings.typical_sampling:
        scores = typical_filter(scores, settings.typical_mass, keep)
    if settings.do_sample:
        if settings.temperature != 1.0:
            scores = scores / settings.temperature
        top_p = settings.top_p is not None and settings.top_p < 1.0
        if settings.top_k and top_p and scores.device.type == "cpu":
            scores = top_k_top_p_filter(scores, settings.top_k, settings.top_p, keep)  # type: ignore[arg-type]
        else:
            if settings.top_k:
                scores = top_k_filter(scores, settings.top_k, keep)
            if top_p:
                scores = top_p_filter(scores, settings.top_p, keep)  # type: ignore[arg-type]
    return scores


# --- searches: one request's decoding state ------------------------------------------------------


def _fake_history(model: UnifiedVoice, prefix_len: int, beams: int, device: torch.device) -> torch.Tensor:
    history = torch.ones(beams, prefix_len + 1, dtype=torch.long, device=device)
    history[:, -1] = model.cfg.start_mel_token
    return history  # (K, P+1)


# What a search's `advance` returns: the rows of its previous step that continue (host ints, or a
# device tensor when only the device knows yet), the codes they feed next (K,), and a small device
# tensor that `settle` reads once it has reached the host.
Step = tuple[list[int] | torch.Tensor, torch.Tensor, torch.Tensor]


class _SingleSequence:
    """num_beams == 1: process the logits, draw (or take the arg-max of) one code per step."""

    def __init__(
        self, model: UnifiedVoice, prefix_len: int, settings: GenerationSettings, generator: torch.Generator | None
    ) -> None:
        self.settings, self.generator, self.stop = settings, generator, model.cfg.stop_mel_token
        self.history = _fake_history(model, prefix_len, 1, model.mel_head.weight.device)
        self.codes: list[torch.Tensor] = []
        self.rows = 1
        self.result: GeneratedCodes | None = None

    @property
    def exhausted(self) -> bool:
        """The last `advance` drew the last code max_mel_tokens allows (known without the device)."""
        return len(self.codes) == self.settings.max_mel_tokens

    def advance(self, logits: torch.Tensor) -> Step:
        """logits (1, V) → the code to feed next; whether it is the stop code is left on the device."""
        scores = process_scores(logits, self.history, self.settings)  # (1, V)
        if self.settings.do_sample:
            code = torch.multinomial(scores.softmax(dim=-1), 1, generator=self.generator)[:, 0]  # (1,)
        else:
            code = scores.argmax(dim=-1)
        self.codes.append(code)
        self.history = torch.cat([self.history, code[:, None]], dim=1)
        return [0], code, code.double()

    def settle(self, report: list[float]) -> bool:
        """The last code, now on the host: True once the result is known."""
        if int(report[0]) == self.stop:
            self.codes.pop()
            self.result = GeneratedCodes(torch.cat(self.codes) if self.codes else self.history[0, :0], stopped=True)
            return True
        if self.exhausted:
            self.result = GeneratedCodes(torch.cat(self.codes), stopped=False)
            return True
        return False


@dataclass
class _Hypothesis:
    score: float
    codes: torch.Tensor  # generated codes, no stop


class _Hypotheses:
    """HF's BeamHypotheses: the best `beams` finished sequences and the stopping rule."""

    def __init__(self, beams: int, length_penalty: float) -> None:
        self.beams, self.length_penalty = beams, length_penalty
        self.items: list[_Hypothesis] = []
        self.worst = 1e9

    def add(self, codes: torch.Tensor, summed: float, generated_len: int) -> None:
        score = summed / (generated_len**self.length_penalty)
        if len(self.items) < self.beams or score > self.worst:
            self.items.append(_Hypothesis(score, codes))
            if len(self.items) > self.beams:
                ranked = sorted((h.score, i) for i, h in enumerate(self.items))
                del self.items[ranked[0][1]]
                self.worst = ranked[1][0]
            else:
                self.worst = min(score, self.worst)

    def done(self, best_running: float, generated_len: int) -> bool:
        if len(self.items) < self.beams:
            return False
        return self.worst >= best_running / (generated_len**self.length_penalty)

    def best(self) -> _Hypothesis:
        return sorted(self.items, key=lambda h: h.score)[-1]


class _BeamSearch:
    """num_beams > 1: HF's beam search (sampled or best-first candidates) over log-softmax scores.

    The next beams are chosen on the device (the first K candidates in rank order that are not the
    stop code: at most K of the 2K are, one per beam); the finished hypotheses and the stopping rule
    are kept on the host from the candidates, read one step later.
    """

    def __init__(
        self, model: UnifiedVoice, prefix_len: int, settings: GenerationSettings, generator: torch.Generator | None
    ) -> None:
        self.settings, self.generator, self.stop = settings, generator, model.cfg.stop_mel_token
        K = self.rows = settings.num_beams
        self.device = model.mel_head.weight.device
        self.history = _fake_history(model, prefix_len, K, self.device)  # (K, S)
        self.previous = self.history  # the history the last candidates extend
        self.prompt_len = self.history.shape[1]
        self.beam_scores = torch.full((K,), -1e9, device=self.device)
        self.beam_scores[0] = 0.0  # only beam 0 is live at the first step (the beams start identical)
        self.finished = _Hypotheses(K, settings.length_penalty)
        self.result: GeneratedCodes | None = None

    @property
    def exhausted(self) -> bool:
        return self.history.shape[1] - self.prompt_len >= self.settings.max_mel_tokens

    def advance(self, logits: torch.Tensor) -> Step:
        """logits (K, V) → which beams continue (device tensor) with which codes; the candidates as the report."""
        K, settings = self.rows, self.settings
        scores = process_scores(F.log_softmax(logits, dim=-1), self.history, settings)  # (K, V)
        V = scores.shape[-1]
        flat = (scores + self.beam_scores[:, None]).view(1, K * V)
        if settings.do_sample:
            picked = torch.multinomial(flat.softmax(dim=-1), 2 * K, generator=self.generator)  # (1, 2K)
            picked_scores, order = torch.sort(flat.gather(1, picked), descending=True, dim=1)
            picked = picked.gather(1, order)
        else:
            picked_scores, picked = torch.topk(flat, 2 * K, dim=1)
        beams_from, tokens, candidate_scores = picked[0] // V, picked[0] % V, picked_scores[0]  # (2K,) each
        # Stable: non-stop candidates first, in rank order; the first K of them are the next beams.
        chosen = torch.sort((tokens == self.stop).int(), stable=True).indices[:K]
        next_beams = beams_from[chosen]
        self.previous = self.history
        self.history = torch.cat([self.history[next_beams], tokens[chosen, None]], dim=1)
        self.beam_scores = candidate_scores[chosen]
        return next_beams, tokens[chosen], torch.cat([beams_from, tokens, candidate_scores.double()]).double()

    def settle(self, report: list[float]) -> bool:
        """The last step's 2K candidates, now on the host: finished hypotheses, and True once done."""
        K = self.rows
        beams_from, tokens, candidate_scores = report[: 2 * K], report[2 * K : 4 * K], report[4 * K :]
        generated_len = self.previous.shape[1] + 1 - self.prompt_len
        for rank in range(K):  # every stop among the first K ranks ends a hypothesis (HF's rule)
            if int(tokens[rank]) == self.stop:
                beam = int(beams_from[rank])
                self.finished.add(self.previous[beam, self.prompt_len :].clone(), candidate_scores[rank], generated_len)
        is_done = self.finished.done(max(candidate_scores), generated_len)
        if is_done or self.exhausted:
            self._conclude(is_done)
            return True
        return False

    def _conclude(self, is_done: bool) -> None:
        generated_len = self.history.shape[1] - self.prompt_len
        if not is_done:
            for beam in range(self.rows):
                codes = self.history[beam, self.prompt_len :].clone()
                self.finished.add(codes, self.beam_scores[beam].item(), generated_len)
        best = self.finished.best().codes
        self.result = GeneratedCodes(best, stopped=best.shape[0] < self.settings.max_mel_tokens)


def _device_index(rows: list[int] | torch.Tensor, device: torch.device) -> torch.Tensor:
    """Row indices on the device; a run of consecutive rows without a host-to-device copy (which waits)."""
    if isinstance(rows, torch.Tensor):
        return rows
    if rows == list(range(rows[0], rows[0] + len(rows))):
        return torch.arange(rows[0], rows[0] + len(rows), device=device)
    return torch.tensor(rows, device=device)


# --- the shared decode loop --------------------------------------------------------------------


@torch.inference_mode()
def generate_codes_batch(
    model: UnifiedVoice,
    prefixes: list[torch.Tensor],
    settings: list[GenerationSettings],
    generators: list[torch.Generator | None],
    should_stop: Sequence[ShouldStop | None] | None = None,
    decode_step: str = "auto",
    on_finished: OnFinished | None = None,
) -> list[GeneratedCodes]:
    """Codes for several segments at once: prefixes (1, P_i, C), each with its own settings and generator.

    One forward per step serves every live row of every request (beams included), so the weights
    are read once per step rather than once per request. A request that finishes leaves the batch;
    each request draws from its own generator in its own order, so its codes do not depend on what
    else ran beside it (up to float rounding of the batched products).

    The step runs on a static cache (`StaticDecoder`; a CUDA graph on CUDA). The host never waits
    for a forward: each step's choices are queued, the next forward is queued behind them, and only
    then does the host read what the choices were (stop codes, beam candidates), which needs just
    the sampling to have finished. A request found finished then leaves the batch before its
    generator draws again, so the codes equal those of a loop that checked before the forward.
    `on_finished(position, codes)` hands each request over the step it leaves the batch.
    """
    if any(s.max_mel_tokens < 1 for s in settings):
        raise ValueError("max_mel_tokens must be at least 1")
    searches = [
        (_BeamSearch if s.num_beams > 1 else _SingleSequence)(model, p.shape[1], s, g)
        for p, s, g in zip(prefixes, settings, generators, strict=True)
    ]
    rows = [i for i, search in enumerate(searches) for _ in range(search.rows)]  # beams start as copies
    decoder = StaticDecoder(model, prefixes, rows, max(s.max_mel_tokens for s in settings), decode_step)
    logits = decoder.first_logits
    stops = dict(zip(searches, should_stop or [None] * len(searches), strict=True))
    positions = {search: k for k, search in enumerate(searches)}
    live = searches
    while live:
        offset, keep, codes, reports = 0, [], [], []
        for search in live:
            continuing, chosen, report = search.advance(logits[offset : offset + search.rows])
            shifted = continuing + offset if isinstance(continuing, torch.Tensor) else [offset + r for r in continuing]
            keep.append(shifted)
            codes.append(chosen)
            reports.append(report)
            offset += search.rows
        host = HostReport(torch.cat(reports))
        if not all(search.exhausted for search in live):  # else no request needs another forward
            if any(isinstance(k, torch.Tensor) for k in keep):
                decoder.reorder(torch.cat([_device_index(k, logits.device) for k in keep]))
            elif (flat := [r for k in keep for r in k]) != list(range(offset)):
                decoder.reorder(flat)
            logits = decoder.step(torch.cat(codes))
        # Between steps: each request settles what its last choice was, and leaves the batch once
        # its result is known or its should_stop says so (cancelled: it leaves like a finished one).
        values, at, offset, still, kept = host.result(), 0, 0, [], []
        for search, report in zip(live, reports, strict=True):
            finished = search.settle(values[at : at + report.shape[0]])
            stop = stops[search]
            if not finished and stop is not None and stop():
                search.result = GeneratedCodes(logits.new_zeros(0, dtype=torch.long), False, cancelled=True)
                finished = True
            if not finished:
                still.append(search)
                kept += range(offset, offset + search.rows)
            elif on_finished is not None:
                on_finished(positions[search], search.result)  # type: ignore[arg-type]
            at += report.shape[0]
            offset += search.rows
        if still and len(still) != len(live):
            decoder.reorder(kept)
            logits = logits[torch.tensor(kept, device=logits.device)]
        live = still
    results = [search.result for search in searches]
    for result, s in zip(results, settings, strict=True):
        if not result.stopped and not result.cancelled:  # the caller knows whether that limit was expected
            log.debug("generation stopped at max_mel_tokens (%d) before the stop code", s.max_mel_tokens)
    return results  # type: ignore[return-value]


def generate_codes(
    model: UnifiedVoice,
    prefix: torch.Tensor,
    settings: GenerationSettings = GenerationSettings(),
    generator: torch.Generator | None = None,
) -> GeneratedCodes:
    """Semantic codes for one segment from its prefix (1, P, C) (see `UnifiedVoice.prefix`)."""
    return generate_codes_batch(model, [prefix], [settings], [generator])[0]
