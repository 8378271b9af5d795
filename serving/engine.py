"""Building the one engine of a node process: the real checkpoint, or the demo one, said loudly."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from indextts.checkpoint import resolve_checkpoint
from indextts.errors import CheckpointError
from indextts.factory import is_demo_checkpoint, make_checkpoint
from indextts.pipeline import IndexTTS2

log = logging.getLogger(__name__)

DEMO_DIRNAME = "demo-checkpoint-tiny"


@dataclass(frozen=True)
class EngineOptions:
    model_dir: Path
    cache_dir: Path
    device: str = "auto"
    fp16: bool = False
    demo: bool = False  # force the demo checkpoint even when real weights are present


@dataclass(frozen=True)
class LoadedEngine:
    engine: IndexTTS2
    model_dir: Path
    demo: bool
    demo_reason: str  # why the demo checkpoint is used ("" when it is not)
    load_seconds: float

    @property
    def device(self) -> str:
        return str(self.engine.device)

    @property
    def dtype(self) -> str:
        return str(self.engine.dtype).removeprefix("torch.")


def banner(lines: list[str]) -> str:
    width = max(len(line) for line in lines) + 4
    bar = "!" * width
    return "\n".join([bar, *(f"! {line.ljust(width - 4)} !" for line in lines), bar])


def choose_model_dir(options: EngineOptions) -> tuple[Path, str]:
    """The folder to load and, for the demo checkpoint, why. Raises CheckpointError for a half-installed model."""
    if options.demo:
        return make_checkpoint(options.cache_dir / DEMO_DIRNAME, "tiny"), "--demo was given"
    try:
        resolve_checkpoint(options.model_dir)
        return options.model_dir, ""
    except CheckpointError as missing:
        # Some weights present means someone is installing the real model: finish that, do not hide it.
        if (options.model_dir / "gpt.pth").is_file() or (options.model_dir / "s2mel.pth").is_file():
            raise
        reason = f"no IndexTTS-2 weights in {options.model_dir}/.\n{missing}"
    log.warning(
        "\n%s\n%s",
        banner(
            [
                f"No IndexTTS-2 model in {options.model_dir}/ — using the DEMO checkpoint",
                f"in {options.cache_dir / DEMO_DIRNAME} (random weights, made by the project).",
                "The audio it makes is NOISE, not speech. Get the real model: checkpoints/README.md",
            ]
        ),
        reason,
    )
    return make_checkpoint(options.cache_dir / DEMO_DIRNAME, "tiny"), reason


def load_engine(options: EngineOptions) -> LoadedEngine:
    started = time.perf_counter()
    model_dir, reason = choose_model_dir(options)
    dtype = "float16" if options.fp16 else "float32"  # the engine keeps float32 off CUDA, as the official code
    log.info("loading IndexTTS2 from %s (device %s, %s)…", model_dir, options.device, dtype)
    engine = IndexTTS2(model_dir, device=options.device, dtype=dtype, cache_dir=options.cache_dir)
    demo = bool(reason) or is_demo_checkpoint(model_dir)
    seconds = time.perf_counter() - started
    log.info(
        "model ready on %s (%s) in %.1f s%s", engine.device, engine.dtype, seconds, " — DEMO weights" if demo else ""
    )
    return LoadedEngine(engine, model_dir, demo, reason or ("demo checkpoint" if demo else ""), seconds)
