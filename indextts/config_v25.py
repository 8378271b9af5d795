"""Typed view of an IndexTTS-2.5 `config.yaml` (IndexTeam/IndexTTS-2.5), beside the 2.0 one.

The 2.5 file keeps the 2.0 layout and key names (the official code builds the same `UnifiedVoice`
from `gpt:` and the same s2mel from `s2mel:`); what differs:

* `version: 2.5`;
* `dataset.bpe_model` names the tiktoken file (`multilingual_zh_ja_yue_char_del.tiktoken`), and
  `gpt.number_text_tokens` is its size (60509);
* `semantic_codec` adds `num_quantizers` (1) and `downsample_scale` (2: codes at 25 Hz);
* the codec weights are a file of the checkpoint, `codec.pth`, not an external component.

`num_quantizers` and `downsample_scale` may be absent (the official constructor has those
defaults); every other key is required and unknown keys are errors, as for 2.0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from indextts.config import ModelConfig, SemanticCodecConfig

VERSION_25 = 2.5
CODEC_CHECKPOINT = "codec.pth"  # fixed name in the official code (not a config key)
DEFAULT_TOKENIZER_FILE = "multilingual_zh_ja_yue_char_del.tiktoken"


@dataclass(frozen=True)
class SemanticCodecConfig25(SemanticCodecConfig):
    """EnhancedCodec: the RepCodec with a 2× down-sampling before the encoder (25 Hz codes)."""

    num_quantizers: int = 1
    downsample_scale: int = 2


@dataclass(frozen=True)
class ModelConfig25(ModelConfig):
    """The whole `config.yaml` of an IndexTTS-2.5 checkpoint directory."""

    semantic_codec: SemanticCodecConfig25

    GENERATION: ClassVar[str] = "2.5"
    VERSION: ClassVar[float] = VERSION_25

    @property
    def tokenizer_file(self) -> str:
        return self.dataset.bpe_model

    @property
    def codes_per_feature_frame(self) -> float:
        """Semantic codes per w2v-BERT frame: 1/2 at 25 Hz."""
        return 1.0 / max(1, self.semantic_codec.downsample_scale)
