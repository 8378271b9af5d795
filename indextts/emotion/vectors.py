"""Emotion vectors from 8 emotion weights: the prototype matrices `feat1.pt` / `feat2.pt` (§8.2).

For each of the 8 emotions the checkpoint holds a group of prototype rows: speaker prototypes in
CAMPPlus space (`spk_matrix`, 192 wide) and emotion prototypes in GPT space (`emo_matrix`,
model_dim wide). A weight vector w picks one row per group — the one whose speaker prototype is
closest to the voice (or a random one) — and mixes them: M = Σ w_i · emo_group_i[r_i].

Legend: R prototype rows (73), D style width (192), C model_dim.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from indextts.errors import CheckpointError

EMOTION_COUNT = 8


@dataclass(frozen=True)
class EmotionMatrices:
    speaker_groups: tuple[torch.Tensor, ...]  # 8 × (n_i, D)
    emotion_groups: tuple[torch.Tensor, ...]  # 8 × (n_i, C)

    @classmethod
    def from_tensors(
        cls, spk_matrix: torch.Tensor, emo_matrix: torch.Tensor, emo_num: Sequence[int], style_dim: int, model_dim: int
    ) -> EmotionMatrices:
        rows = sum(emo_num)
        if len(emo_num) != EMOTION_COUNT:
            raise CheckpointError(f"config.yaml emo_num must list {EMOTION_COUNT} group sizes, got {list(emo_num)}")
        expected = {"spk_matrix (feat1.pt)": (spk_matrix, style_dim), "emo_matrix (feat2.pt)": (emo_matrix, model_dim)}
        for name, (matrix, width) in expected.items():
            if tuple(matrix.shape) != (rows, width):
                raise CheckpointError(
                    f"{name} has shape {tuple(matrix.shape)}, expected ({rows}, {width}) from config.yaml "
                    f"(emo_num sums to {rows})"
                )
        return cls(tuple(spk_matrix.float().split(list(emo_num))), tuple(emo_matrix.float().split(list(emo_num))))

    def to(self, device: torch.device | str) -> EmotionMatrices:
        return EmotionMatrices(
            tuple(t.to(device) for t in self.speaker_groups), tuple(t.to(device) for t in self.emotion_groups)
        )

    def nearest_rows(self, style: torch.Tensor) -> list[int]:
        """Per emotion, the prototype whose speaker row is most cosine-similar to the voice (first maximum)."""
        query = style.float().reshape(1, -1)  # (1, D)
        return [int(F.cosine_similarity(query, group, dim=1).argmax()) for group in self.speaker_groups]

    def random_rows(self, rng: random.Random) -> list[int]:
        return [rng.randint(0, group.shape[0] - 1) for group in self.speaker_groups]

    def mix(self, weights: Sequence[float], rows: Sequence[int]) -> torch.Tensor:
        """M = Σ_i w_i · emotion_group_i[rows_i] → (1, C), in float32."""
        device = self.emotion_groups[0].device
        w = torch.tensor(list(weights), dtype=torch.float32, device=device)  # (8,)
        picked = torch.stack([group[row] for group, row in zip(self.emotion_groups, rows, strict=True)])  # (8, C)
        return (w.unsqueeze(1) * picked).sum(0, keepdim=True)


# Per-emotion damping the official UI applies to slider values (happy … calm), and the cap on their sum.
EMOTION_BIAS = (0.9375, 0.875, 1.0, 1.0, 0.9375, 0.9375, 0.6875, 0.5625)
EMOTION_SUM_CAP = 0.8


def normalize_emotion_weights(weights: Sequence[float], apply_bias: bool = True) -> list[float]:
    """The official UI's vector-mode rule (`normalize_emo_vec`): damp by EMOTION_BIAS, then scale the
    weights down so they sum to at most 0.8 — strong mixtures otherwise drown the speaker's voice."""
    values = [float(x) for x in weights]
    if apply_bias:
        values = [x * bias for x, bias in zip(values, EMOTION_BIAS, strict=True)]
    total = sum(values)
    if total > EMOTION_SUM_CAP:
        values = [x * (EMOTION_SUM_CAP / total) for x in values]
    return values


def scale_emotion_weights(weights: Sequence[float], emo_alpha: float) -> list[float]:
    """The official strength rule for vector/text modes: × clamp(α, 0, 1), truncated to 4 decimals."""
    scale = max(0.0, min(1.0, emo_alpha))
    if scale == 1.0:
        return [float(x) for x in weights]
    return [int(x * scale * 10000) / 10000 for x in weights]


def vector_emovec(
    matrices: EmotionMatrices,
    weights: Sequence[float],
    style: torch.Tensor,
    audio_emovec: torch.Tensor,
    use_random: bool = False,
    rng: random.Random | None = None,
) -> torch.Tensor:
    """Modes 2 and 3: M + (1 − Σw) · emovec of the speaker recording. (1, C)"""
    if len(weights) != EMOTION_COUNT:
        raise ValueError(f"emo_vector needs {EMOTION_COUNT} values, got {len(weights)}")
    rows = matrices.random_rows(rng or random.Random()) if use_random else matrices.nearest_rows(style)
    mixed = matrices.mix(weights, rows).to(audio_emovec.device)
    remaining = (
        1 - torch.tensor(list(weights), dtype=torch.float32, device=audio_emovec.device).sum()
    )  # float32, as official
    return mixed.to(audio_emovec.dtype) + remaining * audio_emovec
