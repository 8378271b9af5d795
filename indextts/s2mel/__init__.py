"""The s2mel stage: semantic features → mel spectrogram by conditional flow matching.

`length_regulator` stretches code-rate features to mel-frame rate, `dit` (with `transformer` and
`wavenet`) is the velocity-field estimator, `flow_matching.solve_cfm` integrates it from noise with
classifier-free guidance, and `model` holds the three weight groups of `s2mel.pth` and loads them.
"""

from indextts.s2mel.dit import DiT
from indextts.s2mel.flow_matching import solve_cfm
from indextts.s2mel.length_regulator import InterpolateRegulator, nearest_source_index
from indextts.s2mel.model import S2Mel, load_s2mel, s2mel_from_official, s2mel_to_official

__all__ = [
    "DiT",
    "InterpolateRegulator",
    "S2Mel",
    "load_s2mel",
    "nearest_source_index",
    "s2mel_from_official",
    "s2mel_to_official",
    "solve_cfm",
]
