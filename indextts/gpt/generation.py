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
        if settings.top_k:
            scores = top_k_filter(scores, settings.top_k, keep)
        if settings.top_p is not None and settings.top_p < 1.0:
            scores = top_p_filter(scores, settings.top_p, keep)
    return scores


# --- searches: one request's decoding state ------------------------------------------------------


def _fake_history(model: UnifiedVoice, prefix_len: int, beams: int, device: torch.device) -> torch.Tensor:
    history = torch.ones(beams, prefix_len + 1, dtype=torch.long, device=device)
    history[:, -1] = model.cfg.start_mel_token
    return history  # (K, P+1)


Step = tuple[list[int], torch.Tensor]  # rows of this search's previous step that continue, and their codes (K,)


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

    def advance(self, logits: torch.Tensor) -> Step | None:
        """logits (1, V) → the code to feed next, or None once the result is known."""
        scores = process_scores(logits, self.history, self.settings)  # (1, V)
        if self.settings.do_sample:
            code = torch.multinomial(scores.softmax(dim=-1), 1, generator=self.generator)[:, 0]  # (1,)
        else:
            code = scores.argmax(dim=-1)
        if code.item() == self.stop:
            self.result = GeneratedCodes(torch.cat(self.codes) if self.codes else code[:0], stopped=True)
            return None
        self.codes.append(code)
        self.history = torch.cat([self.history, code[:, None]], dim=1)
        if len(self.codes) == self.settings.max_mel_tokens:
            self.result = GeneratedCodes(torch.cat(self.codes), stopped=False)
            return None
        return [0], code


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
    """num_beams > 1: HF's beam search (sampled or best-first candidates) over log-softmax scores."""

    def __init__(
        self, model: UnifiedVoice, prefix_len: int, settings: GenerationSettings, generator: torch.Generator | None
    ) -> None:
        self.settings, self.generator, self.stop = settings, generator, model.cfg.stop_mel_token
        K = self.rows = settings.num_beams
        self.device = model.mel_head.weight.device
        self.history = _fake_history(model, prefix_len, K, self.device)  # (K, S)
        self.prompt_len = self.history.shape[1]
        self.beam_scores = torch.full((K,), -1e9, device=self.device)
        self.beam_scores[0] = 0.0  # only beam 0 is live at the first step (the beams start identical)
        self.finished = _Hypotheses(K, settings.length_penalty)
        self.result: GeneratedCodes | None = None

    def advance(self, logits: torch.Tensor) -> Step | None:
        """logits (K, V) → which beams continue with which codes, or None once the result is known."""
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
        beams_from, tokens = (picked[0] // V).tolist(), (picked[0] % V).tolist()
        candidate_scores = picked_scores[0].tolist()
        generated_len = self.history.shape[1] + 1 - self.prompt_len
        next_beams, next_tokens, next_scores = [], [], []
        for rank, (beam, token, score) in enumerate(zip(beams_from, tokens, candidate_scores, strict=True)):
            if token == self.stop:
                if rank < K:
                    self.finished.add(self.history[beam, self.prompt_len :].clone(), score, generated_len)
                continue
            next_beams.append(beam)
            next_tokens.append(token)
            next_scores.append(score)
            if len(next_beams) == K:
                break
        is_done = self.finished.done(max(candidate_scores), generated_len)
        chosen = torch.tensor(next_tokens, device=self.device)
        self.history = torch.cat([self.history[torch.tensor(next_beams, device=self.device)], chosen[:, None]], dim=1)
        self.beam_scores = torch.tensor(next_scores, device=self.device)
        if is_done or self.history.shape[1] - self.prompt_len >= settings.max_mel_tokens:
            self._conclude(is_done)
            return None
        return next_beams, chosen

    def _conclude(self, is_done: bool) -> None:
        generated_len = self.history.shape[1] - self.prompt_len
        if not is_done:
            for beam in range(self.rows):
                codes = self.history[beam, self.prompt_len :].clone()
                self.finished.add(codes, self.beam_scores[beam].item(), generated_len)
        best = self.finished.best().codes
        self.result = GeneratedCodes(best, stopped=best.shape[0] < self.settings.max_mel_tokens)


# --- the shared decode loop --------------------------------------------------------------------


class _BatchDecoder:
    """Runs the prefixes of several requests as one left-padded batch, then one code per row per step.

    Every request started at the same step, so every row feeds its k-th code at the same mel
    position (k + 1, the official quirk) and writes the same cache column.
    """

    def __init__(self, model: UnifiedVoice, prefixes: list[torch.Tensor], max_new: int) -> None:
        self.model = model
        lengths = [p.shape[1] for p in prefixes]
        P, device, dtype = max(lengths), prefixes[0].device, prefixes[0].dtype
        self.cache = model.gpt.new_cache(len(prefixes), P + 1 + max_new, device, dtype)
        if min(lengths) != P:
            self.cache.starts = torch.tensor([P - n for n in lengths], device=device)
        padded = torch.cat([F.pad(p, (0, 0, P - p.shape[1], 0)) for p in prefixes])  # (N, P, C), zeros on the left
        start = torch.full((len(prefixes), 1), model.cfg.start_mel_token, device=device)
        first = model.embed_mel(start, torch.zeros(1, dtype=torch.long, device=device)).to(dtype)  # (N, 1, C)
        self.first_logits = model.forward_cached(torch.cat([padded, first], dim=1), self.cache)  # (N, V)
        self.generated = 0

    def step(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (R,) just chosen, one per cache row → logits (R, V) for the next one."""
        self.generated += 1
        position = torch.full((1,), self.generated + 1, dtype=torch.long, device=codes.device)  # the quirk: k + 1
        emb = self.model.embed_mel(codes.unsqueeze(1), position).to(self.cache.keys.dtype)  # (R, 1, C)
        return self.model.forward_cached(emb, self.cache)


@torch.inference_mode()
def generate_codes_batch(
    model: UnifiedVoice,
    prefixes: list[torch.Tensor],
    settings: list[GenerationSettings],
    generators: list[torch.Generator | None],
    should_stop: Sequence[ShouldStop | None] | None = None,
) -> list[GeneratedCodes]:
    """Codes for several segments at once: prefixes (1, P_i, C), each with its own settings and generator.

    One forward per step serves every live row of every request (beams included), so the weights
    are read once per step rather than once per request. A request that finishes leaves the batch;
    each request draws from its own generator in its own order, so its codes do not depend on what
    else ran beside it (up to float rounding of the batched products).
    """
    if any(s.max_mel_tokens < 1 for s in settings):
        raise ValueError("max_mel_tokens must be at least 1")
    decoder = _BatchDecoder(model, prefixes, max(s.max_mel_tokens for s in settings))
    searches = [
        (_BeamSearch if s.num_beams > 1 else _SingleSequence)(model, p.shape[1], s, g)
        for p, s, g in zip(prefixes, settings, generators, strict=True)
    ]
    rows = [i for i, search in enumerate(searches) for _ in range(search.rows)]
    logits = decoder.first_logits
    if len(rows) > len(searches):  # beams start as copies of their request's single prefix row
        index = torch.tensor(rows, device=logits.device)
        decoder.cache.reorder(index)
        logits = logits.index_select(0, index)
    stops = dict(zip(searches, should_stop or [None] * len(searches), strict=True))
    live = searches
    while live:
        offset, keep, codes, still = 0, [], [], []
        for search in live:
            stop = stops[search]
            if stop is not None and stop():
                search.result = GeneratedCodes(logits.new_zeros(0, dtype=torch.long), False, cancelled=True)
                offset += search.rows
                continue
            step = search.advance(logits[offset : offset + search.rows])
            if step is not None:
                continuing, chosen = step
                keep += [offset + row for row in continuing]
                codes.append(chosen)
                still.append(search)
            offset += search.rows
        live = still
        if not live:
            break
        if keep != list(range(offset)):
            decoder.cache.reorder(torch.tensor(keep, device=logits.device))
        logits = decoder.step(torch.cat(codes))
    results = [search.result for search in searches]
    for result, s in zip(results, settings, strict=True):
        if not result.stopped and not result.cancelled:
            log.warning(
                "generation stopped at max_mel_tokens (%d) before the stop code; the segment may be cut short",
                s.max_mel_tokens,
            )
    return results  # type: ignore[return-value]


def generate_codes(
    model: UnifiedVoice,
    prefix: torch.Tensor,
    settings: GenerationSettings = GenerationSettings(),
    generator: torch.Generator | None = None,
) -> GeneratedCodes:
    """Semantic codes for one segment from its prefix (1, P, C) (see `UnifiedVoice.prefix`)."""
    return generate_codes_batch(model, [prefix], [settings], [generator])[0]
