"""Reading tables with column checks, and writing derived CSVs; every failure names the file, the expected
columns and the fix."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path

from safe_embed.errors import DataError
from safe_embed.paths import DATA_ENV

_FIX = (
    f"point --data-dir (or ${DATA_ENV}) at a directory holding the public datasets, "
    "or download them with `safe-embed data pull`"
)

csv.field_size_limit(2**31 - 1)


def data_file(data_dir: Path, relpath: str) -> Path:
    """Return ``data_dir / relpath`` or raise a :class:`DataError` that says how to get it."""
    if not data_dir.is_dir():
        raise DataError(f"data directory not found: {data_dir}. Fix: {_FIX}.")
    path = data_dir / relpath
    if not path.is_file():
        raise DataError(f"data file not found: {path} (expected '{relpath}' under {data_dir}). Fix: {_FIX}.")
    return path


def _check_columns(path: Path, found: Iterable[str], expected: Iterable[str]) -> None:
    found = list(found)
    missing = [c for c in expected if c not in found]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {missing}; expected columns {list(expected)}, found {found}. "
            f"Fix: use the original file (see data/cards) or {_FIX}."
        )


def read_csv_rows(path: Path, expected: Iterable[str]) -> list[dict[str, str]]:
    """Read a CSV (UTF-8, BOM tolerated) into dicts after checking ``expected`` columns are present."""
    expected = list(expected)
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            _check_columns(path, reader.fieldnames or [], expected)
            rows = list(reader)
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not valid UTF-8 at byte {e.start}. Fix: re-save the file as UTF-8.") from None
    except csv.Error as e:
        raise DataError(f"{path}: malformed CSV ({e}). Fix: check quoting, or re-download the file.") from None
    if not rows:
        raise DataError(f"{path}: the file has a header but no rows. Fix: use a non-empty file.")
    return rows


def read_json(path: Path):
    """A JSON file's value, or a :class:`DataError` naming the file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: invalid JSON ({e.msg}). Fix: re-download it with `safe-embed data pull`.") from None


def write_csv(path: Path, header: list[str], rows: list[list], newline: str = "\r\n") -> None:
    r"""Write ``header`` and ``rows`` as UTF-8 CSV, quoting only where needed (the published derived files' format).

    >>> import tempfile; p = Path(tempfile.mkdtemp()) / "t.csv"
    >>> write_csv(p, ["id", "prompt"], [[0, 'Say "hi", twice']], "\n"); p.read_bytes()
    b'id,prompt\n0,"Say ""hi"", twice"\n'
    """
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=newline)
    w.writerow(header)
    w.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue().encode("utf-8"))


def parse_jsonl_object(path: Path, lineno: int, line: str, expected: str = "a JSON object") -> dict:
    """One JSON Lines line as a dict, or a :class:`DataError` naming ``path:lineno``."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}:{lineno}: invalid JSON ({e.msg}). Fix: one JSON object per line.") from None
    if not isinstance(row, dict):
        raise DataError(f"{path}:{lineno}: expected {expected}, got {type(row).__name__}.")
    return row


def read_jsonl_rows(path: Path, expected: Iterable[str]) -> list[dict]:
    """Read JSON Lines into dicts, checking every row holds ``expected`` keys."""
    expected = list(expected)
    rows: list[dict] = []
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                row = parse_jsonl_object(path, lineno, line)
                missing = [c for c in expected if c not in row]
                if missing:
                    raise DataError(
                        f"{path}:{lineno}: missing field(s) {missing}; expected fields {expected}, "
                        f"found {list(row)}. Fix: add the field to every line."
                    )
                rows.append(row)
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not valid UTF-8 at byte {e.start}. Fix: re-save the file as UTF-8.") from None
    if not rows:
        raise DataError(f"{path}: no rows. Fix: use a non-empty file.")
    return rows


def read_rows(path: Path, expected: Iterable[str]) -> list[dict]:
    """Read ``.csv`` or ``.jsonl``/``.json`` by extension."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_csv_rows(path, expected)
    if suffix in (".jsonl", ".json", ".ndjson"):
        return read_jsonl_rows(path, expected)
    raise DataError(f"{path}: unsupported file type '{suffix}'. Fix: use .csv or .jsonl.")


def as_int(path: Path, row: dict, column: str) -> int:
    value = row[column]
    try:
        return int(value)
    except (TypeError, ValueError):
        raise DataError(f"{path}: column '{column}' must be an integer, got {value!r}.") from None
