"""Typed, frozen view of the official IndexTTS-2 `config.yaml`, and the runtime settings.

Every dataclass field is named after its key in the official file (only `dit` reads the key
`DiT`). Parsing is strict: a missing key, an unknown key or a value of the wrong type
is reported, all at once, in one `ConfigError` naming the file and the dotted key.
Runtime choices (device, precision, cache folder) live apart in `RuntimeSettings`: they are
decisions of the process, not properties of the checkpoint.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Union

import yaml

from indextts.errors import ConfigError

CONFIG_FILENAME = "config.yaml"
SUPPORTED_VERSION = 2.0


@dataclass(frozen=True)
class DatasetMelConfig:
    """Leftover of IndexTTS 1.5; parsed so typos are caught, unused by v2 inference."""

    sample_rate: int
    n_fft: int
    hop_length: int
    win_length: int
    n_mels: int
    mel_fmin: float
    normalize: bool


@dataclass(frozen=True)
class DatasetConfig:
    bpe_model: str
    sample_rate: int
    squeeze: bool
    mel: DatasetMelConfig


@dataclass(frozen=True)
class ConformerConfig:
    """Speaker (`condition_module`) or emotion (`emo_condition_module`) conformer + perceiver."""

    output_size: int
    linear_units: int
    attention_heads: int
    num_blocks: int
    input_layer: str
    perceiver_mult: int


@dataclass(frozen=True)
class GPTConfig:
    """UnifiedVoice v2: the text → semantic-code GPT."""

    model_dim: int
    max_mel_tokens: int
    max_text_tokens: int
    heads: int
    use_mel_codes_as_input: bool
    mel_length_compression: int
    layers: int
    number_text_tokens: int
    number_mel_codes: int
    start_mel_token: int
    stop_mel_token: int
    start_text_token: int
    stop_text_token: int
    train_solo_embeddings: bool
    condition_type: str
    condition_module: ConformerConfig
    emo_condition_module: ConformerConfig


@dataclass(frozen=True)
class SemanticCodecConfig:
    """MaskGCT RepCodec that quantises w2v-BERT features into the GPT's codes."""

    codebook_size: int
    hidden_size: int
    codebook_dim: int
    vocos_dim: int
    vocos_intermediate_dim: int
    vocos_num_layers: int


@dataclass(frozen=True)
class SpectParams:
    n_fft: int
    win_length: int
    hop_length: int
    n_mels: int
    fmin: float
    # The file says the string "None", meaning the Nyquist frequency.
    fmax: float | None


@dataclass(frozen=True)
class PreprocessParams:
    sr: int
    spect_params: SpectParams


@dataclass(frozen=True)
class StyleEncoderConfig:
    dim: int


@dataclass(frozen=True)
class LengthRegulatorConfig:
    channels: int
    is_discrete: bool
    in_channels: int
    content_codebook_size: int
    sampling_ratios: tuple[int, ...]
    vector_quantize: bool
    n_codebooks: int
    quantizer_dropout: float
    f0_condition: bool
    n_f0_bins: int


@dataclass(frozen=True)
class DiTConfig:
    hidden_dim: int
    num_heads: int
    depth: int
    class_dropout_prob: float
    block_size: int
    in_channels: int
    style_condition: bool
    final_layer_type: str
    target: str
    content_dim: int
    content_codebook_size: int
    content_type: str
    f0_condition: bool
    n_f0_bins: int
    content_codebooks: int
    is_causal: bool
    long_skip_connection: bool
    zero_prompt_speech_token: bool
    time_as_token: bool
    style_as_token: bool
    uvit_skip_connection: bool
    add_resblock_in_transformer: bool


@dataclass(frozen=True)
class WaveNetConfig:
    hidden_dim: int
    num_layers: int
    kernel_size: int
    dilation_rate: int
    p_dropout: float
    style_condition: bool


@dataclass(frozen=True)
class S2MelConfig:
    """Semantic → mel flow-matching model (length regulator, DiT, WaveNet head)."""

    preprocess_params: PreprocessParams
    dit_type: str
    reg_loss_type: str
    style_encoder: StyleEncoderConfig
    length_regulator: LengthRegulatorConfig
    dit: DiTConfig = field(metadata={"key": "DiT"})  # the one key that is not a Python name
    wavenet: WaveNetConfig


@dataclass(frozen=True)
class VocoderConfig:
    type: str
    name: str


@dataclass(frozen=True)
class ModelConfig:
    """The whole `config.yaml` of an IndexTTS-2 checkpoint directory."""

    dataset: DatasetConfig
    gpt: GPTConfig
    semantic_codec: SemanticCodecConfig
    s2mel: S2MelConfig
    gpt_checkpoint: str
    w2v_stat: str
    s2mel_checkpoint: str
    emo_matrix: str
    spk_matrix: str
    emo_num: tuple[int, ...]
    qwen_emo_path: str
    vocoder: VocoderConfig
    version: float

    GENERATION: ClassVar[str] = "2"  # the model generation this layout describes (IndexTTS-2)
    VERSION: ClassVar[float] = SUPPORTED_VERSION  # the `version` its config.yaml carries

    @property
    def semantic_dim(self) -> int:
        """Width of the w2v-BERT features everything downstream reads (1024 for the real model)."""
        return self.semantic_codec.hidden_size


# ---------------------------------------------------------------------------------------------
# Strict parsing


def _type_name(tp: Any) -> str:
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
    if tp in names:
        return names[tp]
    if typing.get_origin(tp) is tuple:
        return "a list of integers"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return str(tp)


_SCALAR_CHECKS = {
    bool: lambda v: isinstance(v, bool),
    int: lambda v: isinstance(v, int) and not isinstance(v, bool),
    float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    str: lambda v: isinstance(v, str),
}


def _convert(value: Any, tp: Any, key: str, problems: list[str]) -> Any:
    """Check `value` against the annotation `tp`; return the converted value or None."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):  # only `X | None` is used
        if value is None or value == "None":
            return None
        (inner,) = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(value, inner, key, problems)
    if dataclasses.is_dataclass(tp):
        if isinstance(value, dict):
            return _build(tp, value, key, problems)
    elif origin is tuple:
        if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return tuple(value)
    elif tp in _SCALAR_CHECKS and _SCALAR_CHECKS[tp](value):
        return float(value) if tp is float else value
    problems.append(f"key '{key}' must be {_type_name(tp)}, got {value!r}")
    return None


def _build(cls: type, mapping: dict[str, Any], prefix: str, problems: list[str]) -> Any:
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    expected: list[str] = []
    for f in dataclasses.fields(cls):
        key = f.metadata.get("key", f.name)
        expected.append(key)
        dotted = f"{prefix}.{key}" if prefix else key
        if key not in mapping:
            if f.default is not dataclasses.MISSING:  # an optional key (only the 2.5 layout has any)
                values[f.name] = f.default
                continue
            problems.append(f"missing key '{dotted}'")
            values[f.name] = None
            continue
        values[f.name] = _convert(mapping[key], hints[f.name], dotted, problems)
    for key in mapping:
        if key not in expected:
            dotted = f"{prefix}.{key}" if prefix else str(key)
            hint = difflib.get_close_matches(str(key), expected, n=1)
            problems.append(f"unknown key '{dotted}'" + (f" (did you mean '{hint[0]}'?)" if hint else ""))
    if problems:
        return None
    return cls(**values)


def _check_consistency(cfg: ModelConfig) -> list[str]:
    """Relations the model code relies on, reported before any weight is touched."""
    problems = []
    gpt = cfg.gpt
    if gpt.model_dim % gpt.heads:
        problems.append(f"'gpt.model_dim' ({gpt.model_dim}) must be divisible by 'gpt.heads' ({gpt.heads})")
    for name in ("start_mel_token", "stop_mel_token"):
        if not 0 <= getattr(gpt, name) < gpt.number_mel_codes:
            problems.append(f"'gpt.{name}' must be below 'gpt.number_mel_codes' ({gpt.number_mel_codes})")
    if cfg.s2mel.length_regulator.channels != cfg.s2mel.dit.content_dim:
        problems.append("'s2mel.length_regulator.channels' must equal 's2mel.DiT.content_dim'")
    if cfg.version != cfg.VERSION:
        problems.append(
            f"'version' is {cfg.version}, but this loader reads IndexTTS-{cfg.GENERATION} checkpoints "
            f"(version {cfg.VERSION}); the engine picks the loader from the folder's files (indextts.generation)"
        )
    return problems


def parse_config(mapping: Any, source: str = "<config>", cls: type[ModelConfig] = ModelConfig) -> ModelConfig:
    """Build a `ModelConfig` (or the 2.5 `ModelConfig25` given as `cls`) from a parsed YAML mapping."""
    if not isinstance(mapping, dict):
        raise ConfigError(f"{source}: expected a YAML mapping at the top level, got {type(mapping).__name__}")
    problems: list[str] = []
    cfg = _build(cls, mapping, "", problems)
    if cfg is not None:
        problems = _check_consistency(cfg)
    if problems:
        listing = "\n  - ".join(problems)
        raise ConfigError(f"{source}: invalid IndexTTS-{cls.GENERATION} config:\n  - {listing}")
    return cfg


def read_config_mapping(path: str | Path) -> tuple[Any, Path]:
    """The parsed YAML of `config.yaml` (a file path or a checkpoint directory) and the file's path."""
    path = Path(path)
    if path.is_dir():
        path = path / CONFIG_FILENAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: file not found. Download the model into that folder "
            "(see checkpoints/README.md) or pass the right --model-dir."
        ) from None
    try:
        mapping = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return mapping, path


def load_config(path: str | Path, cls: type[ModelConfig] = ModelConfig) -> ModelConfig:
    """Read `config.yaml` from a file path or from a checkpoint directory."""
    mapping, path = read_config_mapping(path)
    return parse_config(mapping, str(path), cls)


# ---------------------------------------------------------------------------------------------
# Runtime settings

DType = Literal["float32", "float16", "bfloat16"]
_DTYPES = ("float32", "float16", "bfloat16")


def default_cache_dir() -> Path:
    """Where derived artefacts (normaliser FSTs, demo checkpoint) are kept between runs."""
    return Path.home() / ".cache" / "indextts"


@dataclass(frozen=True)
class RuntimeSettings:
    """How this process runs the model: not part of the checkpoint.

    device: "auto" (cuda → mps → cpu), "cpu", "cuda", "cuda:N" or "mps".
    dtype: precision of the neural stages; half precision falls back to float32 on CPU and MPS,
        as the official implementation does.
    decode_step: how the GPT decode step runs (`indextts.gpt.static_decode`): "auto" (CUDA graphs
        on CUDA, exact shapes elsewhere), "graph", "fixed" (the graphs' shapes, eagerly) or "exact".
    """

    device: str = "auto"
    dtype: DType = "float32"
    cache_dir: Path = field(default_factory=default_cache_dir)
    decode_step: str = "auto"

    def __post_init__(self) -> None:
        if self.dtype not in _DTYPES:
            raise ConfigError(f"dtype must be one of {', '.join(_DTYPES)}, got {self.dtype!r}")
        kind = self.device.split(":", 1)[0]
        if kind not in ("auto", "cpu", "cuda", "mps"):
            raise ConfigError(f"device must be auto, cpu, cuda, cuda:N or mps, got {self.device!r}")
        if self.decode_step not in ("auto", "graph", "fixed", "exact"):
            raise ConfigError(f"decode_step must be auto, graph, fixed or exact, got {self.decode_step!r}")

    def resolve_device(self) -> Any:
        """The concrete `torch.device` this process will use."""
        import torch

        if self.device != "auto":
            return torch.device(self.device)
        if torch.cuda.is_available():
            return torch.device("cuda:0")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")

    def resolve_dtype(self) -> Any:
        """The concrete `torch.dtype` for the neural stages on the resolved device."""
        import torch

        if self.resolve_device().type != "cuda":
            return torch.float32
        return getattr(torch, self.dtype)
