"""Print the held-out ablation table from training run directories (each holds a comparison.json).

Usage: python bench/train_ablations.py runs/abl/*     (run the ablations with `safe-embed fit --config ...` first)
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
    s = comp["summary"]
    losses = "+".join(x["class_path"].rsplit(".", 1)[-1] for x in (cfg.get("model", {}).get("losses") or []))
    return {"run": run.name, "experiment": cfg.get("experiment", "?"), "finetune": cfg.get("model", {}).get("finetune"),
            "losses": losses, "trainable_%": 100 * comp.get("trainable_fraction", float("nan")),
            "xstest_aug": s["xstest_aug_mean"]["tuned"], "types": s["xstest_aug_types_improved"],
            "avg_cos": s["avg_cosine"]["tuned"], "cp@10": s["test_cp_mean"]["tuned"],
            "contrast": s["test_contrast_mean"]["tuned"], "fit_s": comp.get("fit_seconds"),
            "base": (s["xstest_aug_mean"]["base"], s["avg_cosine"]["base"], s["test_cp_mean"]["base"],
                     s["test_contrast_mean"]["base"])}


def main(paths: list[str]) -> int:
    rows = [r for r in (row(Path(p)) for p in paths) if r]
    if not rows:
        print("no run directory with comparison.json given", file=sys.stderr)
        return 1
    b = rows[0]["base"]
    print(f"base MiniLM: XSTest-aug {b[0]:.3f}, avg cos {b[1]:.4f}, DNA test CP@10 {b[2]:.3f}, "
          f"DNA test contrast {b[3]:.3f}")
    head = f"{'run':<14}{'finetune':<9}{'losses':<36}{'train%':>7}{'XSTest':>8}{'types':>6}{'avgcos':>8}" \
           f"{'CP@10':>7}{'contr':>7}{'fit_s':>7}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['run']:<14}{r['finetune'] or '':<9}{r['losses'][:35]:<36}{r['trainable_%']:>7.2f}"
              f"{r['xstest_aug']:>8.3f}{r['types']:>6}{r['avg_cos']:>8.4f}{r['cp@10']:>7.3f}{r['contrast']:>7.3f}"
              f"{(r['fit_s'] or 0):>7.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
