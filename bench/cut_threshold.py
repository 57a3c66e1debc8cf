"""Choosing the guard's bar for half a sentence on val: recall and FPR of the two-turn rewrites when a message that
one sentence cut in two spans (``guard_prompts.cut_messages``) blocks alone only from each candidate score
(``off``: from the detector's threshold, like any message).

The prompts are the robustness bench's, on the val split (``bench/robustness.py --split val``: the same sample and
rewrites; ``--split test`` reports the chosen bar against off). Every conversation's texts are classified once
(each message, the joined turns, the seams), then decided at each bar, so each row differs from ``off`` by that
rule alone; ``none`` is the unrewritten prompts, scored alone.

    python bench/cut_threshold.py --detector DIR --out bench/results/cut_threshold_sN.json   # 300 / 325 per rewrite
    python bench/cut_threshold.py --detector DIR --split test --out bench/results/cut_threshold_test_sN.json
    python bench/cut_threshold.py --merge A.json B.json C.json --out M.json   # mean ± sd over detectors

Prints one table per rewrite, and writes ``bench/results/cut_threshold.json`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import robustness as rb
from _common import data_dir, ensure_detector, machine, table, write_json
from sentence_threshold import merge_and_report, rates

BARS = (None, 0.7, 0.8, 0.9, 0.95)
REWRITES = ("split_turns", "split_turns_framed", "code_word_turns", "after_a_turn")


def blocked_by_bar(det, conversations: list) -> dict:
    """Bar -> blocked (n,) for ``conversations``, each classified once."""
    from safe_embed.guard_prompts import blocks, cut_messages, prompt_parts

    out = {b: [] for b in BARS}
    for messages in conversations:
        parts = prompt_parts(messages)
        wheres = [w for w, _ in parts]
        cut = cut_messages(wheres)
        ds = det.classify([t for _, t in parts])
        for bar in BARS:
            out[bar].append(any(d.label == "unsafe" and d.score >= bar if w in cut and bar is not None
                                else blocks(d, w) for w, d in zip(wheres, ds, strict=True)))
    return {b: np.array(v) for b, v in out.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detector", default=None)
    ap.add_argument("--n-unsafe", type=int, default=300)
    ap.add_argument("--n-safe", type=int, default=325)
    ap.add_argument("--split", choices=("val", "test"), default="val",
                    help="val chooses a bar; test reports the chosen one against off (default %(default)s)")
    ap.add_argument("--out", default=None, help="JSON path (default bench/results/cut_threshold.json)")
    ap.add_argument("--merge", nargs="+", metavar="JSON", help="merge runs of this bench (one detector each)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.merge:
        merge_and_report(args.merge, args.out, "cut_threshold")
        return 0
    from safe_embed.detector import Detector
    from safe_embed.paths import resolve_data_dir

    t0 = time.time()
    det = Detector.load(ensure_detector(args.detector))
    root = resolve_data_dir(data_dir())
    _, sets, sample = rb.sample_prompts(det, args.n_unsafe, args.n_safe, 0, args.split)
    prompts = [p for rows in sample.values() for p in rows]
    y = np.array([p.label == "unsafe" for p in prompts])
    alone = np.array([d.label == "unsafe" for d in det.classify([p.text for p in prompts])])
    results = {"none": rates({b: alone for b in BARS}, y)}
    rewrites = rb.standard_rewrites(rb.filler_pool(sets, root), rb.unseen_templates(det, root, args.split))
    for name in REWRITES:
        results[name] = rates(blocked_by_bar(det, [rewrites[name](p.text, 0) for p in prompts]), y)
    for name, rows in results.items():
        print(f"\n{name}")
        print(table([{"cut threshold": r["threshold"], "recall": f"{r['recall']:.3f}", "FPR": f"{r['fpr']:.3f}"}
                     for r in rows]))
    write_json(args.out, "cut_threshold",
               {"detector": str(det.provenance.get("model")), "which": "cut", "split": args.split,
                "n_unsafe": args.n_unsafe, "n_safe": args.n_safe, "results": results,
                "seconds": round(time.time() - t0, 1), "machine": machine()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
