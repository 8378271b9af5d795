"""Emotion control: the emotion order and labels, the WebUI's vector helper, and emotion from text (Qwen).

Every emotion vector has 8 values in the order of `EMOTIONS`
(happy, angry, sad, afraid, disgusted, melancholic, surprised, calm).
"""

from indextts.emotion.labels import (
    EMOTION_BIAS,
    EMOTION_UI_LABELS,
    EMOTIONS,
    EMOTIONS_ZH,
    MAX_EMOTION_SUM,
    NUM_EMOTIONS,
    normalize_emotion_vector,
)
from indextts.emotion.text_emotion import (
    DEFAULT_MAX_NEW_TOKENS,
    QWEN_FOLDER,
    TextEmotionModel,
    parse_emotion_output,
)
from indextts.emotion.tiny_qwen import write_tiny_qwen

__all__ = [
    "DEFAULT_MAX_NEW_TOKENS",
    "EMOTIONS",
    "EMOTIONS_ZH",
    "EMOTION_BIAS",
    "EMOTION_UI_LABELS",
    "MAX_EMOTION_SUM",
    "NUM_EMOTIONS",
    "QWEN_FOLDER",
    "TextEmotionModel",
    "normalize_emotion_vector",
    "parse_emotion_output",
    "write_tiny_qwen",
]
