"""Category quality of an existing detector, without fitting: per set, category accuracy among the categorised unsafe
prompts it flags (its reported category, and the argmax of its category scores) and macro-F1, on the sets whose
categories the taxonomy maps (``detector_quality.CATEGORY_SETS``; ``--split val``: their val splits), splits as the
detector's data assigned them. Also prints the detector's recorded category inference (coverage, accuracy).

    python bench/category_quality.py                          # the default detector (bench/results/detector_minilm)
    python bench/category_quality.py --detector DIR --split val

Writes ``bench/results/category_quality.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ensure_detector, machine, write_json
from detector_quality import CATEGORY_SETS, CATEGORY_VAL_SETS, category_markdown, category_quality


def inference_line(report: dict) -> str:
    """One line on the detector's category inference (its manifest's ``provenance.category_inference``)."""
    if not report:
        return "category inference: none recorded (a detector built before it)"
    if report.get("skipped"):
        return f"category inference: skipped ({report['skipped']})"
    loo, cal = report["leave_one_out"], report["calibration"]
    return (f"category inference ({report['method']}, min share {report['min_share']}): {report['n_inferred']} of "
            f"{report['n_uncategorised']} uncategorised unsafe exemplars given a category (coverage "
            f"{report['coverage']:.3f}); accuracy leave-one-out {loo['accuracy']:.3f} on {loo['n']} categorised "
            f"exemplars (coverage {loo['coverage']:.3f}), {cal['accuracy']:.3f} on {cal['n']} categorised "
            f"calibration prompts (coverage {cal['coverage']:.3f}); calibration accuracy with the inferred voting "
            f"{report['calibration_accuracy_inferred_voting']:.3f}, without "
            f"{report['calibration_accuracy_inferred_not_voting']:.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detector", default=None, help="detector directory (default: bench/results/detector_minilm)")
    ap.add_argument("--split", choices=("test", "val"), default="test")
    ap.add_argument("--out", default=None, help="JSON path (default bench/results/category_quality.json)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from safe_embed.detector import Detector

    path = ensure_detector(args.detector)
    det = Detector.load(path)
    sets = CATEGORY_SETS if args.split == "test" else CATEGORY_VAL_SETS
    results = category_quality(det, sets)
    report = det.provenance.get("category_inference") or {}
    row = path.name
    print(category_markdown({"0": {row: results}}, [row], [0], sets))
    print(inference_line(report))
    write_json(args.out, "category_quality", {"detector": str(path), "split": args.split, "sets": sets,
                                              "categories": det.categories, "results": results,
                                              "category_inference": report, "machine": machine()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
