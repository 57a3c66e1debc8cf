"""Learning without retraining: per XSTest-aug type, add the unsafe prompts of the first
half as exemplars and measure recall on the unsafe prompts of the other half (and FPR on their safe twins).

    python bench/detector_add_exemplars.py DETECTOR_DIR

The detector directory is read, never written: each type starts again from the saved detector.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from safe_embed.data import load_xstest_aug
from safe_embed.detector import Detector


def _rate(det: Detector, texts: list[str]) -> float:
    return float(np.mean([d.label == "unsafe" for d in det.classify(texts)]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("detector")
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    base = Detector.load(args.detector, cache=True)
    pairs = load_xstest_aug(args.data_dir)
    print(f"{'type':<22} {'n_add':>5} {'recall before':>14} {'recall after':>13} {'twin FPR before':>16} "
          f"{'twin FPR after':>15}")
    tot = np.zeros(4)
    types = list(dict.fromkeys(p.type for p in pairs))
    for ty in types:
        ps = [p for p in pairs if p.type == ty]
        first, second = ps[: len(ps) // 2], ps[len(ps) // 2:]
        det = Detector.load(args.detector, cache=True)
        unsafe, safe = [p.unsafe for p in second], [p.safe for p in second]
        row = [_rate(det, unsafe), 0.0, _rate(det, safe), 0.0]
        det.add([p.unsafe for p in first], ["unsafe"] * len(first), [f"xstest-aug:{ty}"] * len(first))
        row[1], row[3] = _rate(det, unsafe), _rate(det, safe)
        tot += row
        print(f"{ty:<22} {len(first):>5} {row[0]:>14.3f} {row[1]:>13.3f} {row[2]:>16.3f} {row[3]:>15.3f}")
    tot /= len(types)
    print(f"{'mean':<22} {'':>5} {tot[0]:>14.3f} {tot[1]:>13.3f} {tot[2]:>16.3f} {tot[3]:>15.3f}")
    del base
    return 0


if __name__ == "__main__":
    sys.exit(main())
