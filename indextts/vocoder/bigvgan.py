"""BigVGAN v2 generator: log-mel spectrogram → waveform, and its hyper-parameters.

conv_pre lifts the mel frames to `upsample_initial_channel` channels; each upsampling stage is a
transposed convolution (×u in time, ½ the channels) followed by the mean of several AMP residual
blocks (anti-aliased Snake activations around dilated convolutions, one block per kernel size);
an anti-aliased activation and conv_post bring the last stage down to one channel. The output is
bounded to [−1, 1] (clamp in v2, tanh in v1 files).

Module attribute names make the state-dict keys those of the official `bigvgan_generator.pt`,
except that convolutions hold plain `weight`s: the file's weight-norm pairs are folded at load
time (see `indextts.vocoder.checkpoint`).

Legend: B batch, M mel bins (num_mels), C channels, T time steps (mel frames at the input; the
upsampling stages multiply it until it counts samples), K conv kernel taps.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from indextts.errors import ConfigError
from indextts.vocoder.alias_free import AntiAliasedActivation
from indextts.vocoder.snake import make_snake

RESBLOCK_TYPES = ("1", "2")
ACTIVATIONS = ("snake", "snakebeta")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _ints(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, (list, tuple)) and all(_is_int(v) for v in value):
        return tuple(value)
    return None


def _int_lists(value: Any) -> tuple[tuple[int, ...], ...] | None:
    if isinstance(value, (list, tuple)):
        rows = [_ints(v) for v in value]
        if all(row is not None for row in rows):
            return tuple(rows)  # type: ignore[arg-type]
    return None


# field annotation → (parser returning None when the value has the wrong type, what was expected)
_PARSERS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "int": (lambda v: v if _is_int(v) else None, "an integer"),
    "bool": (lambda v: v if isinstance(v, bool) else None, "true or false"),
    "str": (lambda v: v if isinstance(v, str) else None, "a string"),
    "tuple[int, ...]": (_ints, "a list of integers"),
    "tuple[tuple[int, ...], ...]": (_int_lists, "a list of lists of integers"),
}


@dataclass(frozen=True)
class BigVGANConfig:
    """The generator's hyper-parameters, named as in BigVGAN's `config.json`.

    The published file also holds training settings (discriminators, losses, data loading): they
    are ignored. `use_tanh_at_final` and `use_bias_at_final` default to true when absent, as the
    official loader does for BigVGAN v1 files.
    """

    num_mels: int
    upsample_rates: tuple[int, ...]
    upsample_kernel_sizes: tuple[int, ...]
    upsample_initial_channel: int
    resblock: str
    resblock_kernel_sizes: tuple[int, ...]
    resblock_dilation_sizes: tuple[tuple[int, ...], ...]
    activation: str
    snake_logscale: bool
    use_tanh_at_final: bool = True
    use_bias_at_final: bool = True

    def __post_init__(self) -> None:
        problems = self._problems()
        if problems:
            raise ConfigError("invalid BigVGAN config:\n  - " + "\n  - ".join(problems))

    @property
    def hop_length(self) -> int:
        """Waveform samples per mel frame: the product of the upsampling rates."""
        return math.prod(self.upsample_rates)

    def _problems(self) -> list[str]:
        problems = []
        if self.resblock not in RESBLOCK_TYPES:
            problems.append(f"'resblock' must be one of {RESBLOCK_TYPES}, got {self.resblock!r}")
        if self.activation not in ACTIVATIONS:
            problems.append(f"'activation' must be one of {ACTIVATIONS}, got {self.activation!r}")
        if len(self.upsample_rates) != len(self.upsample_kernel_sizes):
            problems.append("'upsample_rates' and 'upsample_kernel_sizes' must have the same length")
        for u, k in zip(self.upsample_rates, self.upsample_kernel_sizes, strict=False):
            # (k − u) even is what makes each transposed conv produce exactly u·T samples.
            if u < 1 or k < u or (k - u) % 2:
                problems.append(f"upsample kernel {k} does not fit rate {u} (need k ≥ u and k − u even)")
        if len(self.resblock_kernel_sizes) != len(self.resblock_dilation_sizes):
            problems.append("'resblock_kernel_sizes' and 'resblock_dilation_sizes' must have the same length")
        if not self.resblock_kernel_sizes or not all(self.resblock_dilation_sizes):
            problems.append("at least one residual block with at least one dilation is needed")
        if self.num_mels < 1 or self.upsample_initial_channel >> len(self.upsample_rates) < 1:
            problems.append("'num_mels' and the channels of the last stage must be at least 1")
        return problems

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any], source: str = "config.json") -> BigVGANConfig:
        """Read the generator keys of a parsed `config.json`; every problem is listed in one ConfigError."""
        if not isinstance(mapping, Mapping):
            raise ConfigError(f"{source}: expected a JSON object, got {type(mapping).__name__}")
        values: dict[str, Any] = {}
        problems: list[str] = []
        for f in dataclasses.fields(cls):
            if f.name not in mapping:
                if f.default is dataclasses.MISSING:
                    problems.append(f"missing key '{f.name}'")
                continue
            parse, expected = _PARSERS[str(f.type)]
            value = parse(mapping[f.name])
            if value is None:
                problems.append(f"key '{f.name}' must be {expected}, got {mapping[f.name]!r}")
            values[f.name] = value
        if problems:
            raise ConfigError(f"{source}: invalid BigVGAN config:\n  - " + "\n  - ".join(problems))
        try:
            return cls(**values)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None


def _same_padding(kernel_size: int, dilation: int = 1) -> int:
    return dilation * (kernel_size - 1) // 2


class AMPBlock1(nn.Module):
    """Per dilation d: x ← x + conv2(act(conv1_d(act(x)))); conv2 is undilated.

    The activations are stored interleaved: even indices precede convs1, odd ones precede convs2.
    """

    def __init__(
        self,
        channels: int,
        kernel_size: int,
        dilations: Sequence[int],
        make_act: Callable[[int], nn.Module],
    ) -> None:
        super().__init__()
        k = kernel_size
        self.convs1 = nn.ModuleList(
            nn.Conv1d(channels, channels, k, dilation=d, padding=_same_padding(k, d)) for d in dilations
        )
        self.convs2 = nn.ModuleList(nn.Conv1d(channels, channels, k, padding=_same_padding(k)) for _ in dilations)
        self.activations = nn.ModuleList(make_act(channels) for _ in range(2 * len(dilations)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, (conv1, conv2) in enumerate(zip(self.convs1, self.convs2, strict=True)):
            h = conv1(self.activations[2 * i](x))  # (B, C, T)
            h = conv2(self.activations[2 * i + 1](h))  # (B, C, T)
            x = h + x
        return x


class AMPBlock2(nn.Module):
    """Per dilation d: x ← x + conv_d(act(x)).

    The official class of this copy forgets to return its result, so only type "1" runs there;
    this is the evident intent, kept for configs that name type "2".
    """

    def __init__(
        self,
        channels: int,
        kernel_size: int,
        dilations: Sequence[int],
        make_act: Callable[[int], nn.Module],
    ) -> None:
        super().__init__()
        k = kernel_size
        self.convs = nn.ModuleList(
            nn.Conv1d(channels, channels, k, dilation=d, padding=_same_padding(k, d)) for d in dilations
        )
        self.activations = nn.ModuleList(make_act(channels) for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, act in zip(self.convs, self.activations, strict=True):
            x = conv(act(x)) + x  # (B, C, T)
        return x


class BigVGAN(nn.Module):
    """mel (B, M, T) → waveform (B, 1, hop_length·T) in [−1, 1]."""

    def __init__(
        self,
        config: BigVGANConfig,
        *,
        conv_pre_kernel_size: int = 7,
        conv_post_kernel_size: int = 7,
        alias_ratio: int = 2,
        alias_kernel_size: int = 12,
    ) -> None:
        super().__init__()
        self.config = config
        self.num_kernels = len(config.resblock_kernel_sizes)

        def make_act(channels: int) -> nn.Module:
            snake = make_snake(config.activation, channels, config.snake_logscale)
            return AntiAliasedActivation(snake, alias_ratio, alias_kernel_size)

        channels = config.upsample_initial_channel
        self.conv_pre = nn.Conv1d(config.num_mels, channels, conv_pre_kernel_size, padding=conv_pre_kernel_size // 2)
        # One Sequential per stage: the official file nests each transposed conv one level deeper.
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        block = AMPBlock1 if config.resblock == "1" else AMPBlock2
        for u, k in zip(config.upsample_rates, config.upsample_kernel_sizes, strict=True):
            self.ups.append(nn.Sequential(nn.ConvTranspose1d(channels, channels // 2, k, u, padding=(k - u) // 2)))
            channels //= 2
            for kernel, dilations in zip(config.resblock_kernel_sizes, config.resblock_dilation_sizes, strict=True):
                self.resblocks.append(block(channels, kernel, dilations, make_act))
        self.activation_post = make_act(channels)
        self.conv_post = nn.Conv1d(
            channels, 1, conv_post_kernel_size, padding=conv_post_kernel_size // 2, bias=config.use_bias_at_final
        )

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(mel)  # (B, C, T)
        for i, up in enumerate(self.ups):
            x = up(x)  # (B, C/2, u·T)
            blocks = self.resblocks[i * self.num_kernels : (i + 1) * self.num_kernels]
            # Sum then divide (not torch.mean) to add in the official order.
            total = blocks[0](x)
            for blk in blocks[1:]:
                total = total + blk(x)
            x = total / self.num_kernels  # (B, C/2, u·T)
        x = self.activation_post(x)  # (B, C, hop·T)
        x = self.conv_post(x)  # (B, 1, hop·T)
        if self.config.use_tanh_at_final:
            return torch.tanh(x)
        return torch.clamp(x, min=-1.0, max=1.0)


def to_pcm16_scale(wav: torch.Tensor) -> torch.Tensor:
    """A [−1, 1] waveform on the 16-bit PCM scale, still float: clamp(32767·wav, ±32767)."""
    return torch.clamp(32767 * wav, -32767.0, 32767.0)
