"""Print the held-out comparison of training run directories (each holds a comparison.json), one row per run.

Usage: python bench/train_ablations.py runs/abl/*     (run the ablations with `safe-embed fit --config ...` first)

Columns: the run's experiment, fine-tuning mode and losses, then every ``comparison.json`` summary figure of the
tuned encoder (XSTest-aug Safety-Challenging, test-split detection AUROC/AUPRC, and the paper's test measures the
run's data has), and the fit time.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml


def row(run: Path) -> dict | None:
    comp_path = run / "comparison.json"
    if not comp_path.is_file():
        return None
    comp = json.loads(comp_path.read_text())
    cfg = yaml.safe_load((run / "config.yaml").read_text()) if (run / "config.yaml").is_file() else {}
    losses = "+".join(x["class_path"].rsplit(".", 1)[-1] for x in (cfg.get("model", {}).get("losses") or []))
    out = {"run": run.name, "experiment": cfg.get("experiment", "?"), "finetune": cfg.get("model", {}).get("finetune"),
           "losses": losses or "default"}
    for key, v in comp["summary"].items():
        if isinstance(v, dict) and "tuned" in v:
            out[key] = v["tuned"]
    out["types_better"] = comp["summary"]["xstest_aug_types_improved"]
    out["fit_s"] = comp.get("fit_seconds")
    return out


def main(paths: list[str]) -> int:
    rows = [r for r in (row(Path(p)) for p in paths) if r]
    if not rows:
        print("no run directory with comparison.json given", file=sys.stderr)
        return 1
    cols = list(dict.fromkeys(k for r in rows for k in r))
    print("\t".join(cols))
    for r in rows:
        print("\t".join(f"{r[c]:.4f}" if isinstance(r.get(c), float) else str(r.get(c, "")) for c in cols))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
