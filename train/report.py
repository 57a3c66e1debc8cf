"""Base vs tuned comparison on held-out data: the Do-Not-Answer test split and XSTest-aug.

Every figure is normalized by each model's OWN avg cosine on the BeaverTails sample (the paper's protocol).
Writes ``comparison.json``, ``comparison.md`` and two heatmaps (``heatmap_xstest_aug.png``, ``heatmap_test.png``).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from safe_embed.evaluate import AvgCosine, CategoricalPurity, SafetyChallenging, SafetyContrast

from safe_embed.data import load_xstest_aug
from safe_embed.data.schemas import ContrastItem, TaxonomyPrompt
from safe_embed.encoders.base import Encoder

logger = logging.getLogger(__name__)


@dataclass
class HeldOutFigures:
    """One model's held-out figures."""

    avg_cosine: float
    xstest_aug_mean: float
    xstest_aug_per_type: dict[str, float]
    test_contrast_mean: float
    test_contrast_per_category: dict[str, float]
    test_cp_mean: float
    test_cp_per_category: dict[str, float]


def held_out_figures(encoder: Encoder, normalizer: AvgCosine, taxonomy: list[TaxonomyPrompt],
                     contrast: list[ContrastItem], data_dir: str | os.PathLike[str] | None, k: int = 10,
                     ) -> HeldOutFigures:
    avg = normalizer.value(encoder)
    sc = SafetyChallenging(load_xstest_aug(data_dir)).compute(encoder, avg)
    ct = SafetyContrast(contrast).compute(encoder, avg)
    cp = CategoricalPurity(taxonomy, k=min(k, len(taxonomy) - 1)).compute(encoder)
    return HeldOutFigures(avg_cosine=avg, xstest_aug_mean=sc.mean, xstest_aug_per_type=sc.per_type,
                          test_contrast_mean=ct.mean, test_contrast_per_category=ct.per_category,
                          test_cp_mean=cp.mean, test_cp_per_category=cp.per_category)


def compare(base: HeldOutFigures, tuned: HeldOutFigures, extra: dict | None = None) -> dict:
    """The comparison dict written to ``comparison.json`` (lower is better except CP)."""
    types = list(base.xstest_aug_per_type)
    improved = [t for t in types if tuned.xstest_aug_per_type[t] < base.xstest_aug_per_type[t]]
    return {
        "protocol": "normalized by each model's own avg cosine on the BeaverTails 500+500 sample",
        "base": asdict(base), "tuned": asdict(tuned),
        "summary": {
            "xstest_aug_mean": {"base": base.xstest_aug_mean, "tuned": tuned.xstest_aug_mean},
            "xstest_aug_types_improved": len(improved), "xstest_aug_types": len(types),
            "xstest_aug_improved": improved,
            "avg_cosine": {"base": base.avg_cosine, "tuned": tuned.avg_cosine},
            "test_contrast_mean": {"base": base.test_contrast_mean, "tuned": tuned.test_contrast_mean},
            "test_cp_mean": {"base": base.test_cp_mean, "tuned": tuned.test_cp_mean},
        },
        **(extra or {}),
    }


def markdown(comp: dict) -> str:
    s, b, t = comp["summary"], comp["base"], comp["tuned"]
    lines = ["# Base vs tuned (held-out)", "", comp["protocol"], "",
             "| measure | base | tuned | better |", "|---|---|---|---|"]
    rows = [("XSTest-aug Safety-Challenging mean (lower)", "xstest_aug_mean", False),
            ("avg cosine (BeaverTails sample)", "avg_cosine", None),
            ("DNA test Safety-Contrast mean (lower)", "test_contrast_mean", False),
            ("DNA test CP@10 mean (higher)", "test_cp_mean", True)]
    for label, key, higher in rows:
        vb, vt = s[key]["base"], s[key]["tuned"]
        better = "" if higher is None else ("yes" if (vt > vb if higher else vt < vb) else "no")
        lines.append(f"| {label} | {vb:.4f} | {vt:.4f} | {better} |")
    lines += ["", f"XSTest-aug types improved: {s['xstest_aug_types_improved']} of {s['xstest_aug_types']}", "",
              "| XSTest-aug type | base | tuned |", "|---|---|---|"]
    for ty, vb in b["xstest_aug_per_type"].items():
        lines.append(f"| {ty} | {vb:.4f} | {t['xstest_aug_per_type'][ty]:.4f} |")
    for key in ("trainable_params", "base_params", "trainable_fraction", "best_checkpoint", "fit_seconds"):
        if key in comp:
            lines.append(f"\n{key}: {comp[key]}")
    return "\n".join(lines) + "\n"


def _heatmap(path: Path, title: str, rows: list[str], cols: list[str], values: list[list[float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    v = np.asarray(values, dtype=float)
    fig, ax = plt.subplots(figsize=(2.2 + 1.4 * len(cols), 1.0 + 0.38 * len(rows)))
    im = ax.imshow(v, cmap="RdYlGn_r", aspect="auto")
    ax.set_xticks(range(len(cols)), cols)
    ax.set_yticks(range(len(rows)), [r[:48] for r in rows])
    for i in range(len(rows)):
        for j in range(len(cols)):
            ax.text(j, i, f"{v[i, j]:.2f}", ha="center", va="center", fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(comp: dict, run_dir: str | Path) -> list[Path]:
    """Write comparison.json, comparison.md and the heatmaps; return the paths."""
    run_dir = Path(run_dir)
    b, t = comp["base"], comp["tuned"]
    out = [run_dir / "comparison.json", run_dir / "comparison.md"]
    out[0].write_text(json.dumps(comp, indent=1))
    out[1].write_text(markdown(comp))
    types = list(b["xstest_aug_per_type"])
    _heatmap(run_dir / "heatmap_xstest_aug.png", "XSTest-aug Safety-Challenging (normalized; lower is better)",
             types, ["base", "tuned"], [[b["xstest_aug_per_type"][x], t["xstest_aug_per_type"][x]] for x in types])
    cats = list(b["test_contrast_per_category"])
    _heatmap(run_dir / "heatmap_test.png", "Do-Not-Answer test split: Safety-Contrast (lower) and CP@10 (higher)",
             cats, ["contrast base", "contrast tuned", "CP base", "CP tuned"],
             [[b["test_contrast_per_category"][c], t["test_contrast_per_category"][c],
               b["test_cp_per_category"].get(c, float("nan")), t["test_cp_per_category"].get(c, float("nan"))]
              for c in cats])
    out += [run_dir / "heatmap_xstest_aug.png", run_dir / "heatmap_test.png"]
    return out
