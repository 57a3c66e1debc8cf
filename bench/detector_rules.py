"""Compare detector scoring rules and threshold methods on held-out sets (not XSTest for the choice).

    python bench/detector_rules.py --model all-MiniLM-L6-v2 [--exemplars configs/detector/default.yaml]
                                   [--json results/detector_rules.json]

Each rule is calibrated on the exemplar config's calibration split, then measured on: the Do-Not-Answer test
prompts with their Safety-Contrast edits (``dna-test``), JBB test pairs (``jbb-heldout``), OKTest_heldout (all safe,
FPR only), and, reported but not used to choose, XSTest (450) and XSTest-aug (500).
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

RULES = [
    ScoringRule("margin", k=10, m=1),
    ScoringRule("margin", k=10, m=3),
    ScoringRule("knn_vote", k=10, temperature=0.05),
    ScoringRule("knn_vote", k=20, temperature=0.02),
    ScoringRule("logistic", k=10),
]
METHODS = [("fpr", 0.05), ("f1", 0.05)]


def rule_name(r: ScoringRule) -> str:
    if r.name == "margin":
        return f"margin m={r.m}"
    if r.name == "knn_vote":
        return f"knn k={r.k} T={r.temperature}"
    return f"logistic k={r.k}"


def run(model: str, exemplars: str, seed: int = 0) -> list[dict]:
    encoder = load_encoder(model)
    sets = load_exemplars(exemplars, seed=seed)
    base = Detector(encoder, sets.unsafe, sets.safe, RULES[0], None, DetectorSettings(seed=seed))  # type: ignore
    cal_texts, cal_labels = [p.text for p in sets.calibration], [p.label for p in sets.calibration]
    evals = heldout_sets(seed)
    rows = []
    for rule in RULES:
        for method, target in METHODS:
            det = base.with_rule(rule)
            cal = det.calibrate(cal_texts, cal_labels, method, target)
            row = {"model": model, "rule": rule_name(rule), "method": method, "val_auroc": cal.validation["auroc"],
                   "val_f1": cal.validation["f1"], "val_fpr": cal.validation["fpr"]}
            for name, prompts in evals.items():
                m = evaluate_detector(det, prompts, name).metrics
                for key in ("auroc", "f1", "fpr", "recall"):
                    if key in m:
                        row[f"{name}/{key}"] = m[key]
            rows.append(row)
    return rows


COLS = [("val_auroc", "val AUC"), ("dna-test/auroc", "DNA AUC"), ("dna-test/f1", "DNA F1"),
        ("jbb-heldout/auroc", "JBB AUC"), ("jbb-heldout/f1", "JBB F1"), ("jbb-heldout/fpr", "JBB FPR"),
        ("oktest-heldout/fpr", "OK FPR"), ("xstest/auroc", "XS AUC"), ("xstest/f1", "XS F1"),
        ("xstest/fpr", "XS FPR"), ("xstest-aug/auroc", "XSaug AUC")]


def print_table(rows: list[dict]) -> None:
    print(f"{'model':<22} {'rule':<20} {'thr':<4} " + " ".join(f"{h:>9}" for _, h in COLS))
    for r in rows:
        print(f"{Path(r['model']).name[:22]:<22} {r['rule']:<20} {r['method']:<4} "
              + " ".join(f"{r.get(k, float('nan')):>9.3f}" for k, _ in COLS))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", default=None, help="model name or directory (repeatable)")
    ap.add_argument("--exemplars", default="configs/detector/default.yaml")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="also write the rows as JSON here")
    args = ap.parse_args(argv)
    rows = []
    t = time.time()
    for model in args.model or ["all-MiniLM-L6-v2"]:
        rows += run(model, args.exemplars, args.seed)
    print_table(rows)
    print(f"({time.time() - t:.0f}s)", file=sys.stderr)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
