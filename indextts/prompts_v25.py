"""IndexTTS-2.5 prompt conditioning (beside `prompts`): the same recordings, one difference.

The s2mel prompt condition is the length regulator over the standardised w2v-BERT features
themselves (2.0 regulates their codec quantisation), so the speaker prompt runs no codec at all.
Loading order, caches and the emotion prompt are the 2.0 ones.
"""

from __future__ import annotations

import logging
import time

import torch

from indextts.audio import load_speaker_prompt, mel_spectrogram, speaker_fbank
from indextts.prompts import PromptEncoder, SpeakerPrompt

log = logging.getLogger(__name__)


class PromptEncoder25(PromptEncoder):
    @torch.inference_mode()
    def encode_speaker(self, source) -> SpeakerPrompt:  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        audio = load_speaker_prompt(source)
        wave_22k, wave_16k = audio.wave_22k.to(self.device), audio.wave_16k.to(self.device)
        spk_cond_emb = self.features(wave_16k)  # (1, T_w, S)
        spect = self.cfg.s2mel.preprocess_params.spect_params
        ref_mel = mel_spectrogram(wave_22k, spect, self.cfg.s2mel.preprocess_params.sr)  # (1, M, T_ref)
        style = self.campplus(speaker_fbank(wave_16k).unsqueeze(0))  # (1, 192)
        prompt_condition = self.s2mel.regulate(spk_cond_emb, ref_mel.shape[-1])  # (1, T_ref, C)
        log.info("speaker prompt %.1f s encoded in %.2f s", audio.duration, time.perf_counter() - started)
        no_codes = torch.zeros(1, 0, dtype=torch.long, device=self.device)  # 2.5 does not quantise the prompt
        return SpeakerPrompt(spk_cond_emb, no_codes, spk_cond_emb, ref_mel, style, prompt_condition, audio.duration)
