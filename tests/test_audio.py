"""Audio front end on synthetic signals, checked against independent computations.

librosa.load is the official prompt loader, so decoding must agree with it exactly; the mel,
Kaldi fbank and w2v-BERT inputs are recomputed here from their definitions in numpy.
"""

from __future__ import annotations

import math
import shutil
import subprocess

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch

from indextts import audio
from indextts.config import load_config
from indextts.errors import AudioDecodeError, AudioTooLongError, AudioTooShortError, EmptyAudioError
from tests.conftest import REPO

SPECT = load_config(REPO / "checkpoints").s2mel.preprocess_params.spect_params


def sine(freq: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def chirp(seconds: float, rate: int, f0: float = 100.0, f1: float = 6000.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * seconds))
    return (0.4 * np.sin(phase)).astype(np.float32)


def noise(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * rate))).astype(np.float32)


# --- decoding ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "subtype", "rate", "channels"),
    [
        ("WAV", "PCM_16", 44100, 2),
        ("WAV", "FLOAT", 22050, 1),
        ("FLAC", "PCM_24", 16000, 1),
        ("OGG", "VORBIS", 48000, 2),
        ("MP3", "MPEG_LAYER_III", 24000, 1),
    ],
)
def test_decoding_matches_the_official_loader(tmp_path, fmt, subtype, rate, channels):
    left = chirp(2.0, rate)
    data = np.stack([left, noise(2.0, rate)], axis=1) if channels == 2 else left
    path = tmp_path / f"signal.{fmt.lower()}"
    sf.write(path, data, rate, format=fmt, subtype=subtype)
    for target in (None, 22050, 16000):
        ours, our_rate = audio.load_audio(path, target)
        reference, ref_rate = librosa.load(path, sr=target)
        assert our_rate == ref_rate == (target or rate)
        assert ours.dtype == np.float32 and ours.ndim == 1
        np.testing.assert_array_equal(ours, reference)
    # resampled length is ceil(N · target / rate), as librosa fixes it
    n = sf.info(path).frames
    assert len(audio.load_audio(path, 22050)[0]) == math.ceil(n * 22050 / rate)


def test_uploaded_bytes_decode_like_the_file(tmp_path):
    path = tmp_path / "voice.wav"
    sf.write(path, chirp(1.5, 44100), 44100)
    from_file, _ = audio.load_audio(path, 16000)
    from_bytes, _ = audio.load_audio(path.read_bytes(), 16000)
    np.testing.assert_array_equal(from_file, from_bytes)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg decodes containers libsndfile cannot")
def test_containers_libsndfile_cannot_read_go_through_ffmpeg(tmp_path):
    wav = tmp_path / "source.wav"
    sf.write(wav, sine(440, 2.0, 44100), 44100)
    m4a = tmp_path / "voice.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), "-c:a", "aac", str(m4a)], check=True)
    for source in (m4a, m4a.read_bytes()):
        wave, rate = audio.load_audio(source, 22050)
        assert rate == 22050
        assert abs(len(wave) / rate - 2.0) < 0.1  # AAC adds priming samples
        # still a 440 Hz tone
        spectrum = np.abs(np.fft.rfft(wave[4410 : 4410 + 8192]))
        assert abs(np.argmax(spectrum) * 22050 / 8192 - 440) < 5
    with pytest.raises(AudioTooLongError, match="longer than 1 s"):
        audio.load_audio(m4a, max_seconds=1)


def test_broken_inputs_give_typed_errors_that_say_what_is_wrong(tmp_path):
    with pytest.raises(AudioDecodeError, match="no such file"):
        audio.load_audio(tmp_path / "missing.wav")
    text = tmp_path / "notes.wav"
    text.write_text("this is a text file, not audio\n" * 20)
    with pytest.raises(AudioDecodeError, match="not audio"):
        audio.load_audio(text)
    with pytest.raises(AudioDecodeError, match="bytes of uploaded data"):
        audio.load_audio(b"\x00\x01garbage" * 100)
    zero_bytes = tmp_path / "zero.wav"
    zero_bytes.write_bytes(b"")
    with pytest.raises(AudioDecodeError):
        audio.load_audio(zero_bytes)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(EmptyAudioError, match="no audio samples"):
        audio.load_audio(empty)
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.array([0.1, np.nan, 0.2] * 1000, dtype=np.float32), 16000, subtype="FLOAT")
    with pytest.raises(AudioDecodeError, match="NaN"):
        audio.load_audio(nan)


def test_too_long_is_refused_from_the_header(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, noise(5.0, 8000), 8000)
    with pytest.raises(AudioTooLongError, match=r"5\.0 s long; the limit is 3 s") as err:
        audio.load_audio(path, max_seconds=3)
    assert err.value.duration_s == pytest.approx(5.0) and err.value.limit_s == 3
    assert len(audio.load_audio(path, max_seconds=None)[0]) == 40000


# --- prompts -----------------------------------------------------------------------------------


def test_speaker_prompt_is_cut_to_15_s_and_resampled_to_both_rates(tmp_path):
    path = tmp_path / "long_prompt.wav"
    sf.write(path, chirp(20.0, 44100), 44100)
    speaker = audio.load_speaker_prompt(path)
    assert speaker.wave_22k.shape == (1, 15 * 22050)
    assert speaker.wave_16k.shape == (1, 15 * 16000)
    assert speaker.duration == 15.0
    # the 16 kHz signal is torchaudio's resampling of the 22.05 kHz one
    import torchaudio

    expected = torchaudio.transforms.Resample(22050, 16000)(speaker.wave_22k)
    torch.testing.assert_close(speaker.wave_16k, expected, rtol=0, atol=0)


def test_emotion_prompt_takes_the_direct_16k_path(tmp_path):
    path = tmp_path / "emotion.wav"
    sf.write(path, chirp(3.0, 44100), 44100)
    emotion = audio.load_emotion_prompt(path)
    direct, _ = librosa.load(path, sr=16000)
    np.testing.assert_array_equal(emotion[0].numpy(), direct)
    via_22k = audio.load_speaker_prompt(path).wave_16k
    assert emotion.shape == via_22k.shape
    assert not torch.equal(emotion, via_22k)  # same file, different 16 kHz signal (as upstream)
    assert torch.allclose(emotion, via_22k, atol=0.05)


def test_too_short_prompt_is_refused(tmp_path):
    path = tmp_path / "blip.wav"
    sf.write(path, sine(300, 0.2, 16000), 16000)
    with pytest.raises(AudioTooShortError, match=r"at least 0\.5 s"):
        audio.load_speaker_prompt(path)


# --- features ----------------------------------------------------------------------------------


def reference_log_mel(wave: np.ndarray) -> np.ndarray:
    """§9.3 from its definition: reflect pad, periodic Hann frames, |STFT|, Slaney mel, log."""
    n_fft, hop = SPECT.n_fft, SPECT.hop_length
    pad = (n_fft - hop) // 2
    padded = np.pad(wave.astype(np.float64), pad, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]  # (T, n_fft)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    magnitude = np.sqrt(np.abs(np.fft.rfft(frames * window, axis=-1)) ** 2 + 1e-9)  # (T, 513)
    basis = librosa.filters.mel(sr=22050, n_fft=n_fft, n_mels=80, fmin=0, fmax=None)
    return np.log(np.maximum(basis @ magnitude.T, 1e-5))  # (80, T)


@pytest.mark.parametrize("signal", ["sine", "chirp", "noise"])
def test_log_mel_matches_its_definition(signal):
    wave = {"sine": sine(1000, 1.0, 22050), "chirp": chirp(1.0, 22050), "noise": noise(1.0, 22050)}[signal]
    mel = audio.mel_spectrogram(torch.from_numpy(wave).unsqueeze(0), SPECT)
    assert mel.shape == (1, 80, len(wave) // 256)
    reference = reference_log_mel(wave)
    # float32 vs float64 FFT: compare magnitudes, where rounding near the 1e-5 floor is negligible
    np.testing.assert_allclose(np.exp(mel[0].numpy()), np.exp(reference), rtol=1e-4, atol=1e-7)
    loud = reference > -5
    np.testing.assert_allclose(mel[0].numpy()[loud], reference[loud], atol=1e-4)


def test_log_mel_of_a_tone_peaks_at_its_frequency():
    mel = audio.mel_spectrogram(torch.from_numpy(sine(1000, 1.0, 22050)).unsqueeze(0), SPECT)
    centres = librosa.mel_frequencies(n_mels=82, fmin=0, fmax=11025)[1:-1]
    peak = int(mel[0, :, 40].argmax())
    assert abs(centres[peak] - 1000) < 60
    silent = audio.mel_spectrogram(torch.zeros(1, 22050), SPECT)
    assert torch.allclose(silent, torch.full_like(silent, math.log(1e-5)))


def reference_kaldi_fbank(wave: np.ndarray, rate: int = 16000) -> np.ndarray:
    """Kaldi fbank from its definition: 25 ms / 10 ms frames, DC removal, pre-emphasis 0.97,
    Povey window, 512-point power spectrum, 80 triangles on the 1127·ln(1 + f/700) scale
    from 20 Hz to Nyquist, natural log with a float-epsilon floor."""
    frame, shift, n_fft, bins = 400, 160, 512, 80
    frames = np.lib.stride_tricks.sliding_window_view(wave.astype(np.float64), frame)[::shift].copy()
    frames -= frames.mean(axis=1, keepdims=True)
    frames[:, 1:] -= 0.97 * frames[:, :-1].copy()
    frames[:, 0] -= 0.97 * frames[:, 0]
    frames *= (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(frame) / (frame - 1))) ** 0.85
    power = np.abs(np.fft.rfft(frames, n=n_fft, axis=1)) ** 2  # (T, 257)

    def mel(f):
        return 1127.0 * np.log(1.0 + f / 700.0)

    edges = np.linspace(mel(20.0), mel(rate / 2), bins + 2)
    fft_mel = mel(np.arange(n_fft // 2) * rate / n_fft)
    banks = np.zeros((bins, n_fft // 2 + 1))
    for b in range(bins):
        left, centre, right = edges[b : b + 3]
        up = (fft_mel - left) / (centre - left)
        down = (right - fft_mel) / (right - centre)
        banks[b, : n_fft // 2] = np.maximum(0.0, np.minimum(up, down))
    return np.log(np.maximum(power @ banks.T, np.finfo(np.float32).eps))  # (T, 80)


@pytest.mark.parametrize("signal", ["sine", "chirp", "noise"])
def test_speaker_fbank_matches_kaldi_definition(signal):
    wave = {"sine": sine(440, 1.3, 16000), "chirp": chirp(1.3, 16000), "noise": noise(1.3, 16000)}[signal]
    feats = audio.speaker_fbank(torch.from_numpy(wave).unsqueeze(0))
    assert feats.shape == (1 + (len(wave) - 400) // 160, 80)
    raw = reference_kaldi_fbank(wave)
    reference = raw - raw.mean(axis=0, keepdims=True)
    # torchaudio computes in float32: bins 60 dB or more under the loudest carry rounding noise
    audible = raw > raw.max() - 14
    np.testing.assert_allclose(feats.numpy()[audible], reference[audible], atol=2e-3)
    np.testing.assert_allclose(feats.numpy(), reference, atol=5e-2)
    torch.testing.assert_close(feats.mean(dim=0), torch.zeros(80), atol=1e-4, rtol=0)


@pytest.mark.parametrize("seconds", [1.0, 1.01])  # 98 frames (even) and 99 frames (odd)
def test_w2v_bert_inputs_are_standardised_stacked_fbank_pairs(seconds):
    wave = chirp(seconds, 16000) + noise(seconds, 16000)
    extractor = audio.w2v_bert_feature_extractor(None)
    features, mask = audio.w2v_bert_inputs(extractor, torch.from_numpy(wave).unsqueeze(0))
    frames = 1 + (len(wave) - 400) // 160
    pairs = (frames + 1) // 2
    assert features.shape == (1, pairs, 160) and mask.shape == (1, pairs)
    # ×32768 only shifts the log energies, which the per-bin standardisation removes
    fbank = reference_kaldi_fbank(wave * 32768.0)
    standard = (fbank - fbank.mean(0)) / np.sqrt(fbank.var(0, ddof=1) + 1e-7)
    if frames % 2:  # the odd last frame is paired with padding 1.0 and masked out
        standard = np.concatenate([standard, np.ones((1, 80))])
    expected = standard.reshape(pairs, 160)
    np.testing.assert_allclose(features[0].numpy(), expected, atol=2e-3)
    assert mask[0, :-1].all() and bool(mask[0, -1]) == (frames % 2 == 0)


# --- joining segments --------------------------------------------------------------------------


def test_interval_silence_between_segments_only():
    assert audio.silence_samples(200) == 4410
    assert audio.silence_samples(0) == 0 and audio.silence_samples(-50) == 0
    a, b, c = torch.ones(1, 1000), torch.ones(1, 500), torch.ones(1, 10)
    joined = audio.join_segments([a, b, c], 200)
    assert joined.shape == (1, 1000 + 4410 + 500 + 4410 + 10)
    assert joined[0, 1000:5410].abs().sum() == 0 and joined[0, :1000].all() and joined[0, -10:].all()
    assert audio.join_segments([a], 200).shape == (1, 1000)
    assert audio.join_segments([a, b], 0).shape == (1, 1500)
