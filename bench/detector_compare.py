"""Side-by-side detectors built on different encoders (acceptance 1 of issue 4).

    python bench/detector_compare.py --model all-MiniLM-L6-v2 --model runs/<exp>/<run>/encoder \
        [--exemplars configs/detector/default.yaml] [--rule logistic] [--save-dir results/detectors] \
        [--json results/detector_compare.json]

Each detector uses the same exemplar config, rule and calibration (target FPR 5% on the calibration split), and
is measured on XSTest (450 prompts, never exemplars, calibration or training data), all of JBB (100 harmful /
benign pairs: held out whole by the default exemplar and training configs), the JBB val pairs, OKTest_heldout,
the Do-Not-Answer test split with its Safety-Contrast edits, XSTest-aug and BeaverTails 30k_test (one row per
prompt; noisy prompt labels). A set whose prompts are exemplars is flagged (``<set>/exemplar_overlap``), and the
differences against the first detector come with paired bootstrap intervals.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from safe_embed.commands.export import _warn_trained_on_held_out
from safe_embed.detector import Detector, DetectorSettings, ScoringRule, load_exemplars
from safe_embed.detector.evaluation import evaluate_detector
from safe_embed.detector.exemplars import heldout_sets
from safe_embed.encoders import load_encoder
from safe_embed.metrics import paired_bootstrap

LLAMA_GUARD_2 = {"xstest/f1": 0.884, "xstest/fpr": 0.084}  # published prompt-level XSTest result
ROWS = [("xstest", "auroc"), ("xstest", "auprc"), ("xstest", "precision"), ("xstest", "recall"), ("xstest", "f1"),
        ("xstest", "fpr"), ("xstest", "tpr_at_fpr_5"), ("jbb", "auroc"), ("jbb", "f1"), ("jbb", "fpr"),
        ("jbb", "tpr_at_fpr_5"), ("jbb-heldout", "auroc"), ("jbb-heldout", "fpr"), ("oktest-heldout", "fpr"),
        ("dna-test", "auroc"), ("dna-test", "f1"), ("dna-test", "fpr"), ("xstest-aug", "auroc"), ("xstest-aug", "f1"),
        ("xstest-aug", "fpr"), ("beavertails", "auroc"), ("beavertails", "f1"), ("beavertails", "fpr")]
PAIRED = ("xstest", "jbb", "jbb-heldout", "beavertails", "xstest-aug")  # both labels: bootstrap the differences


def label_of(model: str) -> str:
    p = Path(model)
    return "/".join(p.parts[-3:-1]) if p.name == "encoder" else p.name


def measure(model: str, exemplars: str, rule: str, method: str, target_fpr: float, seed: int,
            save_dir: str | None) -> dict:
    sets = load_exemplars(exemplars, seed=seed)
    trained_on_test = _warn_trained_on_held_out(model, sets.provenance.get("held_out", []))
    det = Detector.build(load_encoder(model), sets, rule=ScoringRule(rule), method=method, target_fpr=target_fpr,
                         settings=DetectorSettings(seed=seed))
    if save_dir:
        det.save(Path(save_dir) / label_of(model).replace("/", "_"))
    v = det.calibration.validation
    out = {"model": model, "trained_on_held_out": trained_on_test, "threshold": det.calibration.threshold,
           "val/auroc": v["auroc"], "val/f1": v["f1"], "val/fpr": v["fpr"]}
    out["_scores"], out["_labels"] = {}, {}
    for name, prompts in heldout_sets(seed).items():
        ev = evaluate_detector(det, prompts, name)
        out["_scores"][name], out["_labels"][name] = ev.scores, [int(p.is_unsafe) for p in prompts]
        out.update({f"{name}/{k}": v for k, v in ev.metrics.items()})
        out[f"{name}/exemplar_overlap"] = ev.exemplar_overlap
        if ev.exemplar_overlap:
            print(f"note: {ev.exemplar_overlap} prompts of {name} are exemplars of {label_of(model)}", file=sys.stderr)
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


def fpr_of(y: np.ndarray, flags: np.ndarray) -> float:
    return float(np.mean(flags[y == 0]))


def recall_of(y: np.ndarray, flags: np.ndarray) -> float:
    return float(np.mean(flags[y == 1]))


def print_paired(results: list[dict], n_boot: int, seed: int) -> dict:
    """AUROC, FPR and recall differences of each detector against the first one, with 95% bootstrap intervals
    (prompts resampled jointly, stratified by label); FPR and recall at each detector's own threshold."""
    out = {}
    base = results[0]
    print(f"\ndifferences against {label_of(base['model'])} (95% paired bootstrap, {n_boot} resamples)")
    for r in results[1:]:
        for name in PAIRED:
            y = np.asarray(base["_labels"][name])
            a, b = np.asarray(base["_scores"][name]), np.asarray(r["_scores"][name])
            fa, fb = (a >= base["threshold"]).astype(float), (b >= r["threshold"]).astype(float)
            d = {"auroc": paired_bootstrap(y, a, b, n_boot=n_boot, seed=seed),
                 "fpr": paired_bootstrap(y, fa, fb, metric=fpr_of, n_boot=n_boot, seed=seed),
                 "recall": paired_bootstrap(y, fa, fb, metric=recall_of, n_boot=n_boot, seed=seed)}
            key = f"{label_of(r['model'])}/{name}"
            out[key] = d
            print(f"{key:<40}" + "  ".join(f"{m} {v[0]:+.3f} [{v[1]:+.3f}, {v[2]:+.3f}]" for m, v in d.items()))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", required=True, help="model name or encoder directory (repeatable)")
    ap.add_argument("--exemplars", default="configs/detector/default.yaml")
    ap.add_argument("--rule", default="logistic")
    ap.add_argument("--threshold", default="fpr", choices=("fpr", "f1"))
    ap.add_argument("--target-fpr", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save-dir", default=None, help="also save each detector directory here")
    ap.add_argument("--json", default=None, help="write the figures (and per-prompt scores) as JSON here")
    ap.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples for the paired differences")
    args = ap.parse_args(argv)
    t = time.time()
    results = [measure(m, args.exemplars, args.rule, args.threshold, args.target_fpr, args.seed, args.save_dir)
               for m in args.model]
    target = f"FPR <= {args.target_fpr:.2f}" if args.threshold == "fpr" else "best F1"
    print(f"rule {args.rule}, threshold for {target} on the calibration split ({args.exemplars})")
    print_table(results)
    paired = print_paired(results, args.n_boot, args.seed) if len(results) > 1 else {}
    print(f"({time.time() - t:.0f}s)", file=sys.stderr)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"detectors": results, "paired": paired}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
