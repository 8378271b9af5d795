"""The decode step with fixed shapes: a preallocated KV cache, and on CUDA the step replayed as a CUDA graph.

gpt-fast's recipe applied to UnifiedVoice's batched decode. Every tensor the step touches lives in a
buffer allocated once: the keys/values of every layer (layers, rows, heads, columns, head dim), the
codes fed, the cache column written, the mel position and each row's first real column. The step
reads the host's choices only from those buffers, so on CUDA it is captured once per (rows bucket,
attention window) and replayed: no Python, no allocator and one launch per step. Buckets:
rows (requests × beams) round up to `ROW_BUCKETS`, the attention window (the cache columns a step
reads, masked past the current one) to a multiple of `WINDOW`, so a 20 s utterance uses a handful
of graphs and the attention does not read 2,000 empty columns at every step.

On the CPU the same code runs eagerly (`step_mode`), with the rows and the window exact or, as the
graphs have them, bucketed; either way its codes equal the dynamic-cache loop's
(tests/test_static_decode.py).

The alternative to hand-captured graphs is `compile`: the same buffers and the same fixed-shape step
handed to `torch.compile` (inductor; `mode="reduce-overhead"` on CUDA, i.e. CUDA graphs that
torch records itself, around fused kernels). The cache buffers are marked as static addresses, so
the recorded graphs write into them in place instead of copying them in at every step.

Legend: L layers, R rows (requests × beams), H heads, D head dim, M cache columns, W window,
C model_dim, V number_mel_codes, P longest prefix.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from indextts.gpt.gpt2 import norm32
from indextts.gpt.unified_voice import UnifiedVoice

log = logging.getLogger(__name__)

ROW_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)
WINDOW = 256


def row_bucket(rows: int) -> int:
    for bucket in ROW_BUCKETS:
        if rows <= bucket:
            return bucket
    return -(-rows // 64) * 64


def window_bucket(columns: int, capacity: int) -> int:
    return min(-(-columns // WINDOW) * WINDOW, capacity)


DECODE_STEPS = ("auto", "graph", "compile", "fixed", "exact")
# torch.compile's backend for the "compile" step. Tests on the CPU set "aot_eager" (the same traced
# graph without inductor's code generation, which takes minutes per bucket on a small shared CPU).
COMPILE_BACKEND = "inductor"
# Every (rows bucket, window) pair is its own compiled graph: room for a long batched utterance's.
COMPILE_RECOMPILE_LIMIT = 256


def step_mode(device: torch.device, requested: str = "auto") -> str:
    """How the decode step runs: `requested` (`RuntimeSettings.decode_step`); "auto" is "graph" on
    CUDA and "exact" elsewhere, and "graph" off CUDA runs as "fixed".

    graph: fixed shapes (bucketed rows and window), captured and replayed as CUDA graphs (CUDA only);
    compile: the same fixed shapes through torch.compile (`COMPILE_BACKEND`; on CUDA with
        mode="reduce-overhead", so torch captures the CUDA graphs); any device;
    fixed: the same fixed shapes, run eagerly (what the graphs replay, minus the capture);
    exact: the rows and the attention window exactly as long as needed, run eagerly.
    """
    if requested not in DECODE_STEPS:
        raise ValueError(f"decode_step must be one of {', '.join(DECODE_STEPS)}, got {requested!r}")
    mode = requested
    if mode == "auto":
        mode = "graph" if device.type == "cuda" else "exact"
    if mode == "graph" and device.type != "cuda":
        mode = "fixed"
    return mode


def _hook_signature(model: torch.nn.Module) -> tuple:
    """Which hooks are registered: a captured graph replays the hooks present at capture time only."""
    return tuple(
        (id(m), tuple(m._forward_hooks), tuple(m._forward_pre_hooks))
        for m in model.modules()
        if m._forward_hooks or m._forward_pre_hooks
    )


class _Buffers:
    """Everything the step reads or writes, allocated once for `rows` × `columns`."""

    def __init__(self, model: UnifiedVoice, rows: int, columns: int, device: torch.device, dtype: torch.dtype):
        gpt = model.gpt
        C = gpt.ln_f.normalized_shape[0]
        shape = (len(gpt.h), rows, gpt.heads, columns, C // gpt.heads)
        self.keys = torch.zeros(shape, device=device, dtype=dtype)
        self.values = torch.zeros(shape, device=device, dtype=dtype)
        self.codes = torch.zeros(rows, dtype=torch.long, device=device)
        self.column = torch.zeros(1, dtype=torch.long, device=device)  # the cache column this step writes
        self.position = torch.zeros(1, dtype=torch.long, device=device)  # its mel position
        self.starts = torch.zeros(rows, dtype=torch.long, device=device)  # each row's first real column
        self.arange = torch.arange(columns, device=device)
        self.rows, self.columns, self.dtype = rows, columns, dtype

    def forward(self, model: UnifiedVoice, rows: int, window: int, masked: bool = True) -> torch.Tensor:
        """The step on the first `rows` rows, attending to the first `window` columns → logits (rows, V) fp32.

        masked=False: every row attends to the whole window (it is exactly the filled columns, and no
        row is left-padded), which lets attention take its unmasked kernel, as the dynamic cache did.
        """
        mask = None
        if masked:
            columns = self.arange[:window]
            mask = (columns[None, :] <= self.column) & (columns[None, :] >= self.starts[:rows, None])  # (R, W)
            mask = mask[:, None, None, :]
        emb = model.embed_mel(self.codes[:rows, None], self.position).to(self.dtype)  # (R, 1, C)
        keys, values = self.keys[:, :rows, :, :window], self.values[:, :rows, :, :window]
        hidden = model.gpt.step(emb, keys, values, self.column, mask)  # (R, 1, C)
        return model.mel_head(norm32(model.final_norm, hidden))[:, 0].float()  # (R, V)


class _Graphs:
    """One model's captured steps and the buffers they are bound to (kept across generations)."""

    def __init__(self) -> None:
        self.buffers: _Buffers | None = None
        self.graphs: dict[tuple[int, int], tuple[torch.cuda.CUDAGraph, torch.Tensor]] = {}
        self.signature: tuple = ()
        self.broken = False

    def buffers_for(self, model: UnifiedVoice, rows: int, columns: int, dtype: torch.dtype) -> _Buffers:
        # A graph reads the weights at the addresses they had at capture: a model moved or cast since
        # (new tensors) must be captured again, as must one whose hooks changed.
        weights = tuple(p.data_ptr() for p in model.parameters())
        signature = (_hook_signature(model), dtype, weights)
        b = self.buffers
        if b is None or b.rows < rows or b.columns < columns or b.dtype != dtype or signature != self.signature:
            rows = max(rows, b.rows if b else 0)
            columns = window_bucket(max(columns, b.columns if b else 0), 1 << 30)
            self.graphs.clear()
            self.buffers = None  # free the old cache before allocating the new one
            self.buffers = _Buffers(model, rows, columns, model.mel_head.weight.device, dtype)
            self.signature = signature
        return self.buffers

    def replay(self, model: UnifiedVoice, rows: int, window: int) -> torch.Tensor:
        entry = self.graphs.get((rows, window))
        if entry is None:
            entry = self._capture(model, rows, window)
            self.graphs[(rows, window)] = entry
        entry[0].replay()
        return entry[1]

    def _capture(self, model: UnifiedVoice, rows: int, window: int) -> tuple[torch.cuda.CUDAGraph, torch.Tensor]:
        buffers = self.buffers
        assert buffers is not None
        # Warm-up runs on a side stream, as CUDA graphs require; they compute this very step (same
        # buffers, same column), so running it twice more changes nothing.
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream), torch.autocast("cuda", enabled=False):
            for _ in range(2):
                buffers.forward(model, rows, window)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        # A private memory pool per graph: its intermediates are small (the step's activations and
        # logits; the cache lives outside), and no replay can then overwrite another graph's output.
        # thread_local: the node's other threads (HTTP, streaming) may touch CUDA while this one captures.
        with torch.cuda.graph(graph, capture_error_mode="thread_local"), torch.autocast("cuda", enabled=False):
            out = buffers.forward(model, rows, window)
        log.debug("captured the decode step for %d rows, window %d", rows, window)
        return graph, out


_GRAPHS: weakref.WeakKeyDictionary[UnifiedVoice, _Graphs] = weakref.WeakKeyDictionary()


class _Compiled:
    """One model's step through torch.compile, bound to its buffers (kept across generations, like `_Graphs`)."""

    def __init__(self) -> None:
        self.buffers: _Buffers | None = None
        self.step = None
        self.signature: tuple = ()

    def buffers_for(self, model: UnifiedVoice, rows: int, columns: int, dtype: torch.dtype) -> _Buffers:
        weights = tuple(p.data_ptr() for p in model.parameters())
        signature = (_hook_signature(model), dtype, weights, COMPILE_BACKEND)
        b = self.buffers
        if b is None or b.rows < rows or b.columns < columns or b.dtype != dtype or signature != self.signature:
            rows = max(rows, b.rows if b else 0)
            columns = window_bucket(max(columns, b.columns if b else 0), 1 << 30)
            self.buffers = self.step = None
            b = self.buffers = _Buffers(model, rows, columns, model.mel_head.weight.device, dtype)
            for tensor in (b.keys, b.values, b.codes, b.column, b.position, b.starts, b.arange):
                torch._dynamo.mark_static_address(tensor)  # read and written in place: never copied in
            cuda = b.keys.device.type == "cuda"
            torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, COMPILE_RECOMPILE_LIMIT)
            # A fresh wrapper per buffer set: its guards then refer to these buffers only.
            self.step = torch.compile(
                lambda model, rows, window: b.forward(model, rows, window),
                backend=COMPILE_BACKEND,
                mode="reduce-overhead" if cuda and COMPILE_BACKEND == "inductor" else None,
                fullgraph=True,
                dynamic=False,
            )
            self.signature = signature
        return b

    def run(self, model: UnifiedVoice, rows: int, window: int) -> torch.Tensor:
        # Outputs of torch's CUDA graphs are overwritten by the next replay: copy the logits out
        # (R × V floats), and tell it a new step begins.
        torch.compiler.cudagraph_mark_step_begin()
        return self.step(model, rows, window).clone()


_COMPILED: weakref.WeakKeyDictionary[UnifiedVoice, _Compiled] = weakref.WeakKeyDictionary()


class StaticDecoder:
    """One batched generation's cache and step: the prefixes are prefilled, then one code per row per step.

    Every request started at the same step, so every row feeds its k-th code at the same mel
    position (k + 1, the official quirk) and writes the same cache column.
    """

    def __init__(
        self,
        model: UnifiedVoice,
        prefixes: Sequence[torch.Tensor],
        rows: Sequence[int],
        max_new: int,
        decode_step: str = "auto",
    ):
        """prefixes (1, P_i, C); rows[j] = the prefix that cache row j starts from (beams repeat their prefix)."""
        self.model = model
        lengths = [p.shape[1] for p in prefixes]
        P, device, dtype = max(lengths), prefixes[0].device, prefixes[0].dtype
        self.prefix_len = P
        self.graphs: _Graphs | None = None
        self.compiled: _Compiled | None = None
        self.mode = step_mode(device, decode_step)
        if self.mode == "graph":
            state = _GRAPHS.setdefault(model, _Graphs())
            if state.broken:
                self.mode = "fixed"
            else:
                self.graphs = state
        if self.mode == "compile":
            self.compiled = _COMPILED.setdefault(model, _Compiled())
        columns = P + 1 + max_new
        if self.graphs is not None:
            self.buffers = self.graphs.buffers_for(model, row_bucket(len(rows)), columns, dtype)
        elif self.compiled is not None:
            self.buffers = self.compiled.buffers_for(model, row_bucket(len(rows)), columns, dtype)
        elif self.mode == "fixed":
            self.buffers = _Buffers(model, row_bucket(len(rows)), window_bucket(columns, 1 << 30), device, dtype)
        else:
            self.buffers = _Buffers(model, len(rows), columns, device, dtype)
        # The prefill has one row per request and a dynamic length: it runs as usual, into a small cache.
        prefill = model.gpt.new_cache(len(prefixes), P + 1, device, dtype)
        if min(lengths) != P:
            prefill.starts = torch.tensor([P - n for n in lengths], device=device)
        padded = torch.cat([F.pad(p, (0, 0, P - p.shape[1], 0)) for p in prefixes])  # (N, P, C), zeros on the left
        start = torch.full((len(prefixes), 1), model.cfg.start_mel_token, device=device)
        first = model.embed_mel(start, torch.zeros(1, dtype=torch.long, device=device)).to(dtype)  # (N, 1, C)
        logits = model.forward_cached(torch.cat([padded, first], dim=1), prefill)  # (N, V)
        index = torch.tensor(list(rows), device=device)
        b = self.buffers
        b.keys[:, : len(rows), :, : P + 1] = prefill.keys.index_select(1, index)
        b.values[:, : len(rows), :, : P + 1] = prefill.values.index_select(1, index)
        b.starts.zero_()
        self.padded = prefill.starts is not None
        if prefill.starts is not None:
            b.starts[: len(rows)] = prefill.starts.index_select(0, index)
        self.first_logits = logits.index_select(0, index) if len(rows) != len(prefixes) else logits
        self.rows = len(rows)
        self.generated = 0

    @property
    def filled(self) -> int:
        """Cache columns holding real keys: the prefix, the start code and every code fed so far."""
        return self.prefix_len + 1 + self.generated

    def reorder(self, rows: torch.Tensor | Sequence[int]) -> None:
        """Cache row b becomes the old row rows[b] (beams followed, repeated or dropped; requests leaving)."""
        b, n = self.buffers, self.filled
        index = rows if isinstance(rows, torch.Tensor) else torch.tensor(list(rows), device=b.keys.device)
        count = index.shape[0]
        b.keys[:, :count, :, :n] = b.keys[:, :, :, :n].index_select(1, index)
        b.values[:, :count, :, :n] = b.values[:, :, :, :n].index_select(1, index)
        b.starts[:count] = b.starts.index_select(0, index)
        self.rows = count

    def step(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (R,) just chosen, one per cache row → logits (R, V) for the next one."""
        b, R = self.buffers, codes.shape[0]
        column = self.filled
        self.generated += 1
        b.codes[:R].copy_(codes)
        b.column.fill_(column)
        b.position.fill_(self.generated + 1)  # the quirk: the k-th code sits at mel position k + 1
        if self.mode == "exact":
            return b.forward(self.model, R, column + 1, masked=self.padded)
        rows, window = row_bucket(R), window_bucket(column + 1, b.columns)
        if self.graphs is not None:
            try:
                return self.graphs.replay(self.model, rows, window)[:R]
            except RuntimeError:
                # A capture that fails (an unsupported op, a driver without graphs) must not fail the request.
                log.exception("CUDA graph capture failed; this model decodes with fixed shapes, eagerly, from now on")
                self.graphs.broken, self.graphs, self.mode = True, None, "fixed"
        if self.compiled is not None:
            return self.compiled.run(self.model, rows, window)[:R]
        return b.forward(self.model, rows, window)[:R]


class HostReport:
    """A small device tensor on its way to the host, read later without waiting for work queued after it."""

    def __init__(self, values: torch.Tensor) -> None:
        self.event: torch.cuda.Event | None = None
        if values.device.type == "cuda":
            self.host = torch.empty(values.shape, dtype=values.dtype, pin_memory=True)
            self.host.copy_(values, non_blocking=True)
            self.event = torch.cuda.Event()
            self.event.record()
        else:
            self.host = values

    def result(self) -> list[float]:
        if self.event is not None:
            self.event.synchronize()
        return self.host.tolist()
