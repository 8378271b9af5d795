"""Prompt conditioning: everything the model takes from the speaker and emotion recordings (§5).

Speaker prompt, in the official order: w2v-BERT layer-17 features of the 16 kHz signal (resampled
by torchaudio from the 22.05 kHz load) → semantic codec quantisation → log-mel of the 22.05 kHz
signal → CAMPPlus style vector from the Kaldi fbank → the quantised features stretched to the mel
length by the s2mel length regulator. Emotion prompt: w2v-BERT features of a 16 kHz signal that
librosa resamples directly from the file (so even the default "emotion = speaker file" differs
slightly from the speaker's own features, as in the official code).

Legend: T_w feature frames (50 Hz), S semantic width, T_ref mel frames, M mel bins, C s2mel channels.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import torch

from indextts.audio import (
    SPEAKER_SAMPLE_RATE,
    AudioSource,
    load_emotion_prompt,
    load_speaker_prompt,
    mel_spectrogram,
    speaker_fbank,
)
from indextts.cache import ContentCache, content_key
from indextts.config import ModelConfig
from indextts.errors import AudioDecodeError
from indextts.s2mel.model import S2Mel
from indextts.semantic.codec import SemanticCodec
from indextts.semantic.features import SemanticFeatures
from indextts.speaker import CAMPPlus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpeakerPrompt:
    spk_cond_emb: torch.Tensor  # (1, T_w, S) standardised w2v-BERT features
    prompt_codes: torch.Tensor  # (1, T_w) semantic codes of the prompt
    s_ref: torch.Tensor  # (1, T_w, S) quantised embedding
    ref_mel: torch.Tensor  # (1, M, T_ref)
    style: torch.Tensor  # (1, 192) CAMPPlus
    prompt_condition: torch.Tensor  # (1, T_ref, C)
    duration_s: float
    # What the engine derives from this recording and keeps while the prompt is cached (its emotion vector).
    derived: dict[str, torch.Tensor] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class EmotionPrompt:
    emo_cond_emb: torch.Tensor  # (1, T_w, S)
    derived: dict[str, torch.Tensor] = field(default_factory=dict, compare=False, repr=False)


def _key(source: AudioSource, *salt: str) -> str:
    try:
        return content_key(source, *salt)
    except OSError as exc:
        raise AudioDecodeError(f"cannot read the audio file {source}: {exc.strerror or exc}") from exc


class PromptEncoder:
    """Turns recordings into conditioning, caching the results by audio content."""

    def __init__(
        self,
        cfg: ModelConfig,
        features: SemanticFeatures,
        codec: SemanticCodec,
        campplus: CAMPPlus,
        s2mel: S2Mel,
        device: torch.device,
        cache_size: int = 8,
    ) -> None:
        self.cfg = cfg
        self.features, self.codec, self.campplus, self.s2mel = features, codec, campplus, s2mel
        self.device = device
        self.speakers: ContentCache[SpeakerPrompt] = ContentCache(cache_size)
        self.emotions: ContentCache[EmotionPrompt] = ContentCache(cache_size)

    @torch.inference_mode()
    def encode_speaker(self, source: AudioSource) -> SpeakerPrompt:
        started = time.perf_counter()
        audio = load_speaker_prompt(source)
        wave_22k, wave_16k = audio.wave_22k.to(self.device), audio.wave_16k.to(self.device)
        spk_cond_emb = self.features(wave_16k)  # (1, T_w, S)
        codes, s_ref = self.codec.quantize(spk_cond_emb)  # (1, T_w), (1, T_w, S)
        spect = self.cfg.s2mel.preprocess_params.spect_params
        ref_mel = mel_spectrogram(wave_22k, spect, self.cfg.s2mel.preprocess_params.sr)  # (1, M, T_ref)
        style = self.campplus(speaker_fbank(wave_16k).unsqueeze(0))  # (1, 192)
        prompt_condition = self.s2mel.regulate(s_ref, ref_mel.shape[-1])  # (1, T_ref, C)
        log.info("speaker prompt %.1f s encoded in %.2f s", audio.duration, time.perf_counter() - started)
        return SpeakerPrompt(spk_cond_emb, codes, s_ref, ref_mel, style, prompt_condition, audio.duration)

    @torch.inference_mode()
    def encode_emotion(self, source: AudioSource) -> EmotionPrompt:
        wave_16k = load_emotion_prompt(source).to(self.device)
        return EmotionPrompt(self.features(wave_16k))

    def speaker(self, source: AudioSource) -> SpeakerPrompt:
        key = _key(source, "speaker", str(SPEAKER_SAMPLE_RATE))
        return self.speakers.get_or_compute(key, lambda: self.encode_speaker(source))

    def emotion(self, source: AudioSource) -> EmotionPrompt:
        key = _key(source, "emotion")
        return self.emotions.get_or_compute(key, lambda: self.encode_emotion(source))
