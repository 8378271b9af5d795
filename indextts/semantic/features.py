"""w2v-BERT 2.0 semantic features: layer 17 hidden states, standardised with the checkpoint's stats (§4.1).

transformers has the model (`Wav2Vec2BertModel`); we run its feature projection and only the first
17 encoder layers — the layers after the one IndexTTS2 reads are dropped at load time, which gives
the same numbers as `hidden_states[17]` for 17/24 of the cost.

Legend: N16 samples at 16 kHz, T_w feature frames (50 Hz), S hidden width (1024 officially).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from indextts.audio import w2v_bert_feature_extractor, w2v_bert_inputs
from indextts.errors import CheckpointError
from indextts.weights import torch_load

FEATURE_LAYER = 17


class SemanticFeatures(nn.Module):
    def __init__(self, model: nn.Module, extractor: object, mean: torch.Tensor, var: torch.Tensor, layer: int) -> None:
        super().__init__()
        self.model = model
        self.extractor = extractor
        self.register_buffer("mean", mean.float(), persistent=False)
        self.register_buffer("std", torch.sqrt(var.float()), persistent=False)

    @property
    def width(self) -> int:
        return int(self.mean.shape[0])

    @torch.inference_mode()
    def forward(self, wave_16k: torch.Tensor) -> torch.Tensor:
        """(1, N16) float waveform in [-1, 1] → (1, T_w, S) standardised layer-17 features."""
        features, mask = w2v_bert_inputs(self.extractor, wave_16k.cpu())  # (1, T_w, 160), (1, T_w)
        device = self.mean.device
        hidden, _ = self.model.feature_projection(features.to(device))  # (1, T_w, S)
        hidden = self.model.encoder(hidden, attention_mask=mask.to(device)).last_hidden_state  # (1, T_w, S)
        return (hidden - self.mean) / self.std


def load_semantic_features(
    w2v_bert_dir: str | Path, stats_path: str | Path, device: torch.device | str = "cpu", layer: int = FEATURE_LAYER
) -> SemanticFeatures:
    """The w2v-BERT 2.0 folder (config, preprocessor config, weights) and `wav2vec2bert_stats.pt`."""
    from transformers import Wav2Vec2BertModel

    w2v_bert_dir = Path(w2v_bert_dir)
    try:
        model = Wav2Vec2BertModel.from_pretrained(str(w2v_bert_dir), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"w2v-BERT 2.0 cannot be loaded from {w2v_bert_dir}: {exc}") from exc
    if model.config.num_hidden_layers < layer:
        raise CheckpointError(
            f"w2v-BERT at {w2v_bert_dir} has {model.config.num_hidden_layers} layers; layer {layer} is read"
        )
    model.encoder.layers = model.encoder.layers[:layer]
    stats = torch_load(stats_path, "w2v-BERT feature statistics (wav2vec2bert_stats.pt)")
    if not isinstance(stats, dict) or not {"mean", "var"} <= stats.keys():
        raise CheckpointError(f"{stats_path} must hold a dict with 'mean' and 'var' tensors")
    width = model.config.hidden_size
    for key in ("mean", "var"):
        if tuple(stats[key].shape) != (width,):
            raise CheckpointError(
                f"{stats_path}: '{key}' has shape {tuple(stats[key].shape)}, expected ({width},) for this w2v-BERT"
            )
    extractor = w2v_bert_feature_extractor(w2v_bert_dir)
    module = SemanticFeatures(model.eval(), extractor, stats["mean"], stats["var"], layer)
    return module.to(device)
