"""Typed errors of the model library.

The serving layer maps each class to its own protocol's error shape, so every message is
written for the person who sent the input: what is wrong and what to do about it.
"""

from __future__ import annotations


class IndexTTSError(Exception):
    """Base class of every error the library raises on purpose."""


class ConfigError(IndexTTSError):
    """config.yaml is missing, unreadable, or has a wrong, missing or unknown key."""


class CheckpointError(IndexTTSError):
    """A model file is missing or does not match what the loader expects."""


class TextError(IndexTTSError):
    """The text cannot be turned into tokens (for example it is empty after normalisation)."""


class TextNormalizerUnavailable(IndexTTSError):
    """The official text normaliser (WeTextProcessing) is not installed on this platform."""


class AudioError(IndexTTSError):
    """Base class of audio input problems."""


class AudioDecodeError(AudioError):
    """The data is not audio, or is in a format none of the decoders can read."""


class EmptyAudioError(AudioError):
    """The audio decodes to zero samples."""


class AudioTooShortError(AudioError):
    """The audio is too short to be used as a voice prompt."""


class AudioTooLongError(AudioError):
    """The audio is longer than the configured limit."""

    def __init__(self, message: str, duration_s: float, limit_s: float) -> None:
        super().__init__(message)
        self.duration_s = duration_s
        self.limit_s = limit_s


class EmotionOutputError(IndexTTSError):
    """The emotion-from-text model answered with a score that is not a number; retrying may help."""


class Cancelled(IndexTTSError):
    """The request's `should_stop` check said stop: generation ended early and nothing was produced."""
