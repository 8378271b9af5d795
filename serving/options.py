"""Command-line flags shared by the node's entry points, each with an environment-variable twin.

Flags win over the environment; the environment wins over the defaults. Every twin is the
flag's name in capitals with an `INDEXTTS_` prefix (`--model_dir` ↔ `INDEXTTS_MODEL_DIR`).
This is the process edge: nothing below it reads the environment.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

from indextts.config import default_cache_dir
from serving.engine import EngineOptions
from serving.node import NodeSettings

TRUE_WORDS = {"1", "true", "yes", "on"}


def env_name(flag: str) -> str:
    return "INDEXTTS_" + flag.lstrip("-").replace("-", "_").upper()


def _env_default(flag: str, default: Any, kind: type) -> Any:
    raw = os.environ.get(env_name(flag))
    if raw is None or raw == "":
        return default
    if kind is bool:
        return raw.strip().lower() in TRUE_WORDS
    return kind(raw)


def add_flag(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, flag: str, default: Any, help: str, kind: type = str
) -> None:
    """A flag whose default comes from its env twin; booleans are switches (env: 1/true/yes/on)."""
    value = _env_default(flag, default, kind)
    suffix = f" (env {env_name(flag)})"
    if kind is bool:
        parser.add_argument(flag, action="store_true", default=value, help=help + suffix)
    else:
        parser.add_argument(flag, type=kind, default=value, help=help + f"; default {default}" + suffix)


def add_engine_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    add_flag(group, "--model_dir", "./checkpoints", "IndexTTS-2 or IndexTTS-2.5 checkpoint folder (detected)")
    add_flag(group, "--device", "auto", "cuda, cuda:1, cpu or auto")
    add_flag(group, "--fp16", False, "run the neural stages in float16 on CUDA (ignored on the CPU)", bool)
    add_flag(
        group, "--bf16", False, "run the GPT in bfloat16 on CUDA (IndexTTS-2.5's option; ignored on the CPU)", bool
    )
    add_flag(group, "--deepspeed", False, "accepted for compatibility; this engine has its own fast decode loop", bool)
    add_flag(group, "--cuda_kernel", False, "accepted for compatibility; BigVGAN's activation runs in PyTorch", bool)
    group.add_argument(
        "--demo",
        nargs="?",
        const="2",
        type=demo_generation,
        default=demo_generation(os.environ.get(env_name("--demo"), "")),
        help="use the random-weight demo checkpoint even when real weights exist; --demo or --demo 2: the "
        f"IndexTTS-2 layout, --demo 2.5: the IndexTTS-2.5 layout (env {env_name('--demo')}: 1/true, 2 or 2.5)",
    )
    add_flag(group, "--cache_dir", str(default_cache_dir()), "where the demo checkpoint and compiled grammars are kept")


def add_node_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("queue and files")
    add_flag(group, "--outputs_dir", "./outputs", "where results are written")
    add_flag(group, "--max_output_files", 500, "results kept in outputs/ before the oldest are deleted", int)
    add_flag(group, "--max_queue", 32, "jobs allowed to wait; more are refused as busy", int)
    add_flag(group, "--keep_finished", 300.0, "seconds a finished job stays queryable", float)
    add_flag(group, "--max_batch", 8, "jobs run side by side, their GPT decoding batched (1: one at a time)", int)
    add_flag(
        group,
        "--batch_decode",
        "auto",
        "batch side-by-side jobs' s2mel + vocoder: auto (per device: small same-length groups on the CPU), on, off",
    )
    add_flag(
        group,
        "--decode_workers",
        "auto",
        "threads decoding finished segments while the GPT generates the next: auto (CPU cores; 1 on CUDA), "
        "0 (off: both stages on one thread), or a number",
    )
    add_flag(group, "--allowed_dirs", "./examples", "comma-separated folders whose files requests may name by path")
    add_flag(group, "--allow_private_urls", False, "let prompt URLs point at loopback/private addresses", bool)
    add_flag(group, "--verbose", False, "debug logs", bool)


def demo_generation(raw: str | bool | None) -> str | bool:
    """--demo's value: False (off), "2" or "2.5" (the demo checkpoint's layout)."""
    if raw is None or raw is False:
        return False
    text = str(raw).strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in TRUE_WORDS or text in ("2", "2.0"):
        return "2"
    if text == "2.5":
        return "2.5"
    raise argparse.ArgumentTypeError(f"--demo takes 2 or 2.5 (the model generation), not {raw!r}")


def engine_options(args: argparse.Namespace) -> EngineOptions:
    log = logging.getLogger("indextts.node")
    if args.deepspeed:
        log.warning("--deepspeed: not used here — the GPT decode loop has its own static KV cache")
    if args.cuda_kernel:
        log.warning("--cuda_kernel: not used here — BigVGAN's anti-aliased activation runs in PyTorch")
    return EngineOptions(
        model_dir=Path(args.model_dir),
        cache_dir=Path(args.cache_dir),
        device=args.device,
        fp16=args.fp16,
        bf16=args.bf16,
        demo=bool(args.demo),
        demo_generation=args.demo or "2",
    )


def node_settings(args: argparse.Namespace, spaces_server: str = "") -> NodeSettings:
    allowed = tuple(Path(p.strip()) for p in args.allowed_dirs.split(",") if p.strip())
    return NodeSettings(
        outputs_dir=Path(args.outputs_dir),
        allowed_dirs=allowed,
        max_pending=args.max_queue,
        keep_finished=args.keep_finished,
        max_batch=args.max_batch,
        batch_decode=args.batch_decode,
        decode_workers=str(args.decode_workers),
        max_output_files=args.max_output_files,
        allow_private_urls=args.allow_private_urls,
        spaces_server=spaces_server,
    )


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("httpx", "httpcore", "urllib3", "matplotlib", "numba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
