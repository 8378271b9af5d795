"""`python -m indextts make-checkpoint`: a random-weight checkpoint folder in the official layout."""

from __future__ import annotations

import argparse
from pathlib import Path

from indextts.factory.configs import SIZES


def run(args: argparse.Namespace) -> int:
    from indextts.factory import make_checkpoint

    path = make_checkpoint(args.directory, args.size, args.seed)
    print(f"{args.size} random-weight checkpoint (seed {args.seed}) written to {path}")
    return 0


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    make = commands.add_parser(
        "make-checkpoint",
        help="write a complete random-weight checkpoint folder in the official layout",
        description="Write config.yaml, gpt.pth, s2mel.pth, bpe.model, the stats and emotion matrices, a tiny Qwen "
        "emotion folder and the external components under hf_cache/, with random weights. tiny: seconds to build "
        "and run on a CPU (tests, demo); full: the official sizes (parity, benchmarks; about 7 GB).",
    )
    make.add_argument("size", choices=SIZES, help="tiny | full (IndexTTS-2), tiny-2.5 | full-2.5 (IndexTTS-2.5)")
    make.add_argument("directory", type=Path)
    make.add_argument("--seed", type=int, default=0, help="random seed of the weights (default 0)")
    make.set_defaults(run=run)
    return make
