"""Command-line options shared by several commands."""

from __future__ import annotations

import argparse

from safe_embed.detector.backends import CHOICES
from safe_embed.detector.shared_stream import DEFAULT_KEY


def add_backend(p: argparse.ArgumentParser) -> None:
    """``--backend``: which encoder runtime a loaded detector uses."""
    p.add_argument("--backend", default="auto", choices=CHOICES,
                   help="encoder runtime: torch, onnx (the export's default variant), onnx-fp32, onnx-int8, or "
                        "auto (default: ONNX when the detector has encoder/onnx/ and onnxruntime is installed)")


def add_category_threshold(p: argparse.ArgumentParser, what: str) -> None:
    """``--category-threshold CATEGORY=SCORE`` (repeatable): a category is reported only at or above its score."""
    p.add_argument("--category-threshold", action="append", default=None, metavar="CATEGORY=SCORE",
                   help="report a category only when its category score reaches SCORE, e.g. S6=0.8 (a category or "
                        f"its code; repeatable; {what})")


def add_shared_key(p: argparse.ArgumentParser) -> None:
    """``--shared-key``: the name of the Redis stream a group of replicas shares."""
    p.add_argument("--shared-key", default=DEFAULT_KEY, metavar="NAME",
                   help="the shared stream's name (default %(default)s): replicas of one detector share one name")


def sentence_threshold_arg(value: str, option: str = "--sentence-threshold", default: float | None = None,
                           low: float = 0.5) -> float | None:
    """``--sentence-threshold`` (or ``option``, whose ``default`` an error offers): a score in [``low``, 1), or
    ``off``.

    >>> sentence_threshold_arg("0.95"), sentence_threshold_arg("off")
    (0.95, None)
    >>> sentence_threshold_arg("0.4", "--window-sentence-threshold", 0.4, low=0.0)
    0.4
    """
    from safe_embed.detector.coverage_verdict import check_sentence_threshold
    from safe_embed.errors import ConfigError

    if value.strip().lower() in ("off", "none"):
        return None
    try:
        threshold = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a score in [{low:g}, 1) or 'off', got {value!r}") from None
    try:
        return check_sentence_threshold(threshold, option, *(() if default is None else (default,)), low=low)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
