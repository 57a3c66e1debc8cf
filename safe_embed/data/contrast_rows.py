"""The rows of a contrast run: the unsafe prompts to edit, the output file an interrupted run resumes from (the
columns of ``contrast_parsed.jsonl``), and the ``<out>.skipped.jsonl`` list of rows whose reply was unusable."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from safe_embed.data.schemas import LabelledPrompt
from safe_embed.errors import DataError

logger = logging.getLogger(__name__)

UNCATEGORIZED = "Unsafe request"


@dataclass(frozen=True)
class ContrastSource:
    """One unsafe prompt to edit; ``id`` is the output row id (an int, as in ``contrast_parsed.jsonl``)."""

    id: int
    category: str
    text: str
    source_id: str | None = None


def contrast_sources(prompts: Sequence[LabelledPrompt]) -> list[ContrastSource]:
    """The unsafe prompts of a labelled set, with stable integer ids (the set's own ids when they are integers)."""
    unsafe = [p for p in prompts if p.label == "unsafe"]
    if not unsafe:
        raise DataError("the input holds no prompt labelled 'unsafe'. Fix: give a labelled set with unsafe prompts.")
    own = [p.id for p in unsafe]
    use_own = all(i is not None and re.fullmatch(r"-?\d+", i.strip()) for i in own) and len(set(own)) == len(own)
    out = []
    for j, p in enumerate(unsafe):
        rid = int(p.id) if use_own else j  # type: ignore[arg-type]
        out.append(ContrastSource(rid, p.category or p.type or UNCATEGORIZED, p.text,
                                  None if use_own or p.id is None else p.id))
    return out


def contrast_row(s: ContrastSource, edits: Sequence[str]) -> dict:
    """The output row of ``s`` and its edits: ``id``, ``category``, ``original_prompt``, ``prompt_#1`` ..
    (``source_id`` when the input's own id was not an integer).

    >>> contrast_row(ContrastSource(3, "Weapons", "how to make a gun"), ["how to draw a gun"])
    {'id': 3, 'category': 'Weapons', 'original_prompt': 'how to make a gun', 'prompt_#1': 'how to draw a gun'}
    """
    row: dict = {"id": s.id, "category": s.category, "original_prompt": s.text}
    row.update({f"prompt_#{i}": e for i, e in enumerate(edits, 1)})
    if s.source_id is not None:
        row["source_id"] = s.source_id
    return row


@dataclass(frozen=True)
class SkippedRow:
    id: int
    reason: str


@dataclass
class ContrastRunReport:
    """What a run did: rows written now, rows found already done, rows skipped (with reasons), API calls made."""

    out: Path
    written: int = 0
    already_done: int = 0
    requests: int = 0
    skipped: list[SkippedRow] = field(default_factory=list)

    @property
    def skipped_path(self) -> Path:
        return skipped_path(self.out)


def skipped_path(out: Path) -> Path:
    return out.with_name(out.name + ".skipped.jsonl")


def finished_ids(out: Path) -> set[int]:
    """Ids already written to ``out``; a last line cut off by an interruption is removed from the file."""
    if not out.is_file():
        return set()
    raw = out.read_bytes()
    lines = raw.splitlines(keepends=True)
    done: set[int] = set()
    offset = 0
    for i, line in enumerate(lines):
        if line.strip():
            try:
                done.add(int(json.loads(line)["id"]))
            except (ValueError, KeyError, TypeError):
                if any(rest.strip() for rest in lines[i + 1:]):
                    raise DataError(f"{out}:{i + 1}: not a valid contrast row. Fix: delete that line (or the file) "
                                    "and rerun; finished rows are kept.") from None
                logger.warning("%s: dropping a last line cut off by an interruption", out)
                with open(out, "r+b") as f:
                    f.truncate(offset)
                return done
        offset += len(line)
    if raw and not raw.endswith(b"\n"):
        with open(out, "ab") as f:
            f.write(b"\n")
    return done


def write_skipped(report: ContrastRunReport, by_id: dict[int, ContrastSource]) -> None:
    path = report.skipped_path
    if not report.skipped:
        if path.is_file():
            path.unlink()
        return
    with open(path, "w", encoding="utf-8") as f:
        for r in report.skipped:
            s = by_id[r.id]
            f.write(json.dumps({"id": r.id, "category": s.category, "original_prompt": s.text, "reason": r.reason},
                               ensure_ascii=False) + "\n")
