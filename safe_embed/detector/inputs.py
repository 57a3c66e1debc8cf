"""Reading prompts to classify from JSONL or CSV, strictly: every row is kept or the read fails.

Policy: the file must be UTF-8 (a BOM is allowed); an invalid byte stops the read with an error naming the file,
line and byte. Each JSONL line must be a JSON object with a string ``text`` field; blank lines are not rows and
are skipped. A CSV needs a ``text`` column. A row without ``text`` (or with a non-string one) is an error naming
the file and line. Empty or whitespace-only texts are kept and classified by the empty-text policy.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

from safe_embed.data.io import parse_jsonl_object
from safe_embed.errors import DataError

TEXT = "text"


@dataclass(frozen=True)
class InputRow:
    """One prompt: its 1-based line in the file, its text, and the other fields (``id`` etc.) to carry over."""

    line: int
    text: str
    fields: dict = field(default_factory=dict)


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise DataError(f"{path}:{line}: not valid UTF-8 (byte 0x{data[e.start]:02x} at column {col}). "
                        "Fix: re-save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`).") from None


def read_inputs(path: str | os.PathLike[str]) -> list[InputRow]:
    """Rows of a ``.jsonl`` or ``.csv`` file, in order.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "prompts.jsonl"
    >>> _ = p.write_text('{"text": "How do I kill a Python process?", "id": "q1"}\\n')
    >>> rows = read_inputs(p); rows[0].text, rows[0].fields.get("id")
    ('How do I kill a Python process?', 'q1')
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"input file not found: {p}. Fix: give an existing .jsonl or .csv file.")
    suffix = p.suffix.lower()
    if suffix not in (".jsonl", ".ndjson", ".json", ".csv"):
        raise DataError(f"{p}: unsupported file type {suffix!r}. Fix: use .jsonl (one {{\"text\": ...}} per line) "
                        "or .csv with a 'text' column.")
    text = _decode(p, p.read_bytes())
    rows = _read_csv(p, text) if suffix == ".csv" else _read_jsonl(p, text)
    if not rows:
        raise DataError(f"{p}: no rows. Fix: give at least one prompt.")
    return rows


def _read_jsonl(p: Path, text: str) -> list[InputRow]:
    rows = []
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        rows.append(_row(p, lineno, parse_jsonl_object(p, lineno, line, "a JSON object with a 'text' field")))
    return rows


def _read_csv(p: Path, text: str) -> list[InputRow]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        if not reader.fieldnames or TEXT not in reader.fieldnames:
            raise DataError(f"{p}:1: no '{TEXT}' column (found {reader.fieldnames}). Fix: name the prompt column "
                            f"'{TEXT}'.")
        rows = []
        for rec in reader:
            rows.append(_row(p, reader.line_num, {k: v for k, v in rec.items() if k is not None}))
    except csv.Error as e:
        raise DataError(f"{p}:{reader.line_num}: malformed CSV ({e}). Fix: check the quoting.") from None
    return rows


def _row(p: Path, lineno: int, obj: dict) -> InputRow:
    if TEXT not in obj or obj[TEXT] is None:
        raise DataError(f"{p}:{lineno}: row has no '{TEXT}' field (found {sorted(obj)}). Fix: add '{TEXT}' to "
                        "every row; rows are never skipped.")
    if not isinstance(obj[TEXT], str):
        raise DataError(f"{p}:{lineno}: '{TEXT}' is {type(obj[TEXT]).__name__}, not a string. Fix: quote it.")
    return InputRow(lineno, obj[TEXT], {k: v for k, v in obj.items() if k != TEXT})
