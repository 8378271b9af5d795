"""BigVGAN v2 vocoder: mel spectrogram → 22.05 kHz waveform (official checkpoint layout)."""

from indextts.vocoder.bigvgan import AMPBlock1, AMPBlock2, BigVGAN, BigVGANConfig, to_pcm16_scale
from indextts.vocoder.checkpoint import (
    bigvgan_from_official,
    bigvgan_to_official,
    load_bigvgan,
    load_bigvgan_config,
    write_bigvgan,
)

__all__ = [
    "AMPBlock1",
    "AMPBlock2",
    "BigVGAN",
    "BigVGANConfig",
    "bigvgan_from_official",
    "bigvgan_to_official",
    "load_bigvgan",
    "load_bigvgan_config",
    "to_pcm16_scale",
    "write_bigvgan",
]
