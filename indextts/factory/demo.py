"""Which checkpoint folder to load: the real model, or — when there are no weights at all — the
tiny demo checkpoint the factory writes, with the reason. Every entry point (CLI, web UI, workers)
decides the same way and says it loudly at its own edge."""

from __future__ import annotations

from pathlib import Path

from indextts.checkpoint import CheckpointPaths, resolve_checkpoint
from indextts.errors import CheckpointError
from indextts.factory import make_checkpoint
from indextts.generation import Generation, detect_generation

DEMO_DIRNAME = "demo-checkpoint-tiny"
DEMO_DIRNAMES: dict[str, str] = {"2": DEMO_DIRNAME, "2.5": "demo-checkpoint-tiny-2.5"}
DEMO_SIZES: dict[str, str] = {"2": "tiny", "2.5": "tiny-2.5"}


def resolve_any_checkpoint(model_dir: Path) -> CheckpointPaths:
    """Resolve a folder of either generation (detected from its files); CheckpointError if incomplete."""
    if detect_generation(model_dir) == "2.5":
        from indextts.checkpoint_v25 import resolve_checkpoint_25

        return resolve_checkpoint_25(model_dir)
    return resolve_checkpoint(model_dir)


def demo_checkpoint(cache_dir: Path, generation: Generation = "2") -> Path:
    """The tiny random-weight checkpoint of that generation (written once, then reused)."""
    return make_checkpoint(cache_dir / DEMO_DIRNAMES[generation], DEMO_SIZES[generation])  # type: ignore[arg-type]


def choose_model_dir(
    model_dir: Path, cache_dir: Path, force_demo: bool = False, demo_generation: Generation = "2"
) -> tuple[Path, str]:
    """(folder to load, why the demo checkpoint is used — "" for the real model).

    A folder with some weights but not all is being installed: its CheckpointError (what is missing,
    how to download it) is raised rather than hidden behind the demo checkpoint. `demo_generation`
    picks the demo checkpoint's layout ("2" or "2.5").
    """
    if force_demo:
        return demo_checkpoint(cache_dir, demo_generation), "the demo checkpoint was asked for"
    try:
        resolve_any_checkpoint(model_dir)
        return model_dir, ""
    except CheckpointError as missing:
        if (model_dir / "gpt.pth").is_file() or (model_dir / "s2mel.pth").is_file():
            raise
        reason = f"no IndexTTS-2 or IndexTTS-2.5 weights in {model_dir}/.\n{missing}"
    return demo_checkpoint(cache_dir, demo_generation), reason


def banner(lines: list[str]) -> str:
    width = max(len(line) for line in lines) + 4
    bar = "!" * width
    return "\n".join([bar, *(f"! {line.ljust(width - 4)} !" for line in lines), bar])


def demo_banner(model_dir: Path, demo_dir: Path) -> str:
    return banner(
        [
            f"No IndexTTS model in {model_dir}/ — running on the DEMO checkpoint in {demo_dir}",
            "(random weights, made by the project): the audio is NOISE, not speech.",
            "Get the real model: see checkpoints/README.md.",
        ]
    )
