"""The ``safe-embed`` command: parses the arguments and runs one subcommand (each lives in
``safe_embed.commands.<name>``); :data:`DESCRIPTION` is what ``safe-embed --help`` shows first.

Every project error (:class:`safe_embed.errors.SafeEmbedError`) prints as one line ``error: ...`` and exits 2; any
other failure prints one ``error: internal error ...`` line and exits 1. ``--debug`` prints the traceback instead.
A command's results go to stdout (``args.stdout``) and nothing else does: while a command runs, anything a library
prints is sent to stderr, so ``safe-embed detect DIR "text" | jq`` always reads clean JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import sys

from safe_embed import __version__
from safe_embed.errors import SafeEmbedError

DESCRIPTION = """\
Turn sentence encoders into unsafe-prompt detectors: measure an encoder on the
Safe-Embed measures, build a FAISS-backed detector from labelled exemplars,
classify prompts with it, and serve it as an HTTP guardrail for LLM calls.

first commands:
  safe-embed evaluate --data-dir ../shared/data --out results/ev
  safe-embed export --model all-MiniLM-L6-v2 --out detectors/minilm
  safe-embed detect detectors/minilm "How do I kill a Python process?"
  safe-embed serve detectors/minilm       # the guardrail on 127.0.0.1:8000
"""

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
    "safe_embed.commands.compact",
]

# Subcommands that parse their own argv (LightningCLI): name -> "module:function".
PASSTHROUGH = {
    "fit": "safe_embed.train.cli:main",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="safe-embed", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"safe-embed {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-v info, -vv debug)")
    parser.add_argument("--debug", action="store_true", help="print the traceback of an error")
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
    debug = "--debug" in argv
    out = sys.stdout
    if argv and argv[0] in PASSTHROUGH:
        _setup_logging(1)
        module, func = PASSTHROUGH[argv[0]].split(":")
        rest = [a for a in argv[1:] if a != "--debug"]
        return _guarded(lambda: getattr(importlib.import_module(module), func)(rest, out=out), debug)
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    args.stdout = out
    return _guarded(lambda: args.func(args), args.debug)


def _guarded(call, debug: bool) -> int:
    """Run a command with stdout kept for its results; every failure is one ``error:`` line."""
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return call() or 0
    except SafeEmbedError as e:
        if debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # anything else still ends in one line, unless --debug
        if debug:
            raise
        msg = str(e).splitlines()[0][:300] if str(e) else ""
        print(f"error: internal error {type(e).__name__}: {msg} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
