"""The synth command's option vocabulary: defaults, ranges and parsers that need no torch.

`--help` and flag errors must answer in well under a second, so nothing here imports the model
stack. The generation defaults and the emotion order repeat the library's own
(`GenerationSettings`, `indextts.emotion.EMOTIONS`); tests/test_cli_synth.py checks they agree.
"""

from __future__ import annotations

import argparse
import re

# GenerationSettings() of indextts.gpt.generation (the official infer defaults).
GENERATION_DEFAULTS: dict[str, object] = {
    "do_sample": True,
    "top_p": 0.8,
    "top_k": 30,
    "temperature": 0.8,
    "num_beams": 3,
    "repetition_penalty": 10.0,
    "length_penalty": 0.0,
    "max_mel_tokens": 1500,
    "typical_sampling": False,
    "typical_mass": 0.9,
}

# indextts.emotion.EMOTIONS: the one order of every emotion vector.
EMOTIONS: tuple[str, ...] = ("happy", "angry", "sad", "afraid", "disgusted", "melancholic", "surprised", "calm")

# Ranges of the official WebUI's controls, where it has one (§12).
TEMPERATURE = (0.1, 2.0)
TOP_P = (0.0, 1.0)
TOP_K = (0, 100)
NUM_BEAMS = (1, 10)
REPETITION_PENALTY = (0.1, 20.0)
LENGTH_PENALTY = (-2.0, 2.0)
MAX_MEL_TOKENS = (1, 1815)  # the WebUI slider starts at 50; the model's position table allows 1815
SEGMENT_TOKENS = (20, 600)
EMO_ALPHA = (0.0, 1.0)
EMO_WEIGHT = (0.0, 1.0)
INTERVAL_SILENCE_MS = (0, 10_000)

_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def device(text: str) -> str:
    if not _DEVICE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda, cuda:N or mps, got {text!r}")
    return text


def emotion_vector(text: str) -> list[float]:
    """8 weights from "0 0 0.8 0 0 0 0 0.2", "0,0,0.8,…" or "sad=0.8,calm=0.2" (unnamed emotions are 0)."""
    text = text.strip()
    if "=" in text:
        weights = [0.0] * len(EMOTIONS)
        for item in filter(None, re.split(r"[,\s]+", text)):
            name, _, value = item.partition("=")
            name = name.strip().lower()
            if name not in EMOTIONS:
                raise argparse.ArgumentTypeError(f"unknown emotion {name!r}; the emotions are {', '.join(EMOTIONS)}")
            weights[EMOTIONS.index(name)] = _weight(value)
        return weights
    items = [item for item in re.split(r"[,\s]+", text) if item]
    if len(items) != len(EMOTIONS):
        raise argparse.ArgumentTypeError(
            f"needs {len(EMOTIONS)} numbers ({', '.join(EMOTIONS)}) or name=value pairs, got {len(items)} numbers"
        )
    return [_weight(item) for item in items]


def _weight(text: str) -> float:
    low, high = EMO_WEIGHT
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"each emotion weight must be between {low} and {high}, got {text}")
    return value


class EmotionVectorAction(argparse.Action):
    """--emo-vector as one quoted argument or as eight separate numbers (nargs="+")."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        try:
            setattr(namespace, self.dest, emotion_vector(" ".join(values)))
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentError(self, str(exc)) from None


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's line breaks and appends "(default: …)" where a default says something."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        silent = action.default is None or action.default is argparse.SUPPRESS or action.nargs == 0  # on/off flags
        if silent or "default" in help_text or not action.option_strings:
            return help_text
        return f"{help_text} (default: %(default)s)"
