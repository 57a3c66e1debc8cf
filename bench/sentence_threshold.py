"""Choosing the sentence threshold on val: recall and FPR of padded prompts, and the FPR of real traffic, when one
sentence read alone decides from each candidate threshold (``--which last``: when the last sentence does, the
others deciding from the detector's own sentence threshold; ``--which first``: the same for the first sentence;
``--which window``: when a window after the first decides only with a sentence inside it scoring the threshold,
the sentences at the detector's own thresholds).

The prompts are the robustness bench's, on the val split (``bench/robustness.py --split val``: the same sample,
filler prose and rewrites); the real traffic is the val split of ToxicChat, GuardReasoner, Arena-Hard, CoCoNot-pref
and Alpaca (``--split test``: the test splits, to report a threshold chosen on val against ``off``). Every prompt
is prepared and scored once (its views, windows and sentences), then combined for each threshold (``off``:
sentences never decide; with ``--which last`` or ``first``, that sentence is judged like the others; with
``--which window``, every window decides alone), so each row differs from ``off`` by that rule alone.

    python bench/sentence_threshold.py --detector DIR            # 150 unsafe / 160 safe per rewrite
    python bench/sentence_threshold.py --detector DIR --which last --out bench/results/last_sentence_sN.json
    python bench/sentence_threshold.py --detector DIR --which first --out bench/results/first_sentence_sN.json
    python bench/sentence_threshold.py --detector DIR --which first --split test   # the chosen bar against off
    python bench/sentence_threshold.py --detector DIR --which window --out bench/results/window_sentence_sN.json
    python bench/sentence_threshold.py --detector DIR --quick    # 30 / 32, one real-traffic set
    python bench/sentence_threshold.py --merge A.json B.json C.json --out M.json   # mean ± sd over detectors

Prints one table per rewrite and set, and writes ``bench/results/sentence_threshold.json`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import robustness as rb
from _common import data_dir, ensure_detector, machine, table, write_json

SENTENCE_SWEEP = (None, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)
THRESHOLDS = {"sentence": SENTENCE_SWEEP, "last": SENTENCE_SWEEP, "first": SENTENCE_SWEEP,
              "window": (None, 0.3, 0.4, 0.5)}
REWRITES = ("none", "prefix_150", "prefix_300", "prefix_1000", "suffix_150", "jailbreak_frame")
TRAFFIC = ("toxicchat-train:val", "guardreasoner-train:val", "arena-hard:val", "coconot-pref:val", "alpaca:val",
           "cyberseceval:val", "wrapped:val", "prefaced:val")


def flagged_by_threshold(det, texts: list[str], which: str = "sentence") -> tuple[dict, dict]:
    """Threshold -> flagged (n,) for ``texts``, from one pass over their units (``which``: every sentence decides
    from the threshold; only the last one, the others from the detector's sentence threshold; or a later window
    needs a sentence scoring the threshold, the sentences at the detector's thresholds); and the units' counts and
    characters, all and sentences only (what the sentences add to the encoder's work)."""
    from safe_embed.detector.coverage_verdict import combine

    out = {t: [] for t in THRESHOLDS[which]}
    s = det.settings
    bars = {"sentence": lambda t: (t, None, s.window_sentence_threshold, None),
            "last": lambda t: (s.sentence_threshold, t, s.window_sentence_threshold, s.first_sentence_threshold),
            "first": lambda t: (s.sentence_threshold, s.last_sentence_threshold, s.window_sentence_threshold, t),
            "window": lambda t: (s.sentence_threshold, s.last_sentence_threshold, t, s.first_sentence_threshold)
            }[which]
    work = {"units": 0, "sentence_units": 0, "chars": 0, "sentence_chars": 0}
    bs = det.settings.batch_size
    for start in range(0, len(texts), bs):
        prepared = det.prepare_classify(texts[start:start + bs])
        units = det.unit_detections(prepared)
        for t in THRESHOLDS[which]:
            out[t] += [d.label == "unsafe" for d in combine(prepared, units, *bars(t))]
        for u in prepared.units:
            sentence = u.sentence is not None
            work["units"] += 1
            work["chars"] += len(u.body)
            work["sentence_units"] += sentence
            work["sentence_chars"] += len(u.body) if sentence else 0
    return {t: np.array(v) for t, v in out.items()}, work


def rates(flags: dict, y: np.ndarray) -> list[dict]:
    return [{"threshold": "off" if t is None else t,
             "recall": float(f[y].mean()) if y.any() else None, "fpr": float(f[~y].mean())}
            for t, f in flags.items()]


def merge(paths: list[str]) -> dict:
    """Set -> threshold -> recall and FPR, each ``{"mean", "sd", "by_seed"}``, over the runs at ``paths`` (one
    detector each, the same sweep); refuses runs of different sweeps or samples."""
    runs = [json.loads(Path(p).read_text()) for p in paths]
    keys = {(r.get("which", "sentence"), r["split"], r["n_unsafe"], r["n_safe"]) for r in runs}
    if len(keys) > 1:
        raise SystemExit(f"error: the runs differ in sweep, split or size: {sorted(keys)}. Fix: merge runs of one "
                         "bench command that differ only in --detector.")
    stat = lambda v: None if any(x is None for x in v) else {"mean": float(np.mean(v)), "sd": float(np.std(v)),
                                                             "by_seed": v}
    results = {}
    for name in (n for n in runs[0]["results"] if all(n in r["results"] for r in runs)):
        rows = [r["results"][name] for r in runs]
        results[name] = [{"threshold": row["threshold"], **{k: stat([rr[i][k] for rr in rows]) for k in ("recall", "fpr")}}
                         for i, row in enumerate(rows[0])]
    return {"runs": [str(p) for p in paths], "detectors": [r["detector"] for r in runs], "which": runs[0].get("which"),
            "split": runs[0]["split"], "n_unsafe": runs[0]["n_unsafe"], "n_safe": runs[0]["n_safe"],
            "results": results}


def merged_table(rows: list[dict], which: str) -> str:
    f = lambda s: "" if s is None else f"{s['mean']:.3f} ± {s['sd']:.3f}"
    return table([{f"{which} threshold": r["threshold"], "recall": f(r["recall"]), "FPR": f(r["fpr"])} for r in rows])


def merge_and_report(paths: list[str], out: str | None, name: str) -> None:
    """Merge the runs at ``paths`` (:func:`merge`), print a table per set and write the JSON (``out``, or
    ``bench/results/<name>.json``)."""
    merged = merge(paths)
    for set_name, rows in merged["results"].items():
        print(f"\n{set_name} (mean ± sd over {len(merged['runs'])} detectors)")
        print(merged_table(rows, merged["which"] or "sentence"))
    write_json(out, name, merged)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detector", default=None)
    ap.add_argument("--n-unsafe", type=int, default=150)
    ap.add_argument("--n-safe", type=int, default=160)
    ap.add_argument("--which", choices=tuple(THRESHOLDS), default="sentence",
                    help="sweep every sentence's threshold, the last sentence's, the first sentence's, or the one a "
                         "sentence must reach for a later window to decide (default %(default)s)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--split", choices=("val", "test"), default="val",
                    help="val chooses a threshold; test reports the chosen one against off (default %(default)s)")
    ap.add_argument("--out", default=None, help="JSON path (default bench/results/sentence_threshold.json)")
    ap.add_argument("--merge", nargs="+", metavar="JSON", help="merge runs of this bench (one detector each)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.merge:
        merge_and_report(args.merge, args.out, "sentence_threshold")
        return 0
    from safe_embed.detector import Detector
    from safe_embed.detector.evaluation import named_set_prompts
    from safe_embed.paths import resolve_data_dir

    n_unsafe, n_safe = (30, 32) if args.quick else (args.n_unsafe, args.n_safe)
    t0 = time.time()
    det = Detector.load(ensure_detector(args.detector))
    root = resolve_data_dir(data_dir())
    _, sets, sample = rb.sample_prompts(det, n_unsafe, n_safe, 0, args.split)
    prompts = [p for rows in sample.values() for p in rows]
    y = np.array([p.label == "unsafe" for p in prompts])
    rewrites = rb.standard_rewrites(rb.filler_pool(sets, root), rb.unseen_templates(det, root, args.split))
    results, work = {}, {}
    for name in REWRITES:
        rw = rb.NONE if name == "none" else rewrites[name]
        flags, work[name] = flagged_by_threshold(det, [rw(p.text, 0) for p in prompts], args.which)
        results[name] = rates(flags, y)
    for name in (f"{t.rsplit(':', 1)[0]}:{args.split}" for t in (TRAFFIC[:1] if args.quick else TRAFFIC)):
        ps = named_set_prompts(det, name, data_dir=data_dir())
        flags, work[name] = flagged_by_threshold(det, [p.text for p in ps], args.which)
        results[name] = rates(flags, np.array([p.label == "unsafe" for p in ps]))
    for name, rows in results.items():
        w = work[name]
        print(f"\n{name}: sentences are {w['sentence_units']} of {w['units']} units, "
              f"{w['sentence_chars'] / max(w['chars'], 1):.0%} of the characters read")
        print(table([{f"{args.which} threshold": r["threshold"],
                      "recall": "" if r["recall"] is None else f"{r['recall']:.3f}", "FPR": f"{r['fpr']:.3f}"}
                     for r in rows]))
    write_json(args.out, "sentence_threshold",
               {"detector": str(det.provenance.get("model")), "which": args.which,
                "sentence_threshold": det.settings.sentence_threshold, "split": args.split, "n_unsafe": n_unsafe,
                "n_safe": n_safe, "results": results, "work": work, "seconds": round(time.time() - t0, 1),
                "machine": machine()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
