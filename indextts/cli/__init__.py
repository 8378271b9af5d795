"""Command line of the model library: `python -m indextts <command> --help`.

One module per command (frontend, make-checkpoint, synth); `common` holds what they share.
"""

from __future__ import annotations

import argparse
import logging
import sys

from indextts.cli import frontend, make_checkpoint, synth
from indextts.cli.common import UsageError, resolve_model_dir
from indextts.errors import IndexTTSError

__all__ = ["build_parser", "main", "resolve_model_dir"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m indextts", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)
    frontend.add_parser(commands)
    make_checkpoint.add_parser(commands)
    synth.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.run(args)
    except UsageError as exc:
        getattr(args, "parser", parser).error(str(exc))  # usage + "error: argument --flag: …", exit 2
    except IndexTTSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 2  # not reached: parser.error exits


if __name__ == "__main__":
    raise SystemExit(main())
