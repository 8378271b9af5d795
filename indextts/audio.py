"""Audio front end: decoding, the official resampling paths, and the features the model reads.

Shapes: N samples, C channels, T frames, F mel bins.

    speaker prompt ─ decode, mono ─ soxr → 22.05 kHz ─ first 15 s ─┬─ log-mel (1, 80, T)  [s2mel prompt]
                                                                    └─ torchaudio → 16 kHz
                                                                        ├─ w2v-BERT inputs  [GPT, codec]
                                                                        └─ Kaldi fbank      [CAMPPlus]
    emotion prompt ─ decode, mono ─ soxr → 16 kHz directly ─ first 15 s ─ w2v-BERT inputs

The two 16 kHz paths differ on purpose: the official code resamples the speaker prompt with
torchaudio from 22.05 kHz and the emotion prompt with soxr from the file's rate, so even the
same file gives slightly different signals.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch

from indextts.config import SpectParams
from indextts.errors import AudioDecodeError, AudioTooLongError, AudioTooShortError, EmptyAudioError

SPEAKER_SAMPLE_RATE = 22050  # s2mel / BigVGAN rate
SEMANTIC_SAMPLE_RATE = 16000  # w2v-BERT and CAMPPlus rate
PROMPT_MAX_SECONDS = 15  # prompts are cut to their first 15 s
PROMPT_MIN_SECONDS = 0.5  # shorter prompts give the speaker encoders next to nothing
DEFAULT_MAX_INPUT_SECONDS = 600.0  # refuse to decode hours of audio for a 15 s prompt

# w2v-BERT 2.0's preprocessor_config.json, used when the model folder is not at hand.
W2V_BERT_PREPROCESSOR = {
    "feature_size": 80,
    "num_mel_bins": 80,
    "padding_value": 1.0,
    "sampling_rate": SEMANTIC_SAMPLE_RATE,
    "stride": 2,
}

AudioSource = str | os.PathLike | bytes


# --- decoding ----------------------------------------------------------------------------------


def _describe(source: AudioSource) -> str:
    return f"{len(source)} bytes of uploaded data" if isinstance(source, bytes) else f"'{source}'"


def _open(source: AudioSource) -> Any:
    return io.BytesIO(source) if isinstance(source, bytes) else os.fspath(source)


def _decode_with_soundfile(source: AudioSource, max_seconds: float | None) -> tuple[np.ndarray, int]:
    with sf.SoundFile(_open(source)) as handle:
        _check_duration(source, handle.frames / handle.samplerate, max_seconds)
        # One read from the start of a fresh handle, as librosa does: for MP3, sf.read() (which
        # seeks first) decodes differently in the last bit.
        data = handle.read(frames=-1, dtype="float32", always_2d=True)  # (N, C)
        return data, handle.samplerate


def _decode_with_ffmpeg(source: AudioSource, max_seconds: float | None) -> tuple[np.ndarray, int]:
    """Containers libsndfile cannot read (m4a, aac, webm, …), at their own rate and channels."""
    from_memory = isinstance(source, bytes)
    with tempfile.TemporaryDirectory() as scratch:
        wav = Path(scratch) / "decoded.wav"
        command = ["ffmpeg", "-nostdin", "-v", "error", "-i", "pipe:0" if from_memory else os.fspath(source)]
        if max_seconds is not None:
            command += ["-t", str(max_seconds + 1)]  # decode just enough to know it is too long
        command += ["-vn", "-acodec", "pcm_f32le", str(wav)]
        try:
            result = subprocess.run(
                command, input=source if from_memory else None, capture_output=True, timeout=120, check=False
            )
        except subprocess.TimeoutExpired:
            raise AudioDecodeError(f"{_describe(source)}: decoding took over 120 s; send a shorter file") from None
        if result.returncode != 0 or not wav.is_file():
            detail = result.stderr.decode("utf-8", "replace").strip().splitlines()
            raise AudioDecodeError(
                f"{_describe(source)} is not audio that can be decoded ({detail[-1] if detail else 'ffmpeg failed'})"
            )
        data, rate = sf.read(wav, dtype="float32", always_2d=True)
    _check_duration(source, len(data) / rate, max_seconds, known_length=False)
    return data, rate


def _check_duration(source: AudioSource, duration: float, max_seconds: float | None, known_length: bool = True) -> None:
    if max_seconds is not None and duration > max_seconds:
        length = f"{duration:.1f} s long" if known_length else f"longer than {max_seconds:.0f} s"
        raise AudioTooLongError(
            f"{_describe(source)} is {length}; the limit is {max_seconds:.0f} s. "
            "Use a shorter clip (only the first 15 s of a prompt are used anyway).",
            duration,
            max_seconds,
        )


def load_audio(
    source: AudioSource, sample_rate: int | None = None, max_seconds: float | None = DEFAULT_MAX_INPUT_SECONDS
) -> tuple[np.ndarray, int]:
    """Decode any common audio file to mono float32 in [-1, 1] → ((N,), rate).

    Same numbers as `librosa.load(source, sr=sample_rate)`, the official loader: channels are
    averaged and the signal is resampled with soxr's high-quality mode. WAV, FLAC, OGG/Vorbis,
    Opus and MP3 decode with libsndfile; other containers with ffmpeg when it is installed.
    """
    try:
        data, rate = _decode_with_soundfile(source, max_seconds)
    except sf.SoundFileRuntimeError as exc:
        if not isinstance(source, bytes) and not Path(source).is_file():
            raise AudioDecodeError(f"{_describe(source)}: no such file") from None
        if shutil.which("ffmpeg") is None:
            raise AudioDecodeError(
                f"{_describe(source)} is not audio in a format this node can read ({exc}). "
                "Use WAV, FLAC, OGG, Opus or MP3, or install ffmpeg for other formats."
            ) from None
        data, rate = _decode_with_ffmpeg(source, max_seconds)
    if data.shape[0] == 0:
        raise EmptyAudioError(f"{_describe(source)} contains no audio samples")
    if not np.isfinite(data).all():
        raise AudioDecodeError(f"{_describe(source)} contains NaN or infinite samples")
    import librosa

    mono = data[:, 0] if data.shape[1] == 1 else librosa.to_mono(data.T)  # (N,)
    if sample_rate is not None and sample_rate != rate:
        mono = librosa.resample(mono, orig_sr=rate, target_sr=sample_rate, res_type="soxr_hq")
        rate = sample_rate
    return np.ascontiguousarray(mono, dtype=np.float32), rate


# --- prompts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeakerAudio:
    """A speaker prompt on both of the model's clocks."""

    wave_22k: torch.Tensor  # (1, N22) float32, s2mel/vocoder rate
    wave_16k: torch.Tensor  # (1, N16) float32, semantic rate

    @property
    def duration(self) -> float:
        return self.wave_22k.shape[-1] / SPEAKER_SAMPLE_RATE


def _first_seconds(wave: np.ndarray, rate: int, seconds: float) -> torch.Tensor:
    return torch.from_numpy(wave[: int(seconds * rate)].copy()).unsqueeze(0)  # (1, N)


def _check_prompt_length(source: AudioSource, wave: torch.Tensor, rate: int) -> None:
    if wave.shape[-1] < PROMPT_MIN_SECONDS * rate:
        raise AudioTooShortError(
            f"{_describe(source)} is {wave.shape[-1] / rate:.2f} s long; a voice prompt needs at least "
            f"{PROMPT_MIN_SECONDS} s of speech (3–15 s works best)."
        )


def load_speaker_prompt(source: AudioSource, max_seconds: float | None = DEFAULT_MAX_INPUT_SECONDS) -> SpeakerAudio:
    wave, rate = load_audio(source, SPEAKER_SAMPLE_RATE, max_seconds)
    wave_22k = _first_seconds(wave, rate, PROMPT_MAX_SECONDS)
    _check_prompt_length(source, wave_22k, rate)
    return SpeakerAudio(wave_22k, resample(wave_22k, SPEAKER_SAMPLE_RATE, SEMANTIC_SAMPLE_RATE))


def load_emotion_prompt(source: AudioSource, max_seconds: float | None = DEFAULT_MAX_INPUT_SECONDS) -> torch.Tensor:
    """(1, N16): resampled straight from the file's rate, unlike the speaker prompt's 16 kHz path."""
    wave, rate = load_audio(source, SEMANTIC_SAMPLE_RATE, max_seconds)
    wave_16k = _first_seconds(wave, rate, PROMPT_MAX_SECONDS)
    _check_prompt_length(source, wave_16k, rate)
    return wave_16k


# --- resampling and features -------------------------------------------------------------------

_resamplers_lock = threading.Lock()


@lru_cache(maxsize=16)
def _resampler(orig_sr: int, target_sr: int, device: str) -> torch.nn.Module:
    import torchaudio

    # The transform computes its sinc kernel in float64 and stores it as float32, which is not
    # bit-identical to torchaudio.functional.resample; the official code uses the transform.
    return torchaudio.transforms.Resample(orig_sr, target_sr).to(device)


def resample(wave: torch.Tensor, orig_sr: int, target_sr: int) -> torch.Tensor:
    """(…, N) → (…, N') with torchaudio's windowed-sinc resampler (Hann, 6 zero crossings)."""
    with _resamplers_lock:
        transform = _resampler(orig_sr, target_sr, str(wave.device))
    return transform(wave)


@lru_cache(maxsize=8)
def _mel_basis(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> torch.Tensor:
    import librosa

    basis = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    return torch.from_numpy(basis).float()  # (F, n_fft // 2 + 1), Slaney scale and area norm


def mel_spectrogram(wave: torch.Tensor, params: SpectParams, sample_rate: int = SPEAKER_SAMPLE_RATE) -> torch.Tensor:
    """(B, N) → (B, F, T) natural-log mel magnitude with T = N // hop (for N ≥ hop).

    Reflect-padded by (n_fft - hop) / 2 and not centred, so frame t covers samples
    [t·hop - pad, t·hop - pad + n_fft).
    """
    pad = (params.n_fft - params.hop_length) // 2
    padded = torch.nn.functional.pad(wave.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)  # (B, N + 2·pad)
    window = torch.hann_window(params.win_length, device=wave.device)
    spec = torch.stft(
        padded,
        params.n_fft,
        hop_length=params.hop_length,
        win_length=params.win_length,
        window=window,
        center=False,
        normalized=False,
        onesided=True,
        return_complex=True,
    )  # (B, n_fft // 2 + 1, T)
    magnitude = torch.sqrt(torch.view_as_real(spec).pow(2).sum(-1) + 1e-9)
    basis = _mel_basis(sample_rate, params.n_fft, params.n_mels, params.fmin, params.fmax).to(wave.device)
    return torch.log(torch.clamp(basis @ magnitude, min=1e-5))  # (B, F, T)


def speaker_fbank(wave_16k: torch.Tensor) -> torch.Tensor:
    """(1, N16) → (T, 80) Kaldi fbank of the [-1, 1] signal minus its time mean (CAMPPlus input)."""
    import torchaudio

    feats = torchaudio.compliance.kaldi.fbank(
        wave_16k, num_mel_bins=80, dither=0, sample_frequency=SEMANTIC_SAMPLE_RATE
    )  # (T, 80): 25 ms Povey frames every 10 ms, snip_edges
    return feats - feats.mean(dim=0, keepdim=True)


def w2v_bert_feature_extractor(w2v_bert_dir: str | Path | None = None) -> Any:
    """transformers' SeamlessM4TFeatureExtractor, from the w2v-bert-2.0 folder when it is there."""
    from transformers import SeamlessM4TFeatureExtractor

    if w2v_bert_dir is not None and (Path(w2v_bert_dir) / "preprocessor_config.json").is_file():
        return SeamlessM4TFeatureExtractor.from_pretrained(str(w2v_bert_dir), local_files_only=True)
    return SeamlessM4TFeatureExtractor(**W2V_BERT_PREPROCESSOR)


def w2v_bert_inputs(extractor: Any, wave_16k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(1, N16) → input_features (1, T_w, 160), attention_mask (1, T_w).

    80-bin Kaldi-style fbank of the ×32768 signal, standardised per bin, frame pairs stacked
    (an odd last frame is padded and masked out).
    """
    out = extractor(wave_16k, sampling_rate=SEMANTIC_SAMPLE_RATE, return_tensors="pt")
    return out["input_features"], out["attention_mask"]


# --- output ------------------------------------------------------------------------------------


def silence_samples(interval_ms: float, sample_rate: int = SPEAKER_SAMPLE_RATE) -> int:
    """Length of the pause between segments; none for intervals ≤ 0."""
    return int(sample_rate * interval_ms / 1000.0) if interval_ms > 0 else 0


def join_segments(
    waves: Sequence[torch.Tensor], interval_ms: float, sample_rate: int = SPEAKER_SAMPLE_RATE
) -> torch.Tensor:
    """(C, N_i) segments → (C, ΣN_i + gaps): silence between segments, not before or after."""
    if not waves:
        raise ValueError("no segments to join")
    gap = torch.zeros(waves[0].shape[0], silence_samples(interval_ms, sample_rate), dtype=waves[0].dtype)
    parts: list[torch.Tensor] = []
    for index, wave in enumerate(waves):
        if index:
            parts.append(gap)
        parts.append(wave)
    return torch.cat(parts, dim=1)
