"""Base vs tuned on held-out data: XSTest-aug always; detection and the paper's measures on the test split.

Every cosine figure is normalized by each model's OWN avg cosine on the BeaverTails sample (the paper's protocol).
Detection scores both models with the exported detector's scoring rule (:mod:`safe_embed.train.validation`: head
and neighbours on the train split, combiner on the val split). Writes ``comparison.json``, ``comparison.md`` and
``heatmap_xstest_aug.png``.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from safe_embed.evaluate import AvgCosine, SafetyChallenging
from safe_embed.evaluate.plots import heatmap
from safe_embed.train.examples import EvalSets
from safe_embed.train.validation import paper_measures

from safe_embed.data import load_xstest_aug
from safe_embed.encoders.base import Encoder

logger = logging.getLogger(__name__)


@dataclass
class HeldOutFigures:
    """One model's held-out figures (``test`` holds the test-split detection and paper measures it has data for)."""

    avg_cosine: float
    xstest_aug_mean: float
    xstest_aug_per_type: dict[str, float]
    test: dict[str, float] = field(default_factory=dict)


def held_out_figures(encoder: Encoder, normalizer: AvgCosine, test_sets: EvalSets,
                     data_dir: str | os.PathLike[str] | None, detection: dict[str, float] | None = None, k: int = 10,
                     ) -> HeldOutFigures:
    avg = normalizer.value(encoder)
    sc = SafetyChallenging(load_xstest_aug(data_dir)).compute(encoder, avg)
    test = dict(detection or {})
    test.update({key: v for key, v in paper_measures(encoder, test_sets, normalizer, k).items() if key != "avg_cosine"})
    return HeldOutFigures(avg_cosine=avg, xstest_aug_mean=sc.mean, xstest_aug_per_type=sc.per_type, test=test)


LOWER_IS_BETTER = {"xstest_aug_mean", "contrast", "jbb_pairs", "fpr_at_tpr_90"}


def compare(base: HeldOutFigures, tuned: HeldOutFigures, extra: dict | None = None) -> dict:
    """The dict written to ``comparison.json``."""
    types = list(base.xstest_aug_per_type)
    improved = [t for t in types if tuned.xstest_aug_per_type[t] < base.xstest_aug_per_type[t]]
    summary = {"xstest_aug_mean": {"base": base.xstest_aug_mean, "tuned": tuned.xstest_aug_mean},
               "xstest_aug_types_improved": len(improved), "xstest_aug_types": len(types),
               "xstest_aug_improved": improved,
               "avg_cosine": {"base": base.avg_cosine, "tuned": tuned.avg_cosine}}
    for key in tuned.test:
        if key in base.test:
            summary[f"test_{key}"] = {"base": base.test[key], "tuned": tuned.test[key]}
    return {"protocol": "cosine measures normalized by each model's own avg cosine on the BeaverTails 500+500 "
                        "sample; detection on the test split with the detector's scoring rule (head and neighbours on "
                        "the train split, combiner on the val split)",
            "base": asdict(base), "tuned": asdict(tuned), "summary": summary, **(extra or {})}


def markdown(comp: dict) -> str:
    s = comp["summary"]
    lines = ["# Base vs tuned (held-out)", "", comp["protocol"], "", "| measure | base | tuned | better |",
             "|---|---|---|---|"]
    for key, v in s.items():
        if not isinstance(v, dict) or "base" not in v:
            continue
        metric = key.removeprefix("test_")
        better = "" if key == "avg_cosine" else "yes" if (
            v["tuned"] < v["base"] if metric in LOWER_IS_BETTER else v["tuned"] > v["base"]) else "no"
        lines.append(f"| {key} | {v['base']:.4f} | {v['tuned']:.4f} | {better} |")
    lines += ["", f"XSTest-aug types improved: {s['xstest_aug_types_improved']} of {s['xstest_aug_types']}", "",
              "| XSTest-aug type | base | tuned |", "|---|---|---|"]
    for ty, vb in comp["base"]["xstest_aug_per_type"].items():
        lines.append(f"| {ty} | {vb:.4f} | {comp['tuned']['xstest_aug_per_type'][ty]:.4f} |")
    for key in ("trainable_params", "base_params", "trainable_fraction", "best_checkpoint", "fit_seconds"):
        if key in comp:
            lines.append(f"\n{key}: {comp[key]}")
    return "\n".join(lines) + "\n"


def write_report(comp: dict, run_dir: str | Path) -> list[Path]:
    """Write comparison.json, comparison.md and the XSTest-aug heatmap; return the paths."""
    run_dir = Path(run_dir)
    b, t = comp["base"], comp["tuned"]
    out = [run_dir / "comparison.json", run_dir / "comparison.md", run_dir / "heatmap_xstest_aug.png"]
    out[0].write_text(json.dumps(comp, indent=1))
    out[1].write_text(markdown(comp))
    types = list(b["xstest_aug_per_type"])
    heatmap([[b["xstest_aug_per_type"][x] for x in types], [t["xstest_aug_per_type"][x] for x in types]],
            ["base", "tuned"], types, out[2], "XSTest-aug Safety-Challenging (normalized; lower is better)")
    return out
