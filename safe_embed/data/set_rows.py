"""What a registered set is (:class:`NamedSet`), and the one reader that turns a derived CSV into its rows.

The registries (:mod:`safe_embed.data.labelled`, :mod:`safe_embed.data.shared_sets`) build on these, so both read
their files the same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from safe_embed.data.io import data_file, read_csv_rows
from safe_embed.data.schemas import LabelledPrompt
from safe_embed.paths import resolve_data_dir

DataDir = str | os.PathLike[str] | None


@dataclass(frozen=True)
class NamedSet:
    """A registered set: its loader, the data card it comes from, and one line on what it is."""

    load: Callable[[DataDir], list[LabelledPrompt]]
    card: str
    about: str


def set_path(data_dir: DataDir, relpath: str) -> Path:
    """``relpath`` under the resolved data directory, or a :class:`DataError` that says how to get it."""
    return data_file(resolve_data_dir(data_dir), relpath)


def csv_prompts(name: str, data_dir: DataDir, relpath: str, columns: list[str], **fields) -> list[LabelledPrompt]:
    """Rows of a derived CSV as prompts of source ``name``: ``fields`` maps LabelledPrompt fields to columns or
    to callables of the row; ``columns`` are checked first, so a wrong file fails naming what is missing."""
    out = []
    for r in read_csv_rows(set_path(data_dir, relpath), columns):
        kw = {k: (v(r) if callable(v) else r[v]) for k, v in fields.items()}
        out.append(LabelledPrompt(source=name, **kw))
    return out
