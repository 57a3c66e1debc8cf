"""``safe-embed evaluate-detector``: AUROC, AUPRC, P/R/F1/FPR at the stored threshold, TPR@FPR, per-type table."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from safe_embed.commands.options import add_backend

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate-detector", help="measure a detector on labelled prompts",
                       description="Classify a labelled set with a detector and write <set>.json, <set>.md and "
                                   "<set>_roc.png. A set is a registered name (xstest, jbb, guardreasoner-train, "
                                   "alpaca, ...), NAME:SPLIT for one split as the detector's data assigned it "
                                   "(e.g. guardreasoner-train:test), an alias (dna-test, oktest-heldout, "
                                   "jbb-heldout, beavertails), a labelled .csv/.jsonl/.json file, or a source "
                                   "spec in YAML ('{path: my.csv, text: prompt, label: harmful}').")
    p.add_argument("detector", metavar="DETECTOR_DIR")
    p.add_argument("--dataset", action="append", required=True, metavar="SET", help="repeatable")
    p.add_argument("--split", default=None, choices=("all", "train", "val", "test"),
                   help="one split of every --dataset (same as NAME:SPLIT)")
    p.add_argument("--out", default=None, help="report directory (default results/detector_eval/<detector>)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--cache", action="store_true", help="use the embedding cache")
    p.add_argument("--device", default=None)
    add_backend(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from safe_embed.detector import Detector
    from safe_embed.detector.evaluation import evaluate_named_set
    from safe_embed.detector.report import to_markdown, write_report

    det = Detector.load(args.detector, cache=args.cache, device=args.device, backend=args.backend)
    out = Path(args.out) if args.out else Path("results") / "detector_eval" / Path(args.detector).resolve().name
    for name in args.dataset:
        ev = evaluate_named_set(det, name, split=args.split, data_dir=args.data_dir)
        if ev.exemplar_overlap:
            logger.warning("%d prompts of %s are exemplars of this detector; use a held-out split "
                           "(e.g. --dataset NAME:test)", ev.exemplar_overlap, name)
        stem = Path(name).stem if Path(name).suffix else ev.dataset.replace(":", "_").replace("/", "_")
        paths = write_report(ev, out, stem)
        print(to_markdown(ev), file=args.stdout)
        print("written: " + ", ".join(str(p) for p in paths) + "\n", file=args.stdout)
    return 0
