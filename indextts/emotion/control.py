"""Choosing the emotion of an utterance: the four modes of §8 and the vector they produce.

0 same as the speaker · 1 an emotion recording blended with weight α · 2 eight emotion weights
· 3 emotion weights read from a text by the Qwen classifier. Mode selection follows the official
`infer`: weights (from a vector or from text) discard any emotion recording and are scaled by
clamp(α, 0, 1); without an emotion recording the speaker recording is used with α = 1.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from indextts.audio import AudioSource
from indextts.emotion.vectors import EMOTION_COUNT, EmotionMatrices, scale_emotion_weights, vector_emovec
from indextts.errors import IndexTTSError


class EmotionError(IndexTTSError):
    """The emotion settings are inconsistent (for example a vector of the wrong length)."""


@dataclass(frozen=True)
class EmotionRequest:
    """The official `infer` emotion arguments."""

    emo_audio: AudioSource | None = None
    emo_alpha: float = 1.0
    emo_vector: Sequence[float] | None = None
    use_emo_text: bool = False
    emo_text: str | None = None
    use_random: bool = False


@dataclass(frozen=True)
class ResolvedEmotion:
    emo_audio: AudioSource  # the recording whose emotion is blended in (the speaker's by default)
    alpha: float
    weights: list[float] | None  # 8 emotion weights, already scaled, or None
    use_random: bool


def resolve_emotion(
    request: EmotionRequest,
    speaker_audio: AudioSource,
    text: str,
    text_emotion: Callable[[str], list[float]] | None,
) -> ResolvedEmotion:
    emo_audio, alpha, weights = request.emo_audio, request.emo_alpha, None
    if request.use_emo_text or request.emo_vector is not None:
        emo_audio = None
    if request.use_emo_text:
        if text_emotion is None:
            raise EmotionError("emotion from text needs the Qwen emotion model (qwen0.6bemo4-merge/ in the model dir)")
        weights = text_emotion(request.emo_text or text)
    elif request.emo_vector is not None:
        weights = [float(x) for x in request.emo_vector]
    if weights is not None:
        if len(weights) != EMOTION_COUNT:
            raise EmotionError(f"emo_vector needs {EMOTION_COUNT} values, got {len(weights)}")
        weights = scale_emotion_weights(weights, alpha)
    if emo_audio is None:
        emo_audio, alpha = speaker_audio, 1.0
    return ResolvedEmotion(emo_audio, alpha, weights, request.use_random)


def final_emovec(
    merged: torch.Tensor,
    resolved: ResolvedEmotion,
    matrices: EmotionMatrices,
    style: torch.Tensor,
    rng: random.Random | None = None,
) -> torch.Tensor:
    """The emotion vector the GPT is conditioned on: the audio blend, or for weights M + (1 − Σw)·blend."""
    if resolved.weights is None:
        return merged
    return vector_emovec(matrices, resolved.weights, style, merged, resolved.use_random, rng)
