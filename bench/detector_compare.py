"""Side-by-side detectors built on different encoders (acceptance 1 of issue 4).

    python bench/detector_compare.py --model all-MiniLM-L6-v2 --model runs/<exp>/<run>/encoder \
        [--exemplars configs/detector/default.yaml] [--rule logistic] [--save-dir results/detectors] \
        [--json results/detector_compare.json]

Each detector uses the same exemplar config, rule and calibration (target FPR 5% on the calibration split), and
is measured on XSTest (450 prompts, never exemplars, calibration or training data), JBB's held-out benign twins,
OKTest_heldout, the Do-Not-Answer test split with its Safety-Contrast edits, and XSTest-aug.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from safe_embed.detector import Detector, DetectorSettings, ScoringRule, load_exemplars
from safe_embed.detector.evaluation import evaluate_detector
from safe_embed.detector.exemplars import heldout_sets
from safe_embed.encoders import load_encoder

LLAMA_GUARD_2 = {"xstest/f1": 0.884, "xstest/fpr": 0.084}  # published prompt-level XSTest result
ROWS = [("xstest", "auroc"), ("xstest", "auprc"), ("xstest", "precision"), ("xstest", "recall"), ("xstest", "f1"),
        ("xstest", "fpr"), ("xstest", "tpr_at_fpr_5"), ("jbb-heldout", "auroc"), ("jbb-heldout", "f1"),
        ("jbb-heldout", "fpr"), ("oktest-heldout", "fpr"), ("dna-test", "auroc"), ("dna-test", "f1"),
        ("dna-test", "fpr"), ("xstest-aug", "auroc"), ("xstest-aug", "f1"), ("xstest-aug", "fpr")]


def label_of(model: str) -> str:
    p = Path(model)
    return "/".join(p.parts[-3:-1]) if p.name == "encoder" else p.name


def measure(model: str, exemplars: str, rule: str, method: str, target_fpr: float, seed: int,
            save_dir: str | None) -> dict:
    sets = load_exemplars(exemplars, seed=seed)
    det = Detector.build(load_encoder(model), sets, rule=ScoringRule(rule), method=method, target_fpr=target_fpr,
                         settings=DetectorSettings(seed=seed))
    if save_dir:
        det.save(Path(save_dir) / label_of(model).replace("/", "_"))
    out = {"model": model, "threshold": det.calibration.threshold, "val/auroc": det.calibration.validation["auroc"],
           "val/f1": det.calibration.validation["f1"], "val/fpr": det.calibration.validation["fpr"]}
    for name, prompts in heldout_sets(seed).items():
        ev = evaluate_detector(det, prompts, name)
        out.update({f"{name}/{k}": v for k, v in ev.metrics.items()})
        if name == "xstest":
            out["xstest/by_type_fpr"] = {g: m["fpr"] for g, m in ev.breakdown.items() if "fpr" in m}
            out["xstest/by_type_recall"] = {g: m["recall"] for g, m in ev.breakdown.items() if "recall" in m}
    return out


def print_table(results: list[dict]) -> None:
    names = [label_of(r["model"])[:24] for r in results]
    print(f"{'metric':<26}" + "".join(f"{n:>26}" for n in names) + f"{'Llama Guard 2':>16}")
    for key in ["val/auroc", "val/f1", "val/fpr"] + [f"{s}/{m}" for s, m in ROWS]:
        ref = LLAMA_GUARD_2.get(key)
        print(f"{key:<26}" + "".join(f"{r.get(key, float('nan')):>26.3f}" for r in results)
              + (f"{ref:>16.3f}" if ref is not None else f"{'':>16}"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", required=True, help="model name or encoder directory (repeatable)")
    ap.add_argument("--exemplars", default="configs/detector/default.yaml")
    ap.add_argument("--rule", default="logistic")
    ap.add_argument("--threshold", default="fpr", choices=("fpr", "f1"))
    ap.add_argument("--target-fpr", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save-dir", default=None, help="also save each detector directory here")
    ap.add_argument("--json", default=None, help="write the figures as JSON here")
    args = ap.parse_args(argv)
    t = time.time()
    results = [measure(m, args.exemplars, args.rule, args.threshold, args.target_fpr, args.seed, args.save_dir)
               for m in args.model]
    target = f"FPR <= {args.target_fpr:.2f}" if args.threshold == "fpr" else "best F1"
    print(f"rule {args.rule}, threshold for {target} on the calibration split ({args.exemplars})")
    print_table(results)
    print(f"({time.time() - t:.0f}s)", file=sys.stderr)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
