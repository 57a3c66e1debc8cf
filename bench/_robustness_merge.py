"""Merge one-seed runs of bench/robustness.py (one detector seed each) into mean ± sd per rewrite.

>>> rows = merge_rows([{"none": {"recall": 0.9, "fpr": 0.1, "fpr_ordinary": {"alpaca": 0.0}}},
...                    {"none": {"recall": 0.8, "fpr": 0.2, "fpr_ordinary": {"alpaca": 0.1}}}])
>>> rows["none"]["recall"], rows["none"]["fpr_ordinary_max"]
({'mean': 0.85, 'sd': 0.070711, 'by_seed': [0.9, 0.8]}, 0.1)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

FIELDS = ("recall", "delta_recall", "fpr", "delta_fpr")


def _stat(values: list[float]) -> dict:
    v = np.asarray(values, dtype=float)
    return {"mean": round(float(v.mean()), 6), "sd": round(float(v.std(ddof=1)), 6) if len(v) > 1 else 0.0,
            "by_seed": [round(float(x), 6) for x in v]}


def merge_rows(runs: Sequence[dict]) -> dict:
    """Rewrite -> {field: mean, sd, by_seed} over ``runs`` (each a run's ``rewrites``), for the rewrites every run
    has; ``fpr_ordinary_max``: the highest ordinary-traffic FPR of any run and set."""
    names = [n for n in runs[0] if all(n in r for r in runs)]
    out = {}
    for n in names:
        rows = [r[n] for r in runs]
        out[n] = {f: _stat([r[f] for r in rows]) for f in FIELDS if all(r.get(f) is not None for r in rows)}
        out[n]["fpr_ordinary_max"] = max(max(r["fpr_ordinary"].values(), default=0.0) for r in rows)
    return out


def merge(paths: Sequence[str]) -> dict:
    """The merged rows of the JSON files at ``paths`` and what they were run on; refuses runs of different
    splits or prompt samples."""
    runs = [json.loads(Path(p).read_text()) for p in paths]
    keys = {(r["split"], r["seed"], json.dumps(r["sizes"]["requested"], sort_keys=True)) for r in runs}
    if len(keys) > 1:
        raise SystemExit(f"error: the runs differ in split, sample seed or size: {sorted(keys)}. Fix: merge runs of "
                         "one bench command that differ only in --detector.")
    return {"runs": [str(p) for p in paths], "detectors": [r["detector"] for r in runs],
            "split": runs[0]["split"], "sample_seed": runs[0]["seed"], "sizes": runs[0]["sizes"]["requested"],
            "rewrites": merge_rows([r["rewrites"] for r in runs])}


def report(merged: dict) -> str:
    """The merged rows as a Markdown table: mean ± sd over the runs."""
    f = lambda s, sign="": "" if s is None else f"{s['mean']:{sign}.3f} ± {s['sd']:.3f}"
    head = (f"Mean ± sd over {len(merged['runs'])} detectors ({merged['split']} split, sample seed "
            f"{merged['sample_seed']}).")
    lines = [head, "", "| rewrite | recall | Δrecall | FPR | ΔFPR | ordinary FPR (max) |", "|---|---|---|---|---|---|"]
    for n, r in merged["rewrites"].items():
        lines.append(f"| {n} | {f(r.get('recall'))} | {f(r.get('delta_recall'), '+')} | {f(r.get('fpr'))} | "
                     f"{f(r.get('delta_fpr'), '+')} | {r['fpr_ordinary_max']:.3f} |")
    return "\n".join(lines)
