"""Building the one engine of a node process: the real checkpoint, or the demo one, said loudly."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from indextts.factory import demo, is_demo_checkpoint
from indextts.generation import detect_generation
from indextts.length_cap import demo_speech_length
from indextts.pipeline import IndexTTS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineOptions:
    model_dir: Path
    cache_dir: Path
    device: str = "auto"
    fp16: bool = False
    demo: bool = False  # force the demo checkpoint even when real weights are present
    demo_generation: str = "2"  # layout of the demo checkpoint: "2" (IndexTTS-2) or "2.5" (IndexTTS-2.5)
    bf16: bool = False  # bfloat16 on CUDA (IndexTTS-2.5's official option; works for 2.0 too)


@dataclass(frozen=True)
class LoadedEngine:
    engine: IndexTTS
    model_dir: Path
    demo: bool
    demo_reason: str  # why the demo checkpoint is used ("" when it is not)
    load_seconds: float
    cpu_threads: int = 0  # torch CPU threads for the queue's worker thread (0: leave torch's setting)

    def start_worker_thread(self) -> None:
        """Run on the queue's worker thread before its first job (torch's thread count is per thread)."""
        if self.cpu_threads:
            torch.set_num_threads(self.cpu_threads)

    @property
    def device(self) -> str:
        return str(self.engine.device)

    @property
    def dtype(self) -> str:
        return str(self.engine.dtype).removeprefix("torch.")

    @property
    def generation(self) -> str:
        """ "2" or "2.5": which IndexTTS generation this node serves."""
        return self.engine.generation

    @property
    def model_name(self) -> str:
        return f"IndexTTS-{self.engine.generation}"


def choose_model_dir(options: EngineOptions) -> tuple[Path, str]:
    """The folder to load and, for the demo checkpoint, why (logged loudly with what is missing)."""
    model_dir, reason = demo.choose_model_dir(
        options.model_dir,
        options.cache_dir,
        options.demo,
        "2.5" if options.demo_generation == "2.5" else "2",
    )
    if reason and not options.demo:
        log.warning("\n%s\n%s", demo.demo_banner(options.model_dir, model_dir), reason)
    return model_dir, reason


@contextmanager
def single_threaded_torch() -> Iterator[int]:
    """Run torch on one CPU thread inside; yields the thread count that was set before.

    All synthesis runs on the queue's worker thread. If another thread (the main one, loading the
    model) has ever run a multi-threaded torch operation, GNU OpenMP keeps that thread's team alive,
    counts more threads than cores and stops spinning between operations: every small operation on
    the worker then waits for its team to wake up. Measured on 2 cores: the tiny checkpoint's
    s2mel + vocoder took 0.50 s on the worker against 0.23 s on the main thread; loading on one
    thread brings the worker back to 0.23 s.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield previous
    finally:
        torch.set_num_threads(previous)


def load_engine(options: EngineOptions) -> LoadedEngine:
    started = time.perf_counter()
    # the engine keeps float32 off CUDA, as the official code
    dtype = "bfloat16" if options.bf16 else "float16" if options.fp16 else "float32"
    with single_threaded_torch() as cpu_threads:
        model_dir, reason = choose_model_dir(options)
        is_demo = bool(reason) or is_demo_checkpoint(model_dir)
        log.info("loading IndexTTS from %s (device %s, %s)…", model_dir, options.device, dtype)
        # Random weights never emit the stop code: give each segment a length that fits its text.
        cap = demo_speech_length(detect_generation(model_dir)) if is_demo else None
        engine = IndexTTS(
            model_dir, device=options.device, dtype=dtype, cache_dir=options.cache_dir, speech_length_cap=cap
        )
    seconds = time.perf_counter() - started
    log.info(
        "IndexTTS-%s ready on %s (%s) in %.1f s%s",
        engine.generation,
        engine.device,
        engine.dtype,
        seconds,
        " — DEMO weights" if is_demo else "",
    )
    return LoadedEngine(
        engine, model_dir, is_demo, reason or ("demo checkpoint" if is_demo else ""), seconds, cpu_threads
    )
