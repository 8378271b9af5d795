"""Finding the files of an IndexTTS-2 checkpoint and its external components, and loading gpt.pth.

A model directory is the unchanged IndexTeam/IndexTTS-2 download: config.yaml, gpt.pth, s2mel.pth,
bpe.model, wav2vec2bert_stats.pt, feat1.pt, feat2.pt and qwen0.6bemo4-merge/. Four components come
from other repositories (§2); each is looked for

1. in `<model_dir>/hf_cache/` under the names the official code uses, then
2. in the Hugging Face cache (offline: only what is already downloaded, so `HF_HUB_OFFLINE=1` works),

and if any is missing, one error lists every missing piece with the exact download command.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from indextts.config import CONFIG_FILENAME, ModelConfig, load_config
from indextts.errors import CheckpointError
from indextts.weights import StateDict, build_on_meta, load_strict, torch_load

log = logging.getLogger(__name__)

HF_CACHE_DIRNAME = "hf_cache"


@dataclass(frozen=True)
class ExternalComponent:
    """Where one auxiliary model lives: its name under hf_cache/ and its hub repository and files."""

    label: str
    local_name: str  # under <model_dir>/hf_cache/
    repo_id: str
    files: tuple[str, ...]  # paths inside the repository
    is_folder: bool  # the component is a folder of files (else the single file files[0])

    def download_command(self, model_dir: Path) -> str:
        target = model_dir / HF_CACHE_DIRNAME
        if self.is_folder:
            return f"hf download {self.repo_id} {' '.join(self.files)} --local-dir {target / self.local_name}"
        return (
            f"hf download {self.repo_id} {self.files[0]} --local-dir {target} && "
            f"mv {target / self.files[0]} {target / self.local_name}"
            if self.files[0] != self.local_name
            else f"hf download {self.repo_id} {self.files[0]} --local-dir {target}"
        )


W2V_BERT = ExternalComponent(
    "w2v-BERT 2.0",
    "w2v-bert-2.0",
    "facebook/w2v-bert-2.0",
    ("config.json", "preprocessor_config.json", "model.safetensors"),
    True,
)
SEMANTIC_CODEC = ExternalComponent(
    "MaskGCT semantic codec",
    "semantic_codec_model.safetensors",
    "amphion/MaskGCT",
    ("semantic_codec/model.safetensors",),
    False,
)
CAMPPLUS = ExternalComponent(
    "CAMPPlus speaker encoder", "campplus_cn_common.bin", "funasr/campplus", ("campplus_cn_common.bin",), False
)
BIGVGAN = ExternalComponent(
    "BigVGAN v2 vocoder",
    "bigvgan",
    "nvidia/bigvgan_v2_22khz_80band_256x",
    ("config.json", "bigvgan_generator.pt"),
    True,
)
EXTERNAL_COMPONENTS = (W2V_BERT, SEMANTIC_CODEC, CAMPPLUS, BIGVGAN)


def _from_hf_cache(component: ExternalComponent) -> Path | None:
    """The component's path in the local Hugging Face cache, without any network access."""
    from huggingface_hub import try_to_load_from_cache

    found: list[Path] = []
    for filename in component.files:
        hit = try_to_load_from_cache(component.repo_id, filename)
        if not isinstance(hit, str):
            return None
        found.append(Path(hit))
    return found[0].parent if component.is_folder else found[0]


def resolve_component(model_dir: Path, component: ExternalComponent) -> Path | None:
    local = model_dir / HF_CACHE_DIRNAME / component.local_name
    if component.is_folder:
        if all((local / name).is_file() for name in component.files):
            return local
    elif local.is_file():
        return local
    return _from_hf_cache(component)


@dataclass(frozen=True)
class CheckpointPaths:
    """Every file the engine reads, resolved once."""

    model_dir: Path
    config: ModelConfig
    gpt: Path
    s2mel: Path
    bpe: Path
    w2v_stats: Path
    spk_matrix: Path
    emo_matrix: Path
    qwen_emo: Path  # only needed for emotion-from-text; checked when first used
    w2v_bert: Path
    semantic_codec: Path
    campplus: Path
    bigvgan: Path


def resolve_checkpoint(model_dir: str | Path) -> CheckpointPaths:
    """Check the model directory and find the external components; one error lists all that is missing."""
    model_dir = Path(model_dir)
    if not (model_dir / CONFIG_FILENAME).is_file():
        raise CheckpointError(
            f"{model_dir} has no {CONFIG_FILENAME}. Download the model: "
            f"hf download IndexTeam/IndexTTS-2 --local-dir {model_dir} (see checkpoints/README.md)"
        )
    cfg = load_config(model_dir)
    own = {
        "gpt": cfg.gpt_checkpoint,
        "s2mel": cfg.s2mel_checkpoint,
        "bpe": cfg.dataset.bpe_model,
        "w2v_stats": cfg.w2v_stat,
        "spk_matrix": cfg.spk_matrix,
        "emo_matrix": cfg.emo_matrix,
    }
    problems = [f"missing {model_dir / name}" for name in own.values() if not (model_dir / name).is_file()]
    commands = [f"hf download IndexTeam/IndexTTS-2 --local-dir {model_dir}"] if problems else []
    external: dict[str, Path] = {}
    for key, component in zip(("w2v_bert", "semantic_codec", "campplus", "bigvgan"), EXTERNAL_COMPONENTS, strict=True):
        path = resolve_component(model_dir, component)
        if path is None:
            problems.append(
                f"missing {component.label}: not in {model_dir / HF_CACHE_DIRNAME / component.local_name} "
                f"nor in the Hugging Face cache"
            )
            commands.append(component.download_command(model_dir))
        else:
            external[key] = path
    if problems:
        raise CheckpointError(
            "The checkpoint is incomplete:\n  "
            + "\n  ".join(problems)
            + "\nDownload what is missing with:\n  "
            + "\n  ".join(commands)
        )
    return CheckpointPaths(
        model_dir=model_dir,
        config=cfg,
        qwen_emo=model_dir / cfg.qwen_emo_path,
        **{key: model_dir / name for key, name in own.items()},
        **external,
    )


# --- gpt.pth ------------------------------------------------------------------------------------

# Keys that a training-time save can carry besides the module's own: aliases of weights that are
# present under their own names (`gpt.wte` is `mel_embedding`, `inference_model.*` wraps the same
# modules) and GPT-2 causal-mask buffers of old transformers versions.
_ALIAS_PREFIXES = ("inference_model.", "gpt.wte.")
_MASK_BUFFER_SUFFIXES = (".attn.bias", ".attn.masked_bias")


def gpt_from_official(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The official gpt.pth dict (flat, or nested under `model`) → UnifiedVoice state dict."""
    if "model" in state and isinstance(state["model"], Mapping):
        state = state["model"]
    out = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        if key.startswith(_ALIAS_PREFIXES) or key.endswith(_MASK_BUFFER_SUFFIXES):
            continue
        out[key] = value
    return out


def load_unified_voice(
    path: Path, cfg: ModelConfig, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
):
    from indextts.gpt.gpt2 import store_projections_out_major
    from indextts.gpt.unified_voice import UnifiedVoice

    state: StateDict = gpt_from_official(torch_load(path, "GPT weights (gpt.pth)"))
    model = build_on_meta(lambda: UnifiedVoice(cfg.gpt, cfg.semantic_dim))
    load_strict(model, state, str(path))
    store_projections_out_major(model)  # faster decode steps; `.to` below keeps the layout
    return model.to(device=device, dtype=dtype).eval()


def load_emotion_tensors(paths: CheckpointPaths) -> tuple[torch.Tensor, torch.Tensor]:
    """(spk_matrix, emo_matrix) from feat1.pt / feat2.pt (bare tensors)."""
    spk = torch_load(paths.spk_matrix, "speaker prototype matrix (feat1.pt)")
    emo = torch_load(paths.emo_matrix, "emotion prototype matrix (feat2.pt)")
    for name, value in (("feat1.pt", spk), ("feat2.pt", emo)):
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{name} must hold a bare tensor, found {type(value).__name__}")
    log.debug("emotion matrices %s %s", tuple(spk.shape), tuple(emo.shape))
    return spk, emo
