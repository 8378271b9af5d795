"""What every command shares: the model-folder and cache flags, the demo fallback, and usage errors.

Environment twins of flags (INDEXTTS_MODEL_DIR, INDEXTTS_CACHE_DIR) are read here, at the edge of
the process, and nowhere in the library.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from indextts.config import default_cache_dir

T = TypeVar("T", int, float)


class UsageError(Exception):
    """A flag's value is wrong in a way only visible after parsing (a file that is not audio, …)."""

    def __init__(self, flag: str, message: str) -> None:
        super().__init__(f"argument {flag}: {message}")
        self.flag = flag


def resolve_model_dir(model_dir: Path, cache_dir: Path) -> Path:
    """The checkpoint folder to use: `model_dir` when it holds a model, else the demo checkpoint."""
    from indextts.factory.demo import choose_model_dir, demo_banner

    chosen, reason = choose_model_dir(model_dir, cache_dir)
    if reason:
        print(demo_banner(model_dir, chosen), file=sys.stderr)
    return chosen


def add_model_dir_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=Path(os.environ.get("INDEXTTS_MODEL_DIR", "checkpoints")),
        help="IndexTTS-2 checkpoint folder (env INDEXTTS_MODEL_DIR; default ./checkpoints)",
    )


def add_cache_dir_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(os.environ.get("INDEXTTS_CACHE_DIR", default_cache_dir())),
        help="where compiled normaliser grammars and the demo checkpoint are kept (env INDEXTTS_CACHE_DIR)",
    )


# --- argument types: each raises ArgumentTypeError, which argparse reports with the flag's name ---


def ranged(kind: Callable[[str], T], low: T | None = None, high: T | None = None) -> Callable[[str], T]:
    """An argparse type: a number of `kind` within [low, high] (either bound may be open)."""

    def parse(text: str) -> T:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if kind is int else 'a number'}, got {text!r}"
            ) from None
        if value != value or (low is not None and value < low) or (high is not None and value > high):
            if high is None:
                bound = f"at least {low}"
            elif low is None:
                bound = f"at most {high}"
            else:
                bound = f"between {low} and {high}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


def existing_file(text: str) -> Path:
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"not a file: {text}")
    return path


def non_empty_text(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("the text is empty: give something to say")
    return text
