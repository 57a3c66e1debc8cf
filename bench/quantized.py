"""A faster CPU path: int8 dynamic quantization of the encoder's Linear layers, speed and XSTest F1 side by side.

    python bench/quantized.py [--detector DIR] [--rebuild] [--single 100] [--out ...json]

Variants of the same detector (default: the MiniLM one from configs/detector/default.yaml):
  fp32       as exported;
  int8-query the encoder's nn.Linear layers quantized with ``torch.ao.quantization.quantize_dynamic`` (qint8
             weights, activations quantized on the fly) for the prompts only; the exemplar index stays fp32, so an
             existing detector directory is reused as is;
  int8-all   (--rebuild) exemplars re-embedded and the rule recalibrated with the int8 encoder.
For each: batch-64 texts/s over XSTest's 450 prompts (the same pass gives F1, precision, recall, FPR at the stored
threshold, and AUROC), one-prompt p50 latency, and the mean cosine between fp32 and int8 prompt embeddings.
ONNX Runtime is not a dependency; this script sticks to torch.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import data_dir, ensure_detector, machine, pct, table, write_json


def quantize(det) -> None:
    """Swap the detector's encoder model for an int8 dynamically quantized copy (in place)."""
    import warnings

    import torch
    from torch.ao.quantization import quantize_dynamic

    inner = det.encoder
    with warnings.catch_warnings():  # torch.ao.quantization is deprecated in favour of torchao (not installed)
        warnings.simplefilter("ignore")
        inner._model = quantize_dynamic(inner.model, {torch.nn.Linear}, dtype=torch.qint8)


def measure(name: str, det, prompts, n_single: int) -> dict:
    from safe_embed.detector.calibration import detection_metrics

    texts = [p.text for p in prompts]
    det.classify(texts[:64])
    t0 = time.perf_counter()
    dets = [d for s in range(0, len(texts), 64) for d in det.classify(texts[s:s + 64])]
    rate = len(texts) / (time.perf_counter() - t0)
    single = []
    for i in range(n_single):
        t0 = time.perf_counter()
        det.classify([texts[i % len(texts)]])
        single.append(time.perf_counter() - t0)
    y = np.array([p.is_unsafe for p in prompts], int)
    m = detection_metrics(y, np.array([d.score for d in dets]), det.calibration.threshold)
    return {"variant": name, "batch64 texts/s": rate, "single p50 ms": 1000 * pct(single, 50),
            "f1": m["f1"], "precision": m["precision"], "recall": m["recall"], "fpr": m["fpr"],
            "auroc": m.get("auroc", float("nan")), "threshold": det.calibration.threshold}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detector", default=None)
    ap.add_argument("--rebuild", action="store_true", help="also re-embed exemplars and recalibrate with int8")
    ap.add_argument("--exemplars", default="configs/detector/default.yaml", help="exemplar config for --rebuild")
    ap.add_argument("--single", type=int, default=100)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)

    from safe_embed.data import load_labelled
    from safe_embed.detector import Detector
    from safe_embed.encoders.base import l2_normalize

    path = ensure_detector(args.detector)
    prompts = load_labelled("xstest", data_dir())
    texts = [p.text for p in prompts]
    fp32 = Detector.load(path)
    rows = [measure("fp32", fp32, prompts, args.single)]
    e32 = l2_normalize(fp32.encoder.encode(texts))
    q = Detector.load(path)
    quantize(q)
    rows.append(measure("int8-query", q, prompts, args.single))
    e8 = l2_normalize(q.encoder.encode(texts))
    agreement = float(np.mean(np.sum(e32 * e8, axis=1)))
    if args.rebuild:
        full = Detector.build(q.encoder, args.exemplars, rule=replace(fp32.rule, weights=[]),
                              method=fp32.calibration.method or "fpr",
                              target_fpr=fp32.calibration.target_fpr or 0.05, settings=fp32.settings,
                              data_dir=data_dir())
        rows.append(measure("int8-all", full, prompts, args.single))
    base = rows[0]
    for r in rows:
        r["speed-up batch"] = r["batch64 texts/s"] / base["batch64 texts/s"]
        r["speed-up single"] = base["single p50 ms"] / r["single p50 ms"]
    print(table(rows, ["variant", "batch64 texts/s", "speed-up batch", "single p50 ms", "speed-up single", "f1",
                       "precision", "recall", "fpr", "auroc"]))
    print(f"\nmean cosine(fp32, int8) of XSTest prompt embeddings: {agreement:.4f}")
    write_json(args.out, "quantized", {"detector": str(path), "rows": rows, "embedding_cosine": agreement,
                                       "machine": machine()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
