"""Which checkpoint folder to load: the real model, or — when there are no weights at all — the
tiny demo checkpoint the factory writes, with the reason. Every entry point (CLI, web UI, workers)
decides the same way and says it loudly at its own edge."""

from __future__ import annotations

from pathlib import Path

from indextts.checkpoint import resolve_checkpoint
from indextts.errors import CheckpointError
from indextts.factory import make_checkpoint

DEMO_DIRNAME = "demo-checkpoint-tiny"


def choose_model_dir(model_dir: Path, cache_dir: Path, force_demo: bool = False) -> tuple[Path, str]:
    """(folder to load, why the demo checkpoint is used — "" for the real model).

    A folder with some weights but not all is being installed: its CheckpointError (what is missing,
    how to download it) is raised rather than hidden behind the demo checkpoint.
    """
    if force_demo:
        return make_checkpoint(cache_dir / DEMO_DIRNAME, "tiny"), "the demo checkpoint was asked for"
    try:
        resolve_checkpoint(model_dir)
        return model_dir, ""
    except CheckpointError as missing:
        if (model_dir / "gpt.pth").is_file() or (model_dir / "s2mel.pth").is_file():
            raise
        reason = f"no IndexTTS-2 weights in {model_dir}/.\n{missing}"
    return make_checkpoint(cache_dir / DEMO_DIRNAME, "tiny"), reason


def banner(lines: list[str]) -> str:
    width = max(len(line) for line in lines) + 4
    bar = "!" * width
    return "\n".join([bar, *(f"! {line.ljust(width - 4)} !" for line in lines), bar])


def demo_banner(model_dir: Path, demo_dir: Path) -> str:
    return banner(
        [
            f"No IndexTTS-2 model in {model_dir}/ — running on the DEMO checkpoint in {demo_dir}",
            "(random weights, made by the project): the audio is NOISE, not speech.",
            "Get the real model: see checkpoints/README.md.",
        ]
    )
