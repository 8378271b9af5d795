"""UnifiedVoice v2: conditioning encoders, emotion vector, GPT-2 backbone and heads.

The sequence the GPT sees is [conditioning (34) ; text (L+2) ; mel codes]. The conditioning rows are
the 32 speaker latents (each plus the emotion vector) and the two speed rows. Parameter names equal
the keys of the official `gpt.pth`, so loading needs no renaming.

Legend: B batch, T_w w2v-BERT frames, S semantic width (w2v-BERT hidden, 1024 officially),
C model_dim, L text tokens, N semantic codes, P prefix length (34 + L + 2).
"""

from __future__ import annotations

import torch
from torch import nn

from indextts.config import GPTConfig
from indextts.gpt.conformer import ConformerEncoder
from indextts.gpt.gpt2 import GPT2Stack, KVCache
from indextts.gpt.perceiver import PerceiverResampler

# Every official call site passes the feature width (1024) as the "length" of the w2v-BERT features,
# so with the 15 s prompt cut nothing is masked. We pass the number itself so that a narrower test
# model behaves like the real one.
OFFICIAL_CONDITIONING_LENGTH = 1024
SPEAKER_LATENTS = 32


class LearnedPositions(nn.Module):
    """A learned position table (key `<name>.emb.weight`)."""

    def __init__(self, rows: int, dim: int) -> None:
        super().__init__()
        self.emb = nn.Embedding(rows, dim)

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        return self.emb(positions)


class UnifiedVoice(nn.Module):
    def __init__(self, cfg: GPTConfig, semantic_dim: int = 1024, speaker_latents: int = SPEAKER_LATENTS) -> None:
        super().__init__()
        C = cfg.model_dim
        spk, emo = cfg.condition_module, cfg.emo_condition_module
        self.cfg = cfg
        self.conditioning_encoder = ConformerEncoder.from_config(spk, semantic_dim)
        self.perceiver_encoder = PerceiverResampler(
            dim=C,
            context_dim=spk.output_size,
            num_latents=speaker_latents,
            heads=spk.attention_heads,
            ff_mult=spk.perceiver_mult,
        )
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
        self.speed_emb = nn.Embedding(2, C)
        self.text_embedding = nn.Embedding(cfg.number_text_tokens + 1, C)
        self.mel_embedding = nn.Embedding(cfg.number_mel_codes, C)
        self.text_pos_embedding = LearnedPositions(cfg.max_text_tokens + 2, C)
        self.mel_pos_embedding = LearnedPositions(cfg.max_mel_tokens + 3, C)
        self.gpt = GPT2Stack(C, cfg.layers, cfg.heads)
        self.final_norm = nn.LayerNorm(C)
        self.text_head = nn.Linear(C, cfg.number_text_tokens + 1)  # training only; kept for strict loading
        self.mel_head = nn.Linear(C, cfg.number_mel_codes)

    # --- conditioning ------------------------------------------------------------------------

    def _lengths(self, features: torch.Tensor) -> torch.Tensor:
        return torch.full((features.shape[0],), OFFICIAL_CONDITIONING_LENGTH, device=features.device)

    def speaker_latent(self, spk_cond_emb: torch.Tensor) -> torch.Tensor:
        """(B, T_w, S) standardised w2v-BERT features → (B, 32, C) speaker latents."""
        encoded, mask = self.conditioning_encoder(spk_cond_emb, self._lengths(spk_cond_emb))  # (B, T_c, 512)
        return self.perceiver_encoder(encoded, mask.squeeze(1))  # (B, 32, C)

    def emotion_vector(self, cond_emb: torch.Tensor) -> torch.Tensor:
        """(B, T_w, S) → (B, C): the emotion of one recording (official `get_emovec`)."""
        encoded, mask = self.emo_conditioning_encoder(cond_emb, self._lengths(cond_emb))  # (B, T_c, 512)
        pooled = self.emo_perceiver_encoder(encoded, mask.squeeze(1)).squeeze(1)  # (B, S)
        return self.emo_layer(self.emovec_layer(pooled))  # (B, C)

    def merge_emovec(self, spk_cond_emb: torch.Tensor, emo_cond_emb: torch.Tensor, alpha: float) -> torch.Tensor:
        """base + alpha · (emotion − base), base being the speaker recording's own emotion. (B, C)"""
        return mix_emotions(self.emotion_vector(spk_cond_emb), self.emotion_vector(emo_cond_emb), alpha)

    def conditioning(self, speaker_latent: torch.Tensor, emovec: torch.Tensor) -> torch.Tensor:
        """[speaker latents + emovec ; speed row 1 ; speed row 0] → (B, 34, C)."""
        B = speaker_latent.shape[0]
        speed = self.speed_emb.weight  # (2, C): v2 always feeds row 1 then row 0 (no duration control)
        speed_rows = torch.stack([speed[1], speed[0]]).unsqueeze(0).expand(B, -1, -1)  # (B, 2, C)
        return torch.cat([speaker_latent + emovec.unsqueeze(1), speed_rows.to(speaker_latent.dtype)], dim=1)

    # --- embeddings --------------------------------------------------------------------------

    def text_ids(self, ids: torch.Tensor, drop_specials: bool) -> torch.Tensor:
        """[start, ids…, stop] (L+2,); generation first drops any start/stop ids inside the text."""
        if drop_specials:
            ids = ids[(ids != self.cfg.start_text_token) & (ids != self.cfg.stop_text_token)]
        start = ids.new_tensor([self.cfg.start_text_token])
        stop = ids.new_tensor([self.cfg.stop_text_token])
        return torch.cat([start, ids, stop])

    def embed_text(self, text_ids: torch.Tensor) -> torch.Tensor:
        """(L+2,) → (1, L+2, C) with text positions 0…L+1."""
        positions = torch.arange(text_ids.shape[0], device=text_ids.device)
        return (self.text_embedding(text_ids) + self.text_pos_embedding(positions)).unsqueeze(0)

    def embed_mel(self, codes: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """(B, T) codes at mel positions (T,) or (B, T) → (B, T, C)."""
        return self.mel_embedding(codes) + self.mel_pos_embedding(positions)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """(B, T, C) backbone output → (B, T, number_mel_codes) float32 logits."""
        return self.mel_head(self.final_norm(hidden)).float()

    # --- passes ------------------------------------------------------------------------------

    def prefix(self, conditioning: torch.Tensor, text_ids: torch.Tensor) -> torch.Tensor:
        """Generation prefix [conditioning ; text] (1, P, C) for one segment's token ids (L,)."""
        text = self.embed_text(self.text_ids(text_ids, drop_specials=True)).to(conditioning.dtype)
        return torch.cat([conditioning, text], dim=1)

    def forward_cached(self, embeddings: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """Run new positions (B, T, C) through the backbone, appending to `cache`; → logits of the last row (B, V)."""
        hidden = self.gpt(embeddings, cache)  # (B, T, C)
        return self.logits(hidden[:, -1:])[:, 0]

    def latent(self, conditioning: torch.Tensor, text_ids: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """Teacher-forced pass over [conditioning ; text ; start, codes, stop] → (1, N, C) (official §7.9)."""
        N = codes.shape[-1]
        text = self.embed_text(self.text_ids(text_ids, drop_specials=False))  # (1, L+2, C)
        mel_ids = torch.cat(
            [codes.new_tensor([self.cfg.start_mel_token]), codes, codes.new_tensor([self.cfg.stop_mel_token])]
        )
        mel = self.embed_mel(mel_ids.unsqueeze(0), torch.arange(N + 2, device=codes.device))  # (1, N+2, C)
        sequence = torch.cat([conditioning, text.to(conditioning.dtype), mel.to(conditioning.dtype)], dim=1)
        hidden = self.gpt(sequence)  # (1, 34+L+2+N+2, C)
        return self.final_norm(hidden[:, -(N + 2) : -2])  # (1, N, C): outputs at start, c_1 … c_{N-1}


def mix_emotions(base: torch.Tensor, emotion: torch.Tensor, alpha: float) -> torch.Tensor:
    """The official merge of two recordings' emotion vectors: base + alpha · (emotion − base). (B, C)"""
    return base + alpha * (emotion - base)
