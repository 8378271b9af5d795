"""BigVGAN in chunks: a mel's waveform piece by piece, each piece equal to the one-shot output.

BigVGAN is convolutional, so output sample n depends only on mel frames within a fixed reach of
frame n / hop. A chunk of frames [a, b) is therefore vocoded from the window
[a − R, b + R) (clipped to the mel) and cropped to its own hop·(b − a) samples: inside the crop
every layer reads the same inputs as in the one-shot pass, and at the mel's true ends the window
ends where the one-shot input ends, with the same padding. The concatenated chunks equal
`vocoder(mel)` up to float rounding (the convolution kernels may add in another order for another
length: ≤ 1 LSB of int16, tests/test_streaming_chunks.py).

The reach R (one side, in mel frames) is summed layer by layer from the output back to the mel,
each layer's reach in its own steps divided by that layer's steps per frame:

    conv_pre: (K−1)/2 frames
  + per upsampling stage (rate r samples per frame after it, ×u, kernel k, padding p): the
    transposed conv, max(k−1−p, p)/u steps at rate r/u; the widest residual block at rate r:
    per dilation d, two anti-aliased activations and the convs' (k−1)/2·d + (k−1)/2 steps
  + activation_post and conv_post at the output rate (hop)
  + 1 frame, since a sample lies anywhere inside its frame.

An anti-aliased activation (×2 up, Snake, low-pass ÷2, 12-tap filters) reaches 12/4 + 12/4 = 6
steps. For BigVGAN v2 22 kHz 256× this gives R = 42 frames (0.49 s) each side; the first stage's
residual blocks (kernel 11, dilations 1, 3, 5: 96 steps at 4 samples per frame) make 24 of them.
(Measured, a perturbed frame changes float32 samples only 27.5 frames away: the far taps of the
filters fall below float32 resolution. R is the structural bound, so equality never relies on that.)

Legend: M mel bins, T mel frames, hop samples per frame.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import nn

from indextts.vocoder.alias_free import AntiAliasedActivation
from indextts.vocoder.bigvgan import AMPBlock1, AMPBlock2, BigVGAN

FIRST_CHUNK_FRAMES = 16  # ≈ 0.19 s at 22.05 kHz / 256: the first audio leaves early
MAX_CHUNK_FRAMES = 256  # chunks double from the first one up to this (fewer redundant contexts)


def _activation_reach(act: AntiAliasedActivation) -> int:
    """Steps on each side an anti-aliased activation reads (upsampler, then low-pass decimator)."""
    up_taps, ratio = act.upsample.filter.shape[-1], act.upsample.ratio
    down_taps = act.downsample.lowpass.filter.shape[-1]
    return math.ceil(up_taps / (2 * ratio)) + math.ceil(down_taps / (2 * ratio))


def _conv_reach(conv: nn.Conv1d) -> int:
    return conv.dilation[0] * (conv.kernel_size[0] - 1) // 2


def _block_reach(block: nn.Module) -> int:
    """Steps on each side a residual block reads: its layers run one after another."""
    if isinstance(block, AMPBlock1):
        return sum(
            _activation_reach(block.activations[2 * i])
            + _conv_reach(conv1)
            + _activation_reach(block.activations[2 * i + 1])
            + _conv_reach(conv2)
            for i, (conv1, conv2) in enumerate(zip(block.convs1, block.convs2, strict=True))
        )
    if isinstance(block, AMPBlock2):
        return sum(_activation_reach(a) + _conv_reach(c) for a, c in zip(block.activations, block.convs, strict=True))
    raise TypeError(f"unknown BigVGAN residual block {type(block).__name__}")


def receptive_field_frames(vocoder: BigVGAN) -> int:
    """Mel frames on each side of a frame that its samples depend on (rounded up)."""
    hop = vocoder.config.hop_length
    reach = (_activation_reach(vocoder.activation_post) + _conv_reach(vocoder.conv_post)) / hop
    rate = hop
    for i in reversed(range(len(vocoder.ups))):
        blocks = vocoder.resblocks[i * vocoder.num_kernels : (i + 1) * vocoder.num_kernels]
        reach += max(_block_reach(b) for b in blocks) / rate
        up: nn.ConvTranspose1d = vocoder.ups[i][0]
        stride, kernel, padding = up.stride[0], up.kernel_size[0], up.padding[0]
        rate //= stride
        reach += max(kernel - 1 - padding, padding) / stride / rate
    reach += _conv_reach(vocoder.conv_pre)
    return math.ceil(reach) + 1  # + 1: a sample sits up to a frame from its frame's start


def chunk_bounds(
    frames: int, first: int = FIRST_CHUNK_FRAMES, largest: int = MAX_CHUNK_FRAMES
) -> list[tuple[int, int]]:
    """[a, b) frame ranges covering `frames`: `first` frames, then each twice the last, up to `largest`."""
    if first < 1 or largest < first:
        raise ValueError(f"chunk sizes must satisfy 1 ≤ first ≤ largest, got {first}, {largest}")
    bounds, start, size = [], 0, first
    while start < frames:
        bounds.append((start, min(frames, start + size)))
        start, size = start + size, min(largest, 2 * size)
    return bounds


@torch.inference_mode()
def vocode_chunks(
    vocoder: BigVGAN,
    mel: torch.Tensor,
    first: int = FIRST_CHUNK_FRAMES,
    largest: int = MAX_CHUNK_FRAMES,
) -> Iterator[torch.Tensor]:
    """mel (1, M, T) → waveform chunks (1, 1, hop·(b − a)) in order; joined they are `vocoder(mel)`.

    Each chunk is computed when asked for, so the first can be played while the next is made.
    """
    frames, hop = mel.shape[-1], vocoder.config.hop_length
    reach = receptive_field_frames(vocoder)
    for start, end in chunk_bounds(frames, first, largest):
        lo, hi = max(0, start - reach), min(frames, end + reach)
        wav = vocoder(mel[..., lo:hi])  # (1, 1, hop·(hi − lo))
        yield wav[..., (start - lo) * hop : (end - lo) * hop]
