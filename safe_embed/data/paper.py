"""Loaders for the Safe-Embed paper's three sets and its normalization sample.

Paths are relative to the data directory (see :func:`safe_embed.paths.resolve_data_dir`).
"""

from __future__ import annotations

import os
from pathlib import Path

from safe_embed.data.io import as_int, data_file, read_csv_rows, read_jsonl_rows
from safe_embed.data.schemas import LABELS, ContrastItem, LabelledPrompt, PromptPair, TaxonomyPrompt
from safe_embed.errors import DataError
from safe_embed.paths import resolve_data_dir

XSTEST_AUG = "safe_embed/xstest_aug.csv"
DO_NOT_ANSWER = "safe_embed/do_not_answer_prompts.csv"
CONTRAST = "safe_embed/safety_contrast/contrast_parsed.jsonl"
NORM_SAMPLE = "beavertails/beavertails_30k_test_sample_500safe_500unsafe.csv"

N_EDITS = 5


def _dir(data_dir: str | os.PathLike[str] | None) -> Path:
    return resolve_data_dir(data_dir)


def load_xstest_aug(data_dir: str | os.PathLike[str] | None = None) -> list[PromptPair]:
    """The 250 Safety-Challenging unsafe/safe pairs (10 types)."""
    path = data_file(_dir(data_dir), XSTEST_AUG)
    rows = read_csv_rows(path, ["id", "type_id", "type", "unsafe_prompt", "safe_prompt", "focus"])
    return [
        PromptPair(
            id=as_int(path, r, "id"),
            type_id=as_int(path, r, "type_id"),
            type=r["type"],
            unsafe=r["unsafe_prompt"],
            safe=r["safe_prompt"],
            focus=r["focus"],
        )
        for r in rows
    ]


def load_do_not_answer(data_dir: str | os.PathLike[str] | None = None) -> list[TaxonomyPrompt]:
    """The 939 Do-Not-Answer prompts with their 12 ``types_of_harm`` categories."""
    path = data_file(_dir(data_dir), DO_NOT_ANSWER)
    rows = read_csv_rows(path, ["id", "risk_area", "types_of_harm", "specific_harms", "question"])
    return [
        TaxonomyPrompt(
            id=as_int(path, r, "id"),
            risk_area=r["risk_area"],
            category=r["types_of_harm"],
            specific_harm=r["specific_harms"],
            text=r["question"],
        )
        for r in rows
    ]


def load_contrast(data_dir: str | os.PathLike[str] | None = None, path: str | os.PathLike[str] | None = None,
                  ) -> list[ContrastItem]:
    """The Safety-Contrast set: each unsafe original with its 5 safe edits (``prompt_#1`` .. ``prompt_#5``)."""
    p = Path(path) if path else data_file(_dir(data_dir), CONTRAST)
    edit_cols = [f"prompt_#{i}" for i in range(1, N_EDITS + 1)]
    rows = read_jsonl_rows(p, ["id", "category", "original_prompt", *edit_cols])
    items = []
    for r in rows:
        edits = tuple(str(r[c]) for c in edit_cols)
        if any(not e.strip() for e in edits):
            raise DataError(f"{p}: row id={r['id']} has an empty edit. Fix: regenerate that row.")
        items.append(ContrastItem(id=int(r["id"]), category=str(r["category"]),
                                  original=str(r["original_prompt"]), edits=edits))
    return items


def load_norm_sample(data_dir: str | os.PathLike[str] | None = None) -> list[LabelledPrompt]:
    """The 1,000-prompt BeaverTails sample (500 safe + 500 unsafe) for the avg-cosine normalizer, in file order."""
    path = data_file(_dir(data_dir), NORM_SAMPLE)
    rows = read_csv_rows(path, ["prompt", "label"])
    out = []
    for r in rows:
        label = r["label"].strip().lower()
        if label not in LABELS:
            raise DataError(f"{path}: column 'label' must be safe/unsafe, got {r['label']!r}.")
        out.append(LabelledPrompt(text=r["prompt"], label=label, id=r.get("row"), source="beavertails"))
    return out
