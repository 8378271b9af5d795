"""Which model generation a checkpoint folder holds: IndexTTS-2 ("2") or IndexTTS-2.5 ("2.5").

Decided from the files and `config.yaml`, before any weight is read:

* IndexTTS-2:   config.yaml (version 2.0), gpt.pth, s2mel.pth, bpe.model (SentencePiece);
* IndexTTS-2.5: config.yaml (version 2.5), gpt.pth, s2mel.pth, codec.pth and a `*.tiktoken` file.

A folder that is neither gets one error naming what is missing for each generation, so a user
with a half-finished download sees which files to fetch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from indextts.config import CONFIG_FILENAME, ModelConfig, parse_config, read_config_mapping
from indextts.config_v25 import CODEC_CHECKPOINT, VERSION_25, ModelConfig25
from indextts.errors import CheckpointError

Generation = Literal["2", "2.5"]
GENERATIONS: tuple[Generation, ...] = ("2", "2.5")
HF_REPOS: dict[Generation, str] = {"2": "IndexTeam/IndexTTS-2", "2.5": "IndexTeam/IndexTTS-2.5"}
CONFIG_CLASSES: dict[Generation, type[ModelConfig]] = {"2": ModelConfig, "2.5": ModelConfig25}

_COMMON_FILES = ("gpt.pth", "s2mel.pth")


def _missing(model_dir: Path, generation: Generation) -> list[str]:
    names = [CONFIG_FILENAME, *_COMMON_FILES]
    missing = [name for name in names if not (model_dir / name).is_file()]
    if generation == "2":
        if not (model_dir / "bpe.model").is_file():
            missing.append("bpe.model")
    else:
        if not (model_dir / CODEC_CHECKPOINT).is_file():
            missing.append(CODEC_CHECKPOINT)
        if not any(model_dir.glob("*.tiktoken")):
            missing.append("a *.tiktoken tokenizer file")
    return missing


def _declared_version(model_dir: Path) -> float | None:
    try:
        mapping, _ = read_config_mapping(model_dir)
    except Exception:  # reported later, by the loader of whichever generation the files say
        return None
    version = mapping.get("version") if isinstance(mapping, dict) else None
    return float(version) if isinstance(version, (int, float)) and not isinstance(version, bool) else None


def detect_generation(model_dir: str | Path) -> Generation:
    """ "2" or "2.5" for a checkpoint folder; `CheckpointError` naming what is missing otherwise."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise CheckpointError(
            f"{model_dir} is not a folder. Download a model: hf download {HF_REPOS['2']} --local-dir {model_dir} "
            f"(IndexTTS-2) or hf download {HF_REPOS['2.5']} --local-dir {model_dir} (IndexTTS-2.5)"
        )
    version = _declared_version(model_dir)
    complete = [g for g in GENERATIONS if not _missing(model_dir, g)]
    if version == VERSION_25 and "2.5" in complete:
        return "2.5"
    if version is not None and version != VERSION_25 and "2" in complete:
        return "2"
    if len(complete) == 1 and version is None:
        return complete[0]
    lines = [
        f"{model_dir} is neither an IndexTTS-2 nor an IndexTTS-2.5 checkpoint folder"
        + (f" (config.yaml says version {version})" if version is not None else "")
        + ":"
    ]
    for generation in GENERATIONS:
        missing = _missing(model_dir, generation) or [f"config.yaml with version {2.0 if generation == '2' else 2.5}"]
        lines.append(
            f"  IndexTTS-{generation} ({HF_REPOS[generation]}) needs: {', '.join(missing)}; "
            f"download with: hf download {HF_REPOS[generation]} --local-dir {model_dir}"
        )
    raise CheckpointError("\n".join(lines))


def load_config_for(model_dir: str | Path) -> ModelConfig:
    """The strictly parsed config of the generation the folder holds."""
    generation = detect_generation(model_dir)
    mapping, path = read_config_mapping(model_dir)
    return parse_config(mapping, str(path), CONFIG_CLASSES[generation])
