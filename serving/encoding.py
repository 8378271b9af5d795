"""Audio encoders and the tempo change, as small pure functions over (n,) int16 mono samples.

Formats follow the OpenAI speech API: mp3, opus (in Ogg), aac (ADTS), flac, wav, and pcm — raw
24 kHz signed 16-bit little-endian mono, the rate OpenAI clients assume. PyAV (FFmpeg's libraries,
shipped in its wheel) does the compressed formats, the resampling and the tempo change.
"""

from __future__ import annotations

import io
import itertools
from typing import Literal

import av
import numpy as np
import soundfile as sf

AudioFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]
FORMATS: tuple[AudioFormat, ...] = ("mp3", "opus", "aac", "flac", "wav", "pcm")
CONTENT_TYPES: dict[str, str] = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
PCM_RATE = 24_000  # what OpenAI clients play raw pcm at
# (container, codec, sample rate or None to keep, bit rate)
_COMPRESSED = {
    "mp3": ("mp3", "libmp3lame", None, 128_000),
    "opus": ("ogg", "libopus", 48_000, 64_000),  # Opus runs at 48 kHz
    "aac": ("adts", "aac", None, 128_000),
}
MIN_SPEED, MAX_SPEED = 0.25, 4.0


def encode(audio: np.ndarray, sample_rate: int, audio_format: AudioFormat) -> bytes:
    """Encode (n,) int16 mono samples as a complete file (or raw pcm)."""
    if audio_format == "wav":
        return _soundfile(audio, sample_rate, "WAV")
    if audio_format == "flac":
        return _soundfile(audio, sample_rate, "FLAC")
    if audio_format == "pcm":
        return resample(audio, sample_rate, PCM_RATE).astype("<i2").tobytes()
    if audio_format in _COMPRESSED:
        return _compressed(audio, sample_rate, *_COMPRESSED[audio_format])
    raise ValueError(f"unknown audio format {audio_format!r}; use one of {', '.join(FORMATS)}")


def wav_header_free_pcm(audio: np.ndarray) -> bytes:
    """Samples as little-endian 16-bit bytes (for streaming after a header)."""
    return audio.astype("<i2").tobytes()


def resample(audio: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    if source_rate == target_rate or audio.size == 0:
        return audio
    frames = _run_filters(audio, source_rate, [("aresample", str(target_rate))], target_rate)
    return frames


def change_tempo(audio: np.ndarray, sample_rate: int, speed: float) -> np.ndarray:
    """Play `speed` times faster (0.25–4.0) at the same pitch (FFmpeg's atempo, WSOLA)."""
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise ValueError(f"speed must be between {MIN_SPEED} and {MAX_SPEED}")
    if speed == 1.0 or audio.size == 0:
        return audio
    # atempo takes 0.5–2.0 per stage: chain stages whose product is the speed.
    stages, rest = [], speed
    while rest > 2.0:
        stages.append(2.0)
        rest /= 2.0
    while rest < 0.5:
        stages.append(0.5)
        rest /= 0.5
    stages.append(rest)
    return _run_filters(audio, sample_rate, [("atempo", f"{stage:.6f}") for stage in stages], sample_rate)


def _soundfile(audio: np.ndarray, sample_rate: int, kind: str) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, audio, sample_rate, format=kind, subtype="PCM_16")
    return buffer.getvalue()


def _frame(audio: np.ndarray, sample_rate: int) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio.reshape(1, -1), dtype=np.int16), "s16", "mono")
    frame.sample_rate = sample_rate
    frame.pts = 0
    return frame


def _run_filters(audio: np.ndarray, sample_rate: int, filters: list[tuple[str, str]], out_rate: int) -> np.ndarray:
    graph = av.filter.Graph()
    source = graph.add_abuffer(format="s16", sample_rate=sample_rate, layout="mono", time_base=f"1/{sample_rate}")
    chain = [source, *(graph.add(name, args) for name, args in filters)]
    chain.append(graph.add("aformat", f"sample_fmts=s16:sample_rates={out_rate}:channel_layouts=mono"))
    chain.append(graph.add("abuffersink"))
    for upstream, downstream in itertools.pairwise(chain):
        upstream.link_to(downstream)
    graph.configure()
    graph.push(_frame(audio, sample_rate))
    graph.push(None)
    pieces = []
    while True:
        try:
            pieces.append(graph.pull().to_ndarray().reshape(-1))
        except (av.error.EOFError, av.error.BlockingIOError):
            break
    return np.concatenate(pieces).astype(np.int16) if pieces else np.zeros(0, np.int16)


def _compressed(audio: np.ndarray, sample_rate: int, container: str, codec: str, rate: int | None, bit_rate: int):
    rate = rate or sample_rate
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as output:
        stream = output.add_stream(codec, rate=rate, layout="mono")
        stream.bit_rate = bit_rate
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=rate)
        for frame in resampler.resample(_frame(audio, sample_rate)) + resampler.resample(None):
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return buffer.getvalue()


def wav_stream_header(sample_rate: int) -> bytes:
    """A 16-bit mono WAV header for a stream of unknown length (sizes set to the maximum, as
    streaming servers do; players read until the connection ends)."""
    import struct

    unknown = 0xFFFFFFFF
    return b"".join(
        [
            b"RIFF",
            struct.pack("<I", unknown),
            b"WAVEfmt ",
            struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16),
            b"data",
            struct.pack("<I", unknown),
        ]
    )


STREAMABLE: tuple[AudioFormat, ...] = ("pcm", "wav", "mp3", "aac")  # chunks that simply concatenate


def encode_chunk(audio: np.ndarray, sample_rate: int, audio_format: AudioFormat) -> bytes:
    """One streamed piece: raw samples for pcm/wav (after `wav_stream_header`), whole frames for mp3/aac."""
    if audio_format == "wav":
        return wav_header_free_pcm(audio)
    return encode(audio, sample_rate, audio_format)
