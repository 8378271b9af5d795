"""BigVGAN on several mels of different lengths at once, each waveform as if it ran alone.

Legend: B mels, M mel bins, C channels, T time steps of the padded batch, L_b valid steps of mel b.

The mels are right-padded to one length. Padding would leak into a shorter mel's last samples
through every operation that reads a neighbourhood: the zero-padded convolutions (conv_pre, the
residual convs, conv_post, the transposed upsampling convs) and the replicate-padded filters of the
anti-aliased activations. So before each such operation the steps past L_b are refilled with what
that operation's own padding would put there for mel b alone: zeros before a convolution, the last
valid step repeated before a replicate-padded filter. Valid steps then get the same numbers as
alone, up to the order in which batched convolutions add (~1e-6 relative per layer; a random-weight
BigVGAN amplifies that to ~1e-3 of full scale, as it does any rounding: tests/test_decode_batching.py).
Element-wise steps (Snake, sums) need nothing. `BigVGAN.forward` is the structure followed here.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from indextts.vocoder.alias_free import AntiAliasedActivation
from indextts.vocoder.bigvgan import AMPBlock1, AMPBlock2, BigVGAN


def _valid(lengths: Tensor, total: int) -> Tensor:
    """(B,) lengths → (B, 1, total) bool, True on each mel's valid steps."""
    return (torch.arange(total, device=lengths.device)[None, :] < lengths[:, None]).unsqueeze(1)


def _zero_tail(x: Tensor, lengths: Tensor) -> Tensor:
    return x * _valid(lengths, x.shape[-1])


def _repeat_tail(x: Tensor, lengths: Tensor) -> Tensor:
    """Steps past L_b hold step L_b − 1 (replicate padding at each mel's own end)."""
    last = x.gather(2, (lengths - 1)[:, None, None].expand(-1, x.shape[1], 1))  # (B, C, 1)
    return torch.where(_valid(lengths, x.shape[-1]), x, last)


def _activation(act: AntiAliasedActivation, x: Tensor, lengths: Tensor) -> Tensor:
    up = act.upsample(_repeat_tail(x, lengths))  # (B, C, rT)
    y = act.act(up)
    return act.downsample(_repeat_tail(y, lengths * act.upsample.ratio))  # (B, C, T)


def _conv(conv: nn.Conv1d, x: Tensor, lengths: Tensor) -> Tensor:
    return conv(_zero_tail(x, lengths))


def _block(block: nn.Module, x: Tensor, lengths: Tensor) -> Tensor:
    if isinstance(block, AMPBlock1):
        for i, (conv1, conv2) in enumerate(zip(block.convs1, block.convs2, strict=True)):
            h = _conv(conv1, _activation(block.activations[2 * i], x, lengths), lengths)
            h = _conv(conv2, _activation(block.activations[2 * i + 1], h, lengths), lengths)
            x = h + x
        return x
    if isinstance(block, AMPBlock2):
        for conv, act in zip(block.convs, block.activations, strict=True):
            x = _conv(conv, _activation(act, x, lengths), lengths) + x
        return x
    raise TypeError(f"unknown BigVGAN residual block {type(block).__name__}")


@torch.inference_mode()
def vocode_batch(vocoder: BigVGAN, mels: Sequence[Tensor]) -> list[Tensor]:
    """mels, each (1, M, L_b) → waveforms, each (1, 1, hop·L_b), as `vocoder(mel)` gives each alone."""
    if not mels:
        return []
    frames = [mel.shape[-1] for mel in mels]
    total = max(frames)
    if min(frames) == total:  # no padding: a plain batch, every operation pads as it does alone
        return list(vocoder(torch.cat(list(mels), dim=0)).split(1, dim=0))
    x = torch.cat([F.pad(mel, (0, total - mel.shape[-1])) for mel in mels], dim=0)  # (B, M, T), zero tails
    lengths = torch.tensor(frames, device=x.device)  # (B,)
    x = vocoder.conv_pre(x)  # (B, C, T)
    for i, up in enumerate(vocoder.ups):
        x = up(_zero_tail(x, lengths))  # (B, C/2, u·T): a transposed conv reads zeros past the end alone
        lengths = lengths * up[0].stride[0]
        blocks = vocoder.resblocks[i * vocoder.num_kernels : (i + 1) * vocoder.num_kernels]
        total_ = _block(blocks[0], x, lengths)
        for blk in blocks[1:]:
            total_ = total_ + _block(blk, x, lengths)
        x = total_ / vocoder.num_kernels
    x = _conv(vocoder.conv_post, _activation(vocoder.activation_post, x, lengths), lengths)  # (B, 1, hop·T)
    x = torch.tanh(x) if vocoder.config.use_tanh_at_final else torch.clamp(x, min=-1.0, max=1.0)
    hop = vocoder.config.hop_length
    return [x[b : b + 1, :, : n * hop] for b, n in enumerate(frames)]
