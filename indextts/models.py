"""All the networks of one checkpoint (IndexTTS-2 or IndexTTS-2.5), loaded once onto one device.

The generation is detected from the folder (`indextts.generation`); each loads strictly. The two
places where the generations' maths differ between the GPT and s2mel are methods here:
`content_latent` (2.0: the GPT's teacher-forced latent; 2.5: the codec decode of the codes) and
`content` (what s2mel regulates, and to how many frames).

Legend: see each stage's module. The text-emotion model is loaded on first use only.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from indextts.checkpoint import CheckpointPaths, load_emotion_tensors, load_unified_voice, resolve_checkpoint
from indextts.config import ModelConfig, default_cache_dir
from indextts.emotion.text_emotion import TextEmotionModel
from indextts.emotion.vectors import EmotionMatrices
from indextts.errors import CheckpointError
from indextts.generation import Generation, detect_generation
from indextts.gpt.unified_voice import UnifiedVoice
from indextts.prompts import PromptEncoder, SpeakerPrompt
from indextts.s2mel.model import S2Mel, load_s2mel
from indextts.semantic.codec import SemanticCodec, load_semantic_codec
from indextts.semantic.features import load_semantic_features
from indextts.speaker import load_campplus
from indextts.text.frontend import TextFrontEnd
from indextts.vocoder import BigVGAN, load_bigvgan

log = logging.getLogger(__name__)


@dataclass
class Models:
    paths: CheckpointPaths
    device: torch.device
    dtype: torch.dtype  # of the GPT; every other stage runs in float32, as in the official code
    frontend: TextFrontEnd
    prompts: PromptEncoder
    codec: SemanticCodec
    gpt: UnifiedVoice
    s2mel: S2Mel
    vocoder: BigVGAN
    matrices: EmotionMatrices
    text_emotion: TextEmotionModel | None
    generation: Generation = "2"

    @property
    def cfg(self) -> ModelConfig:
        return self.paths.config

    @property
    def languages(self) -> tuple[str, ...]:
        """Languages the text front end takes (empty for 2.0: Chinese/English, chosen automatically)."""
        return tuple(getattr(self.frontend, "languages", ()))

    def speaker_input(self, speaker: SpeakerPrompt) -> torch.Tensor:
        """What the GPT's speaker conditioning reads: w2v-BERT features (2.0) or the CAMPPlus style (2.5)."""
        return speaker.style if self.generation == "2.5" else speaker.spk_cond_emb

    def content_latent(self, conditioning: torch.Tensor, text_ids: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """After generation: 2.0's second GPT pass (1, N, C), or 2.5's codec decode S_infer (1, 2N, H) in float32."""
        if self.generation == "2.5":
            with torch.autocast(self.device.type, enabled=False):
                return self.codec.decode(codes.view(1, -1).to(self.device)).float()
        return self.gpt.latent(conditioning, text_ids, codes.to(self.device)).float()

    def content_frames(self, n_codes: int, duration_factor: float = 1.0) -> int:
        """Mel frames s2mel generates for n codes: 2.0 floor(f32(n)·1.72); 2.5 int(2n·1.72·factor) in doubles."""
        if self.generation == "2.5":
            scale = max(1, getattr(self.cfg.semantic_codec, "downsample_scale", 1))
            return int(n_codes * scale * self.s2mel.frames_per_code * duration_factor)
        return self.s2mel.target_frames(n_codes)

    def content(self, codes: torch.Tensor, latent: torch.Tensor, duration_factor: float = 1.0) -> torch.Tensor:
        """The s2mel content condition (1, T_gen, C) of one segment's codes (N,) and latent."""
        if self.generation == "2.5":
            semantic = latent  # (1, 2N, H)
        else:
            semantic = self.codec.embed_codes(codes.view(1, -1).to(self.device)) + self.s2mel.project_gpt_latent(latent)
        return self.s2mel.regulate(semantic, self.content_frames(codes.shape[-1], duration_factor))


def _timed(what: str, load):
    started = time.perf_counter()
    value = load()
    log.info("loaded %s in %.2f s", what, time.perf_counter() - started)
    return value


def load_emotion_models(paths, cfg, device: torch.device) -> tuple[EmotionMatrices, TextEmotionModel | None]:
    """The emotion prototype matrices and, when its folder is there, the emotion-from-text model
    (the same for both generations)."""
    spk_matrix, emo_matrix = load_emotion_tensors(paths)
    matrices = EmotionMatrices.from_tensors(
        spk_matrix, emo_matrix, cfg.emo_num, cfg.s2mel.style_encoder.dim, cfg.gpt.model_dim
    ).to(device)
    if paths.qwen_emo.is_dir():
        return matrices, TextEmotionModel(paths.qwen_emo, device=device)
    log.warning("no emotion-from-text model at %s: that mode is unavailable", paths.qwen_emo)
    return matrices, None


def load_models(
    model_dir: str | Path,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
    cache_dir: Path | None = None,
    prompt_cache_size: int = 8,
) -> Models:
    if detect_generation(model_dir) == "2.5":
        from indextts.models_v25 import load_models_25

        return load_models_25(model_dir, device, dtype, cache_dir, prompt_cache_size)
    paths = resolve_checkpoint(model_dir)
    cfg = paths.config

    frontend = _timed(
        "text front end", lambda: TextFrontEnd.from_checkpoint(paths.model_dir, cfg, cache_dir or default_cache_dir())
    )
    features = _timed("w2v-BERT", lambda: load_semantic_features(paths.w2v_bert, paths.w2v_stats, device))
    if features.width != cfg.semantic_dim:
        raise CheckpointError(
            f"w2v-BERT at {paths.w2v_bert} is {features.width} wide but config.yaml expects {cfg.semantic_dim} "
            "(semantic_codec.hidden_size)"
        )
    codec = _timed("semantic codec", lambda: load_semantic_codec(paths.semantic_codec, cfg.semantic_codec, device))
    campplus = _timed("CAMPPlus", lambda: load_campplus(paths.campplus, device))
    gpt = _timed("GPT", lambda: load_unified_voice(paths.gpt, cfg, device, dtype))
    s2mel = _timed("s2mel", lambda: load_s2mel(paths.s2mel, cfg, device))
    vocoder = _timed("BigVGAN", lambda: load_bigvgan(paths.bigvgan, device))
    for module in (features, codec, campplus, gpt, s2mel, vocoder):
        module.requires_grad_(False)  # inference only: no autograd bookkeeping anywhere
    matrices, text_emotion = load_emotion_models(paths, cfg, device)
    prompts = PromptEncoder(cfg, features, codec, campplus, s2mel, device, prompt_cache_size)
    return Models(paths, device, dtype, frontend, prompts, codec, gpt, s2mel, vocoder, matrices, text_emotion)
