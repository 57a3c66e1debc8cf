"""``safe-embed evaluate-detector``: AUROC, AUPRC, P/R/F1/FPR at the stored threshold, TPR@FPR, per-type table."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate-detector", help="measure a detector on labelled prompts",
                       description="Classify a labelled set with a detector and write <set>.json, <set>.md and "
                                   "<set>_roc.png. Sets: xstest, xstest-aug, jbb, oktest, do-not-answer, "
                                   "safety-contrast, advbench, the held-out dna-test, jbb-heldout, oktest-heldout, "
                                   "beavertails (BeaverTails 30k_test, one row per prompt), or a labelled "
                                   ".jsonl/.csv file.")
    p.add_argument("detector", metavar="DETECTOR_DIR")
    p.add_argument("--dataset", action="append", required=True, metavar="NAME_OR_FILE", help="repeatable")
    p.add_argument("--split", default="all", choices=("all", "train", "val", "test"),
                   help="restrict a split set (jbb, oktest, do-not-answer, safety-contrast) to one split")
    p.add_argument("--out", default=None, help="report directory (default results/detector_eval/<detector>)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--seed", type=int, default=None, help="split seed (default: the detector's)")
    p.add_argument("--cache", action="store_true", help="use the embedding cache")
    p.add_argument("--device", default=None)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from safe_embed.detector import Detector
    from safe_embed.detector.evaluation import evaluate_detector
    from safe_embed.detector.exemplars import load_eval_set
    from safe_embed.detector.report import to_markdown, write_report

    det = Detector.load(args.detector, cache=args.cache, device=args.device)
    seed = args.seed if args.seed is not None else det.settings.seed
    out = Path(args.out) if args.out else Path("results") / "detector_eval" / Path(args.detector).resolve().name
    for name in args.dataset:
        prompts = load_eval_set(name, seed=seed, data_dir=args.data_dir, split=args.split)
        ev = evaluate_detector(det, prompts, name)
        if ev.exemplar_overlap:
            logger.warning("%d prompts of %s are exemplars of this detector; use a held-out split "
                           "(e.g. --dataset jbb-heldout)", ev.exemplar_overlap, name)
        stem = Path(name).stem + ("" if args.split == "all" else f"_{args.split}")
        paths = write_report(ev, out, stem)
        print(to_markdown(ev))
        print("written: " + ", ".join(str(p) for p in paths) + "\n")
    return 0
