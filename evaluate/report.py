"""Write an evaluation's files: ``metrics.json``, ``report.md`` and PNG figures.

One model: ``metrics.json`` is that model's :meth:`SuiteResult.to_json`. Several models: ``metrics.json`` is
``{"models": [...]}`` and each model's own file is under ``models/<slug>/metrics.json``; the report and the
heatmaps compare them side by side, one row per model.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np
from safe_embed.evaluate.plots import heatmap, tsne_map
from safe_embed.evaluate.suite import SuiteResult

from safe_embed.errors import DataError

logger = logging.getLogger(__name__)

PAPER_NOTE = ("Normalized cosine = (cos - avg) / (1 - avg). Safety-Challenging and Safety-Contrast: lower is better "
              "(the encoder separates unsafe prompts from safe look-alikes). CP@k: higher is better.")


def slug(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", name.strip("/")).strip("_")
    return s[-80:] or "model"


def _table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def _keys(results: list[SuiteResult], attr: str) -> list[str]:
    keys: list[str] = []
    for r in results:
        keys += [k for k in getattr(r, attr) if k not in keys]
    return keys


def _matrix(results: list[SuiteResult], attr: str, keys: list[str]) -> np.ndarray:
    return np.array([[getattr(r, attr).get(k, np.nan) for k in keys] for r in results], dtype=float)


def render_markdown(results: list[SuiteResult], failures: dict[str, str] | None = None) -> str:
    names = [r.model for r in results]
    lines = ["# Safe-Embed evaluation", "", PAPER_NOTE, ""]
    lines += ["## Summary", "", _table(
        ["model", "avg cosine", "Safety-Challenging mean", "Safety-Contrast mean", f"CP@{results[0].k} mean"],
        [[r.model, f"{r.avg_cosine:.3f} ({r.avg_cosine_source})", f"{r.safety_challenging_mean:.3f}",
          f"{r.safety_contrast_mean:.3f}", f"{r.categorical_purity_mean:.3f}"] for r in results]), ""]
    for title, attr, mean_attr in (
            ("Safety-Challenging (XSTest-aug), normalized cosine per type", "safety_challenging",
             "safety_challenging_mean"),
            ("Safety-Contrast, max normalized cosine per category", "safety_contrast", "safety_contrast_mean"),
            (f"Categorical Purity CP@{results[0].k} per category", "categorical_purity",
             "categorical_purity_mean")):
        keys = _keys(results, attr)
        rows = [[k] + [f"{getattr(r, attr).get(k, float('nan')):.3f}" for r in results] for k in keys]
        rows.append(["**mean**"] + [f"**{getattr(r, mean_attr):.3f}**" for r in results])
        lines += [f"## {title}", "", _table(["type / category", *names], rows), ""]
    if failures:
        lines += ["## Models that could not be evaluated", ""]
        lines += [f"- `{m}`: {msg}" for m, msg in failures.items()] + [""]
    lines += ["## Figures", "", "- `safety_challenging_heatmap.png`", "- `categorical_purity_heatmap.png`",
              "- `tsne_<model>.png` (Do-Not-Answer embeddings coloured by category)", ""]
    return "\n".join(lines)


def write_report(results: list[SuiteResult], out: Path, failures: dict[str, str] | None = None,
                 tsne: bool = True, seed: int = 0) -> dict[str, Path]:
    """Write metrics.json, report.md, heatmaps and t-SNE maps into ``out``; return the paths written."""
    if not results:
        raise DataError("no results to report")
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    if len(results) == 1:
        payload = results[0].to_json()
    else:
        payload = {"models": [r.to_json() for r in results]}
        for r in results:
            d = out / "models" / slug(r.model)
            d.mkdir(parents=True, exist_ok=True)
            (d / "metrics.json").write_text(json.dumps(r.to_json(), indent=2))
    if failures:
        payload["failed"] = failures
    written["metrics"] = out / "metrics.json"
    written["metrics"].write_text(json.dumps(payload, indent=2, ensure_ascii=False))
    written["report"] = out / "report.md"
    written["report"].write_text(render_markdown(results, failures))
    names = [r.model for r in results]
    sc_keys = _keys(results, "safety_challenging")
    written["sc_heatmap"] = heatmap(_matrix(results, "safety_challenging", sc_keys), names, sc_keys,
                                    out / "safety_challenging_heatmap.png",
                                    "Safety-Challenging: normalized cosine (lower = better separation)")
    cp_keys = _keys(results, "categorical_purity")
    written["cp_heatmap"] = heatmap(_matrix(results, "categorical_purity", cp_keys), names,
                                    [k[:40] for k in cp_keys], out / "categorical_purity_heatmap.png",
                                    f"Categorical Purity CP@{results[0].k} (higher = purer)", cmap="Blues",
                                    vmin=0.0, vmax=1.0)
    if tsne:
        for r in results:
            if r.taxonomy_embeddings is not None and r.taxonomy_labels is not None:
                p = out / f"tsne_{slug(r.model)}.png"
                written[f"tsne:{r.model}"] = tsne_map(r.taxonomy_embeddings, r.taxonomy_labels, p,
                                                      f"Do-Not-Answer t-SNE: {r.model}", seed=seed)
    return written
