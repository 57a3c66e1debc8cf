"""Behaviour unchanged: the default evaluation's metrics and the default detector's XSTest scores, recorded once
and compared exactly after a change.

    python bench/behaviour_check.py --record bench/results/behaviour.json   # before a refactor
    python bench/behaviour_check.py --check bench/results/behaviour.json    # after it: exit 1 on any difference

The default evaluation is ``safe-embed evaluate`` on all-MiniLM-L6-v2 (its metrics.json); the default detector is
``safe-embed export`` with the default data on the same encoder, scored on the 450 XSTest prompts (label, score
rounded to 1e-9, category). Labels, categories and the metrics' keys must be identical; numbers may differ by at
most ``TOLERANCE`` (float sums differ in their last digits between CPUs: 8e-7 was seen between an AVX2 EPYC and an
AVX-512 Xeon on the same code).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data_dir  # noqa: E402

TOLERANCE = 1e-6


def measure() -> dict:
    from safe_embed.data import load_labelled
    from safe_embed.detector import Detector

    with tempfile.TemporaryDirectory() as tmp:
        extra = ["--data-dir", data_dir()] if data_dir() else []
        subprocess.run([sys.executable, "-m", "safe_embed.cli", "evaluate", "--no-tsne", "--out", f"{tmp}/ev",
                        *extra], check=True, stdout=subprocess.DEVNULL)
        metrics = json.loads(Path(f"{tmp}/ev/metrics.json").read_text())
        subprocess.run([sys.executable, "-m", "safe_embed.cli", "export", "--out", f"{tmp}/det", *extra], check=True,
                       stdout=subprocess.DEVNULL)
        det = Detector.load(f"{tmp}/det")
        texts = [p.text for p in load_labelled("xstest", data_dir())]
        scores = [[d.label, round(d.score, 9), d.category] for d in det.classify(texts)]
    return {"metrics": metrics, "xstest": scores}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--record", metavar="FILE")
    g.add_argument("--check", metavar="FILE")
    args = ap.parse_args()
    now = measure()
    if args.record:
        Path(args.record).parent.mkdir(parents=True, exist_ok=True)
        Path(args.record).write_text(json.dumps(now, indent=1) + "\n")
        print(f"recorded {args.record}")
        return 0
    ref = json.loads(Path(args.check).read_text())
    same_metrics = same(ref["metrics"], now["metrics"])
    diff = [i for i, (a, b) in enumerate(zip(ref["xstest"], now["xstest"], strict=True)) if not same(a, b)]
    gap = max(abs(a[1] - b[1]) for a, b in zip(ref["xstest"], now["xstest"], strict=True))
    print(f"metrics.json the same (within {TOLERANCE:g}): {same_metrics}")
    print(f"XSTest detections the same: {not diff} ({len(diff)} of {len(now['xstest'])} differ; "
          f"largest score gap {gap:.2e})")
    return 0 if same_metrics and not diff else 1


def same(a, b) -> bool:
    """Equal structure, equal strings and labels, numbers within ``TOLERANCE``.

    >>> same({"x": [1.0, "a"]}, {"x": [1.0 + 5e-7, "a"]}), same([0.1], [0.2]), same(["safe"], ["unsafe"])
    (True, False, False)
    """
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (int, float)) and not isinstance(a, bool):
        return isinstance(b, (int, float)) and not isinstance(b, bool) and abs(a - b) <= TOLERANCE
    return a == b


if __name__ == "__main__":
    sys.exit(main())
