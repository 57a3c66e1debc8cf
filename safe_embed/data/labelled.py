"""The generic labelled-prompt format and the named labelled sets built on it.

A labelled file is CSV or JSONL with a ``text`` (or ``prompt``) column and a ``label`` column holding
``safe`` or ``unsafe``; ``category``, ``pair_id``, ``type`` and ``id`` columns are optional.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from safe_embed.data.io import data_file, read_csv_rows, read_rows
from safe_embed.data.paper import load_contrast, load_do_not_answer, load_xstest_aug
from safe_embed.data.schemas import LABELS, LabelledPrompt
from safe_embed.errors import DataError
from safe_embed.paths import resolve_data_dir

XSTEST = "xstest/xstest_prompts.csv"
JBB_LONG = "jbb_behaviors/jbb_behaviors_long.csv"
OKTEST = "oktest/oktest_clean.csv"
ADVBENCH = "advbench/harmful_behaviors.csv"
BEAVERTAILS = "beavertails/beavertails_30k_test_prompts.csv"


def _opt(row: dict, key: str) -> str | None:
    v = row.get(key)
    if v is None:
        return None
    v = str(v)
    return v if v.strip() else None


def load_labelled_file(path: str | os.PathLike[str], source: str | None = None) -> list[LabelledPrompt]:
    """Read a labelled-prompt file (CSV or JSONL).

    >>> # load_labelled_file("my_prompts.jsonl")  # rows like {"text": "...", "label": "unsafe"}
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"labelled file not found: {p}. Fix: give an existing .csv or .jsonl path.")
    rows = read_rows(p, ["label"])
    text_key = "text" if "text" in rows[0] else "prompt" if "prompt" in rows[0] else None
    if text_key is None:
        raise DataError(f"{p}: missing column 'text' (or 'prompt'); expected columns ['text', 'label'] "
                        f"(optional: category, pair_id, type, id), found {list(rows[0])}.")
    out = []
    for i, r in enumerate(rows, 1):
        if text_key not in r:
            raise DataError(f"{p}: row {i} has no '{text_key}' field. Fix: add it to every row.")
        label = str(r["label"]).strip().lower()
        if label not in LABELS:
            raise DataError(f"{p}: row {i}: label must be 'safe' or 'unsafe', got {r['label']!r}.")
        out.append(LabelledPrompt(
            text=str(r[text_key]), label=label, category=_opt(r, "category"), pair_id=_opt(r, "pair_id"),
            type=_opt(r, "type"), id=_opt(r, "id"), source=source or p.stem,
        ))
    return out


def load_xstest(data_dir: str | os.PathLike[str] | None = None) -> list[LabelledPrompt]:
    """XSTest v2: 450 prompts (250 safe, 200 unsafe), with ``type``."""
    path = data_file(resolve_data_dir(data_dir), XSTEST)
    rows = read_csv_rows(path, ["id", "prompt", "type", "label"])
    return [LabelledPrompt(text=r["prompt"], label=r["label"].strip(), type=r["type"], id=r["id"], source="xstest")
            for r in rows]


def load_xstest_aug_labelled(data_dir: str | os.PathLike[str] | None = None) -> list[LabelledPrompt]:
    """XSTest-aug as 500 labelled prompts; ``pair_id`` links each unsafe prompt to its safe twin."""
    out = []
    for p in load_xstest_aug(data_dir):
        out.append(LabelledPrompt(text=p.unsafe, label="unsafe", type=p.type, pair_id=str(p.id),
                                  id=f"{p.id}-unsafe", source="xstest-aug"))
        out.append(LabelledPrompt(text=p.safe, label="safe", type=p.type, pair_id=str(p.id),
                                  id=f"{p.id}-safe", source="xstest-aug"))
    return out


def load_jbb(data_dir: str | os.PathLike[str] | None = None) -> list[LabelledPrompt]:
    """JailbreakBench behaviours: 100 harmful goals and their 100 benign twins (``pair_id`` = index)."""
    path = data_file(resolve_data_dir(data_dir), JBB_LONG)
    rows = read_csv_rows(path, ["index", "category", "label", "prompt"])
    return [LabelledPrompt(text=r["prompt"], label=r["label"].strip(), category=r["category"],
                           type=r["category"], pair_id=r["index"], id=f"{r['index']}-{r['label']}", source="jbb")
            for r in rows]


def load_oktest(data_dir: str | os.PathLike[str] | None = None) -> list[LabelledPrompt]:
    """OKTest: 350 safe prompts with harmful-looking words (all safe)."""
    path = data_file(resolve_data_dir(data_dir), OKTEST)
    rows = read_csv_rows(path, ["id", "split", "label", "prompt"])
    return [LabelledPrompt(text=r["prompt"], label="safe", type=r["split"], id=r["id"], source="oktest")
            for r in rows]


def load_advbench(data_dir: str | os.PathLike[str] | None = None) -> list[LabelledPrompt]:
    """AdvBench harmful behaviours: 520 unsafe instructions."""
    path = data_file(resolve_data_dir(data_dir), ADVBENCH)
    rows = read_csv_rows(path, ["goal"])
    return [LabelledPrompt(text=r["goal"], label="unsafe", id=str(i), source="advbench") for i, r in enumerate(rows)]


def load_do_not_answer_labelled(data_dir: str | os.PathLike[str] | None = None) -> list[LabelledPrompt]:
    """Do-Not-Answer as 939 unsafe labelled prompts with ``category`` = ``types_of_harm``."""
    return [LabelledPrompt(text=p.text, label="unsafe", category=p.category, pair_id=str(p.id), id=str(p.id),
                           source="do-not-answer") for p in load_do_not_answer(data_dir)]


def load_contrast_labelled(data_dir: str | os.PathLike[str] | None = None) -> list[LabelledPrompt]:
    """The Safety-Contrast edits as 4,695 safe prompts; ``pair_id`` = the Do-Not-Answer id they were edited from."""
    out = []
    for item in load_contrast(data_dir):
        for j, e in enumerate(item.edits, 1):
            out.append(LabelledPrompt(text=e, label="safe", category=item.category, pair_id=str(item.id),
                                      id=f"{item.id}-{j}", source="safety-contrast"))
    return out


def load_beavertails(data_dir: str | os.PathLike[str] | None = None) -> list[LabelledPrompt]:
    """BeaverTails 30k_test prompts; labels describe the RESPONSE, so they are noisy as prompt labels."""
    path = data_file(resolve_data_dir(data_dir), BEAVERTAILS)
    rows = read_csv_rows(path, ["row", "prompt", "label"])
    return [LabelledPrompt(text=r["prompt"], label=r["label"].strip(), id=r["row"], source="beavertails")
            for r in rows]


def load_beavertails_prompts(data_dir: str | os.PathLike[str] | None = None) -> list[LabelledPrompt]:
    """BeaverTails 30k_test as a prompt-level set: one row per distinct prompt (first occurrence), labelled
    ``unsafe`` when any of its responses was judged harmful (the prompt elicited harm), else ``safe``.

    The safe side stays noisy (a harmful prompt whose responders all refused is ``safe``), so use it to compare
    detectors, not as an absolute figure.
    """
    out: dict[str, LabelledPrompt] = {}
    for p in load_beavertails(data_dir):
        key = " ".join(p.text.split())
        first = out.setdefault(key, p)
        if p.label == "unsafe" and first.label != "unsafe":
            out[key] = dataclasses.replace(first, label="unsafe")
    return list(out.values())


NAMED_SETS = {
    "xstest": load_xstest,
    "xstest-aug": load_xstest_aug_labelled,
    "jbb": load_jbb,
    "oktest": load_oktest,
    "advbench": load_advbench,
    "do-not-answer": load_do_not_answer_labelled,
    "safety-contrast": load_contrast_labelled,
    "beavertails": load_beavertails,
    "beavertails-prompts": load_beavertails_prompts,
}


def load_labelled(name_or_path: str | os.PathLike[str], data_dir: str | os.PathLike[str] | None = None,
                  ) -> list[LabelledPrompt]:
    """Load a named set (``xstest``, ``xstest-aug``, ``jbb``, ``oktest``, ...) or a labelled file."""
    key = str(name_or_path)
    if key in NAMED_SETS:
        return NAMED_SETS[key](data_dir)
    p = Path(key)
    if p.suffix.lower() in (".csv", ".jsonl", ".json", ".ndjson") or p.exists():
        return load_labelled_file(p)
    raise DataError(f"unknown dataset {key!r}. Fix: use one of {sorted(NAMED_SETS)} or a path to a .csv/.jsonl "
                    "file with 'text' and 'label' columns.")
