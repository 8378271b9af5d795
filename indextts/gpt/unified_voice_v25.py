"""UnifiedVoice as IndexTTS-2.5 builds it (official `spk_cond_mode="campplus"`), beside the 2.0 one.

Differences from `UnifiedVoice` (2.0), everything else (emotion conformer + perceiver, GPT-2 stack,
text/mel tables, heads) is the same module under the same key:

* speaker conditioning is ONE row, the CAMPPlus style vector projected by `spk_emb_proj`
  Linear(192 → C), plus the emotion vector; then two all-zero rows where 2.0 has its two
  speed-embedding rows. No speaker conformer, no speaker perceiver, no `speed_emb`:
      conditioning (B, 3, C) = [spk_emb_proj(style) + emovec ; 0 ; 0]
* every text row (start and stop included) gets `lang_embedding[language]` added:
      text (1, L+2, C) = text_embedding(ids) + text_pos_embedding(0…L+1) + lang_embedding(lang)
* ids equal to `start_text_token` / `stop_text_token` inside the text (the official code appends
  a stop id to every segment and, with the tiktoken vocabulary, id 0 is "!") are removed before
  [start, …, stop] is built; upstream turns each removed id into a zero left-padding row with
  attention 0, which no later position can see, so leaving them out is the same computation.
* there is no second, teacher-forced pass: s2mel is conditioned on the codec decode of the codes.

Legend: B batch, C model_dim, L text tokens, S style width (192).
"""

from __future__ import annotations

import torch
from torch import nn

from indextts.config import GPTConfig
from indextts.gpt.conformer import ConformerEncoder
from indextts.gpt.gpt2 import GPT2Stack
from indextts.gpt.perceiver import PerceiverResampler
from indextts.gpt.unified_voice import LearnedPositions, UnifiedVoice

STYLE_DIM = 192  # CAMPPlus embedding width (hard-coded upstream)
# Official LANGUAGE_DICT (27 codes, en=0 … common=26) + 1 rows. A checkpoint whose table has another
# number of rows is built with that number (read from the file before loading).
DEFAULT_LANGUAGE_ROWS = 28
ZERO_CONDITIONING_ROWS = 2


class UnifiedVoice25(UnifiedVoice):
    """The 2.5 GPT; methods not overridden here are the 2.0 ones (shared modules, same maths)."""

    def __init__(
        self,
        cfg: GPTConfig,
        semantic_dim: int = 1024,
        language_rows: int = DEFAULT_LANGUAGE_ROWS,
        style_dim: int = STYLE_DIM,
    ) -> None:
        nn.Module.__init__(self)  # not UnifiedVoice.__init__: no speaker conformer/perceiver/speed rows
        C = cfg.model_dim
        emo = cfg.emo_condition_module
        self.cfg = cfg
        self.spk_emb_proj = nn.Linear(style_dim, C)
        self.emo_conditioning_encoder = ConformerEncoder.from_config(emo, semantic_dim)
        self.emo_perceiver_encoder = PerceiverResampler(
            dim=semantic_dim,
            context_dim=emo.output_size,
            num_latents=1,
            heads=emo.attention_heads,
            ff_mult=emo.perceiver_mult,
        )
        self.emovec_layer = nn.Linear(semantic_dim, C)
        self.emo_layer = nn.Linear(C, C)
        self.text_embedding = nn.Embedding(cfg.number_text_tokens + 1, C)
        self.lang_embedding = nn.Embedding(language_rows, C)
        self.mel_embedding = nn.Embedding(cfg.number_mel_codes, C)
        self.text_pos_embedding = LearnedPositions(cfg.max_text_tokens + 2, C)
        self.mel_pos_embedding = LearnedPositions(cfg.max_mel_tokens + 3, C)
        self.gpt = GPT2Stack(C, cfg.layers, cfg.heads)
        self.final_norm = nn.LayerNorm(C)
        self.text_head = nn.Linear(C, cfg.number_text_tokens + 1)  # training only; kept for strict loading
        self.mel_head = nn.Linear(C, cfg.number_mel_codes)

    @property
    def language_rows(self) -> int:
        return self.lang_embedding.num_embeddings

    # --- conditioning ------------------------------------------------------------------------

    def speaker_latent(self, style: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """(B, 192) CAMPPlus style → (B, 1, C) speaker row."""
        return self.spk_emb_proj(style).unsqueeze(1)

    def conditioning(self, speaker_latent: torch.Tensor, emovec: torch.Tensor) -> torch.Tensor:
        """[speaker row + emovec ; 0 ; 0] → (B, 3, C)."""
        B, _, C = speaker_latent.shape
        zeros = speaker_latent.new_zeros(B, ZERO_CONDITIONING_ROWS, C)
        return torch.cat([speaker_latent + emovec.unsqueeze(1), zeros], dim=1)

    # --- embeddings --------------------------------------------------------------------------

    def embed_text(self, text_ids: torch.Tensor, language: int = 0) -> torch.Tensor:  # type: ignore[override]
        """(L+2,) → (1, L+2, C): text rows + positions 0…L+1 + the language row on every one."""
        if not 0 <= language < self.language_rows:
            raise ValueError(f"language index {language} is outside lang_embedding (0…{self.language_rows - 1})")
        positions = torch.arange(text_ids.shape[0], device=text_ids.device)
        lang = self.lang_embedding.weight[language]  # (C,)
        return (self.text_embedding(text_ids) + self.text_pos_embedding(positions) + lang).unsqueeze(0)

    def prefix(self, conditioning: torch.Tensor, text_ids: torch.Tensor, language: int = 0) -> torch.Tensor:  # type: ignore[override]
        """Generation prefix [conditioning ; text] (1, 3+L'+2, C); L' ids once start/stop ids are removed."""
        text = self.embed_text(self.text_ids(text_ids, drop_specials=True), language).to(conditioning.dtype)
        return torch.cat([conditioning, text], dim=1)

    def latent(self, *args: object, **kwargs: object) -> torch.Tensor:
        raise NotImplementedError("IndexTTS-2.5 has no teacher-forced latent pass (s2mel reads the codec decode)")
