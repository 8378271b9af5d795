"""Finding the files of an IndexTTS-2.5 checkpoint, and loading its gpt.pth (beside `checkpoint`).

The model directory is the unchanged IndexTeam/IndexTTS-2.5 download: config.yaml, gpt.pth,
s2mel.pth, codec.pth, the tiktoken file named by `dataset.bpe_model`, wav2vec2bert_stats.pt,
feat1.pt, feat2.pt (and optionally qwen0.6bemo4-merge/). w2v-BERT, CAMPPlus and BigVGAN come from
their own repositories exactly as for 2.0; the MaskGCT codec is not needed (codec.pth replaces it).
"""

from __future__ import annotations

from pathlib import Path

import torch

from indextts.checkpoint import (
    BIGVGAN,
    CAMPPLUS,
    HF_CACHE_DIRNAME,
    W2V_BERT,
    CheckpointPaths,
    gpt_from_official,
    resolve_component,
)
from indextts.config import load_config
from indextts.config_v25 import CODEC_CHECKPOINT, ModelConfig25
from indextts.errors import CheckpointError
from indextts.generation import CONFIG_CLASSES, HF_REPOS, detect_generation
from indextts.weights import StateDict, build_on_meta, load_strict, torch_load


def resolve_checkpoint_25(model_dir: str | Path) -> CheckpointPaths:
    """Check a 2.5 folder and find the external components; one error lists all that is missing."""
    model_dir = Path(model_dir)
    if detect_generation(model_dir) != "2.5":
        raise CheckpointError(f"{model_dir} holds an IndexTTS-2 checkpoint, not IndexTTS-2.5")
    cfg = load_config(model_dir, CONFIG_CLASSES["2.5"])
    assert isinstance(cfg, ModelConfig25)
    own = {
        "gpt": cfg.gpt_checkpoint,
        "s2mel": cfg.s2mel_checkpoint,
        "bpe": cfg.tokenizer_file,
        "semantic_codec": CODEC_CHECKPOINT,
        "w2v_stats": cfg.w2v_stat,
        "spk_matrix": cfg.spk_matrix,
        "emo_matrix": cfg.emo_matrix,
    }
    problems = [f"missing {model_dir / name}" for name in own.values() if not (model_dir / name).is_file()]
    commands = [f"hf download {HF_REPOS['2.5']} --local-dir {model_dir}"] if problems else []
    external: dict[str, Path] = {}
    for key, component in (("w2v_bert", W2V_BERT), ("campplus", CAMPPLUS), ("bigvgan", BIGVGAN)):
        path = resolve_component(model_dir, component)
        if path is None:
            problems.append(
                f"missing {component.label}: not in {model_dir / HF_CACHE_DIRNAME / component.local_name} "
                "nor in the Hugging Face cache"
            )
            commands.append(component.download_command(model_dir))
        else:
            external[key] = path
    if problems:
        raise CheckpointError(
            "The IndexTTS-2.5 checkpoint is incomplete:\n  "
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


def load_unified_voice_25(
    path: Path, cfg: ModelConfig25, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
):
    """gpt.pth of 2.5, strictly: every missing or unexpected key is listed (2.0 keys included)."""
    from indextts.gpt.gpt2 import store_projections_out_major
    from indextts.gpt.unified_voice_v25 import DEFAULT_LANGUAGE_ROWS, UnifiedVoice25

    state: StateDict = gpt_from_official(torch_load(path, "GPT weights (gpt.pth)"))
    table = state.get("lang_embedding.weight")
    rows = int(table.shape[0]) if isinstance(table, torch.Tensor) and table.dim() == 2 else DEFAULT_LANGUAGE_ROWS
    model = build_on_meta(lambda: UnifiedVoice25(cfg.gpt, cfg.semantic_dim, language_rows=rows))
    load_strict(model, state, str(path))
    store_projections_out_major(model)
    return model.to(device=device, dtype=dtype).eval()
