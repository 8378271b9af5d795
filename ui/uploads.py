"""A prompt recording is checked the moment it is uploaded, so the page can say what is wrong next
to the widget instead of at Generate.

The one rule for long prompts, as the official code: only the first 15 s are used. A longer upload
is trimmed to them here (with a note), so what the node receives is what the model hears and a
10-minute recording is no harder to use than a 10-second one. A file that is not audio is removed
with a note; one too short to use is kept, with a note, and refused at Generate as before.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from indextts.audio import PROMPT_MAX_SECONDS, PROMPT_MIN_SECONDS, load_audio
from indextts.errors import AudioDecodeError, EmptyAudioError
from ui.i18n import text

log = logging.getLogger(__name__)

# What the UI accepts as an upload. A 10-minute 44.1 kHz stereo WAV is ~106 MB; it is read only up
# to its first 15 s, so the size only bounds the transfer.
MAX_UPLOAD = "200mb"


@dataclass(frozen=True)
class _Head:
    samples: np.ndarray  # (N, channels) float32, at most the first PROMPT_MAX_SECONDS
    rate: int
    duration: float  # of the whole file, seconds


def _read_head(path: Path) -> _Head:
    """The first PROMPT_MAX_SECONDS of an audio file without decoding the rest when the format allows."""
    try:
        with sf.SoundFile(path) as handle:
            frames = min(handle.frames, int(PROMPT_MAX_SECONDS * handle.samplerate))
            # One read from the start of a fresh handle: the same samples the node's decoder gets.
            samples = handle.read(frames=frames, dtype="float32", always_2d=True)
            duration = handle.frames / handle.samplerate
            if samples.shape[0] == 0:
                raise EmptyAudioError(f"{path.name} contains no audio samples")
            return _Head(samples, handle.samplerate, duration)
    except sf.SoundFileRuntimeError:  # not a libsndfile format: ffmpeg (m4a, webm, …) or not audio at all
        wave, rate = load_audio(str(path), None, max_seconds=None)
        return _Head(wave[: int(PROMPT_MAX_SECONDS * rate), None], rate, len(wave) / rate)


def check_prompt_upload(path: str | None, lang: str) -> tuple[str | None, str]:
    """(what the audio widget should hold, a note for next to it — "" when all is well)."""
    if not path:
        return None, ""
    source = Path(path)
    try:
        head = _read_head(source)
    except (AudioDecodeError, EmptyAudioError) as exc:
        log.warning("webui upload refused: %s is not usable audio (%s)", source.name, exc)
        return None, text("upload_not_audio", lang, name=source.name)
    if head.duration < PROMPT_MIN_SECONDS:
        return path, text("upload_too_short", lang, duration=f"{head.duration:.2f}", minimum=PROMPT_MIN_SECONDS)
    if head.duration <= PROMPT_MAX_SECONDS:
        return path, ""
    # Float WAV: the kept samples are bit for bit those of the original's first 15 s.
    trimmed = source.with_name(f"{source.stem}.first{PROMPT_MAX_SECONDS}s.wav")
    sf.write(trimmed, head.samples, head.rate, subtype="FLOAT")
    log.info("webui upload %s: %.1f s, trimmed to its first %d s", source.name, head.duration, PROMPT_MAX_SECONDS)
    return str(trimmed), text("upload_trimmed", lang, limit=PROMPT_MAX_SECONDS, duration=f"{head.duration:.1f}")
