"""The eight emotions, in the one order every emotion vector of IndexTTS2 uses, and the WebUI's vector helper.

Index i of an emotion vector always means the same emotion: in the emotion-prototype matrices
(`emo_num` groups of feat1.pt / feat2.pt), in the Qwen model's answer and in the WebUI sliders.
"""

from __future__ import annotations

from collections.abc import Sequence

# The order of emotion vectors (also the row-group order of feat1.pt / feat2.pt).
EMOTIONS: tuple[str, ...] = ("happy", "angry", "sad", "afraid", "disgusted", "melancholic", "surprised", "calm")

# The keys the fine-tuned Qwen model answers with, same order as EMOTIONS.
EMOTIONS_ZH: tuple[str, ...] = ("高兴", "愤怒", "悲伤", "恐惧", "反感", "低落", "惊讶", "自然")

# The slider labels of the official WebUI, same order as EMOTIONS.
EMOTION_UI_LABELS: tuple[str, ...] = ("喜", "怒", "哀", "惧", "厌恶", "低落", "惊喜", "平静")

NUM_EMOTIONS = len(EMOTIONS)

# Per-emotion damping the WebUI applies before synthesis: the official code de-emphasises the
# emotions whose prototypes produce strange audio at full strength (surprised and calm most).
EMOTION_BIAS: tuple[float, ...] = (0.9375, 0.875, 1.0, 1.0, 0.9375, 0.9375, 0.6875, 0.5625)

# An emotion vector is mixed as M + (1 - sum(w)) * reference emotion; the WebUI keeps sum(w) at most
# this, so some of the speaker's own emotion always remains.
MAX_EMOTION_SUM = 0.8


def normalize_emotion_vector(values: Sequence[float], apply_bias: bool = True) -> list[float]:
    """The WebUI's emotion-vector preparation (official `normalize_emo_vec`); `infer` itself never applies it.

    Optionally multiply by EMOTION_BIAS, then, if the sum exceeds MAX_EMOTION_SUM, scale every entry
    so the sum is exactly MAX_EMOTION_SUM. Plain Python floats in the official order of operations,
    so the result is bit-identical to the official helper.
    """
    if len(values) != NUM_EMOTIONS:
        raise ValueError(f"an emotion vector has {NUM_EMOTIONS} values ({', '.join(EMOTIONS)}), got {len(values)}")
    vector = [float(v) for v in values]
    if apply_bias:
        vector = [v * bias for v, bias in zip(vector, EMOTION_BIAS, strict=True)]
    total = sum(vector)
    if total > MAX_EMOTION_SUM:
        scale = MAX_EMOTION_SUM / total
        vector = [v * scale for v in vector]
    return vector
