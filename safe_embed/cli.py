"""The ``safe-embed`` command. Thin: each subcommand lives in ``safe_embed.commands.<name>``.

Every project error (:class:`safe_embed.errors.SafeEmbedError`) prints as one line ``error: ...`` and exits 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from safe_embed import __version__
from safe_embed.errors import SafeEmbedError

# Subcommand modules; each defines ``register(subparsers)`` and sets ``func`` on its parser.
COMMANDS = [
    "safe_embed.commands.evaluate",
    "safe_embed.commands.models",
    "safe_embed.commands.data",
    "safe_embed.commands.export",
    "safe_embed.commands.detect",
    "safe_embed.commands.add_exemplars",
    "safe_embed.commands.evaluate_detector",
    "safe_embed.commands.serve",
]

# Subcommands that parse their own argv (LightningCLI): name -> "module:function".
PASSTHROUGH = {
    "fit": "safe_embed.train.cli:main",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="safe-embed", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"safe-embed {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-v info, -vv debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in PASSTHROUGH:
        sub.add_parser(name, help="train an encoder from a YAML config (LightningCLI; see `safe-embed fit -h`)",
                       add_help=False)
    for mod in COMMANDS:
        importlib.import_module(mod).register(sub)
    return parser


def _setup_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in PASSTHROUGH:
        _setup_logging(1)
        module, func = PASSTHROUGH[argv[0]].split(":")
        try:
            return getattr(importlib.import_module(module), func)(argv[1:]) or 0
        except SafeEmbedError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return args.func(args) or 0
    except SafeEmbedError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
