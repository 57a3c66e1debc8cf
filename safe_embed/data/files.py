"""Reading a team's own labelled prompts: CSV, JSONL, a JSON list or Parquet, with named columns.

Labels are ``safe``/``unsafe``; common synonyms are accepted (``harmful``/``unharmful``, ``1``/``0``,
``true``/``false``, ``toxic``/``benign`` ...), anything else is an error naming the file, the row and the value.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from safe_embed.data.io import read_csv_rows, read_jsonl_rows
from safe_embed.data.schemas import LabelledPrompt
from safe_embed.errors import DataError

SUFFIXES = (".csv", ".jsonl", ".ndjson", ".json", ".parquet")

UNSAFE_WORDS = ("unsafe", "harmful", "1", "true", "yes", "toxic", "bad", "malicious", "jailbreak_harmful")
SAFE_WORDS = ("safe", "unharmful", "harmless", "benign", "0", "false", "no", "non-toxic", "nontoxic", "ok")
_LABEL_MAP = {**{w: "unsafe" for w in UNSAFE_WORDS}, **{w: "safe" for w in SAFE_WORDS}}


def parse_label(value: object, where: str = "") -> str:
    """``safe`` or ``unsafe`` from a label value or a common synonym.

    >>> parse_label("Harmful"), parse_label(0), parse_label("unharmful")
    ('unsafe', 'safe', 'safe')
    """
    key = str(value).strip().lower()
    if isinstance(value, float) and value.is_integer():
        key = str(int(value))
    if isinstance(value, bool):
        key = str(value).lower()
    if key in _LABEL_MAP:
        return _LABEL_MAP[key]
    raise DataError(f"{where}label {value!r} is not a safety label. Fix: use safe/unsafe (or harmful/unharmful, "
                    "1/0, true/false).")


@dataclass(frozen=True)
class Columns:
    """Which column holds what. ``None`` means the default name when the file has it (``text`` or ``prompt``,
    ``label``, ``category``, ``pair_id``, ``type``, ``id``)."""

    text: str | None = None
    label: str | None = None
    category: str | None = None
    pair_id: str | None = None
    type: str | None = None
    id: str | None = None


def read_table(path: Path) -> list[dict]:
    """Rows of a CSV, JSON Lines, JSON list or Parquet file as dicts (no column checks)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_csv_rows(path, [])
    if suffix in (".jsonl", ".ndjson"):
        return read_jsonl_rows(path, [])
    if suffix == ".json":
        return _read_json_list(path)
    if suffix == ".parquet":
        return _read_parquet(path)
    raise DataError(f"{path}: unsupported file type {suffix!r}. Fix: use one of {', '.join(SUFFIXES)}.")


def _read_json_list(path: Path) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not valid UTF-8 at byte {e.start}. Fix: re-save the file as UTF-8.") from None
    stripped = text.lstrip()
    if not stripped.startswith("["):  # a .json file holding JSON Lines
        return read_jsonl_rows(path, [])
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: invalid JSON ({e.msg} at line {e.lineno}). Fix: a JSON list of objects.") from None
    bad = next((i for i, r in enumerate(data) if not isinstance(r, dict)), None)
    if bad is not None:
        raise DataError(f"{path}: item {bad} is {type(data[bad]).__name__}, not an object. Fix: a JSON list of "
                        "objects such as {\"text\": ..., \"label\": ...}.")
    if not data:
        raise DataError(f"{path}: no rows. Fix: use a non-empty file.")
    return data


def _read_parquet(path: Path) -> list[dict]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs pyarrow. Fix: pip install 'safe-embed[parquet]' "
                        "(or pyarrow), or convert the file to CSV/JSONL.") from None
    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as e:  # noqa: BLE001 - pyarrow raises its own error types for corrupt files
        raise DataError(f"{path}: cannot read Parquet ({type(e).__name__}: {e}).") from None
    if not rows:
        raise DataError(f"{path}: no rows. Fix: use a non-empty file.")
    return rows


def _column(found: list[str], wanted: str | None, defaults: tuple[str, ...], what: str, path: Path,
            required: bool) -> str | None:
    if wanted is not None:
        if wanted not in found:
            raise DataError(f"{path}: no column {wanted!r} for the {what} (columns: {found}). Fix: name an existing "
                            f"column in the source's '{what}' key.")
        return wanted
    hit = next((c for c in defaults if c in found), None)
    if hit is None and required:
        raise DataError(f"{path}: no {what} column (looked for {list(defaults)}; columns: {found}). Fix: name it "
                        f"in the source spec, e.g. {{path: {path.name}, {what}: COLUMN}}.")
    return hit


def _opt(value) -> str | None:
    if value is None:
        return None
    s = str(value)
    return s if s.strip() else None


def load_labelled_file(path: str | os.PathLike[str], columns: Columns | None = None, source: str | None = None,
                       default_label: str | None = None) -> list[LabelledPrompt]:
    """Read a labelled-prompt file; ``columns`` names its columns, ``default_label`` labels rows without one.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "mine.csv"
    >>> _ = p.write_text("prompt,harmful\\nHow do I pick a lock?,1\\nWrite a haiku,0\\n")
    >>> [(r.text, r.label) for r in load_labelled_file(p, Columns(label="harmful"))]
    [('How do I pick a lock?', 'unsafe'), ('Write a haiku', 'safe')]
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"labelled file not found: {p}. Fix: give an existing {'/'.join(SUFFIXES)} path.")
    columns = columns or Columns()
    fixed = parse_label(default_label, f"{p}: default_label: ") if default_label is not None else None
    rows = read_table(p)
    found = list(dict.fromkeys(k for r in rows[:50] for k in r))
    text_col = _column(found, columns.text, ("text", "prompt"), "text", p, required=True)
    label_col = _column(found, columns.label, ("label",), "label", p, required=fixed is None)
    opt = {k: _column(found, getattr(columns, k), (k,), k, p, required=False)
           for k in ("category", "pair_id", "type", "id")}
    name = source or p.stem
    out = []
    for i, r in enumerate(rows, 1):
        text = r.get(text_col)
        if not isinstance(text, str):
            raise DataError(f"{p}: row {i}: {text_col!r} is {type(text).__name__}, not text. Fix: give every row "
                            "a text; rows are never skipped.")
        raw = r.get(label_col) if label_col else None
        label = fixed if raw is None or (isinstance(raw, str) and not raw.strip()) else None
        if label is None:
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                raise DataError(f"{p}: row {i} has no label. Fix: label every row, or set default_label.")
            label = parse_label(raw, f"{p}: row {i}: ")
        vals = {k: _opt(r.get(c)) if c else None for k, c in opt.items()}
        out.append(LabelledPrompt(text=text, label=label, category=vals["category"], pair_id=vals["pair_id"],
                                  type=vals["type"], id=vals["id"] or str(i - 1), source=name,
                                  source_category=vals["category"]))
    return out
