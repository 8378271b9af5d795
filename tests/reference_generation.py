"""The decode loop as it was before the static cache, kept as the reference the fast path must equal.

A dynamic cache that grows and is re-allocated on every beam reorder, the attention over exactly the
filled columns, and every stop checked on the host before the next forward: slow, but plainly the
official decoding semantics (it was checked against the official implementation, parity/README.md).
tests/test_static_decode.py requires the static path to give these codes exactly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from indextts.gpt.generation import (
    GeneratedCodes,
    GenerationSettings,
    _fake_history,
    _Hypotheses,
    process_scores,
)
from indextts.gpt.unified_voice import UnifiedVoice

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
def reference_codes_batch(
    model: UnifiedVoice,
    prefixes: list[torch.Tensor],
    settings: list[GenerationSettings],
    generators: list[torch.Generator | None],
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
    live = searches
    while live:
        offset, keep, codes, still = 0, [], [], []
        for search in live:
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
    return results  # type: ignore[return-value]
