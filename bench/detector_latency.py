"""Detector latency: one prompt (p50/p95/p99) and batches of 64 (texts/s), and the share spent outside the encoder,
for each encoder runtime side by side (torch fp32, ONNX fp32, ONNX int8), optionally with each one's quality.

    python bench/detector_latency.py [--detector DIR] [--onnx int8] [--quality] [--n-single 300] [--rounds 3]
    python bench/detector_latency.py --build RUN_DIR --onnx int8 --quality       # the trained 22M detector
    python bench/detector_latency.py --build mpnet --onnx int8 --quality         # all-mpnet-base-v2 (sbert-all)
    python bench/detector_latency.py --onnx int8 --quick                         # a smoke run

The detector defaults to the MiniLM one built from configs/detector/default.yaml (built once into
bench/results/detector_minilm). Prompts are XSTest's 450 real questions. The encoder's share is timed by wrapping
``detector.encoder.encode`` (tokenizing + forward + pooling); everything else in ``classify`` (L2 norm, two FAISS
searches, scoring, neighbours, Python) is "outside the encoder". FAISS search time is reported on its own.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _backends import add_arguments, backends_of, prepare, quality
from _common import machine, pct, prompts, table, write_json


class Timer:
    """Accumulates the wall time of calls to a wrapped function."""

    def __init__(self) -> None:
        self.total = 0.0

    def wrap(self, fn):
        @functools.wraps(fn)
        def timed(*a, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                self.total += time.perf_counter() - t0
        return timed


def measure(det, texts: list[str], n_single: int, rounds: int, batch_size: int) -> tuple[dict, dict]:
    """One-prompt latency and batched throughput of ``det``, with the encoder's and FAISS's shares."""
    from safe_embed.detector import index as ix

    enc_t, faiss_t = Timer(), Timer()
    encode, search = det.encoder.encode, ix.search
    det.encoder.encode = enc_t.wrap(encode)
    ix.search = faiss_t.wrap(search)
    try:
        det.classify(texts[:64])  # load the model, warm the allocator
        for t in texts[:20]:
            det.classify([t])
        single, single_enc, single_faiss = [], [], []
        for i in range(n_single):
            e0, f0 = enc_t.total, faiss_t.total
            t0 = time.perf_counter()
            det.classify([texts[i % len(texts)]])
            single.append(time.perf_counter() - t0)
            single_enc.append(enc_t.total - e0)
            single_faiss.append(faiss_t.total - f0)
        e0, f0, n = enc_t.total, faiss_t.total, 0
        t0 = time.perf_counter()
        for _ in range(rounds):
            for s in range(0, len(texts), batch_size):
                n += len(det.classify(texts[s:s + batch_size]))
        wall = time.perf_counter() - t0
    finally:
        det.encoder.encode, ix.search = encode, search
    ms = lambda xs, q: 1000 * pct(xs, q)
    outside = [s - e for s, e in zip(single, single_enc, strict=True)]
    one = {"n": n_single, "p50_ms": ms(single, 50), "p95_ms": ms(single, 95), "p99_ms": ms(single, 99),
           "mean_ms": 1000 * sum(single) / len(single), "encoder_p50_ms": ms(single_enc, 50),
           "outside_encoder_p50_ms": ms(outside, 50), "faiss_p50_ms": ms(single_faiss, 50),
           "outside_encoder_share": sum(outside) / sum(single)}
    enc, fs = enc_t.total - e0, faiss_t.total - f0
    batch = {"batch": batch_size, "texts": n, "seconds": wall, "texts_per_s": n / wall,
             "encoder_texts_per_s": n / enc, "outside_encoder_share": (wall - enc) / wall, "faiss_share": fs / wall}
    return one, batch


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(ap)
    ap.add_argument("--n-single", type=int, default=300, help="single-prompt calls timed (default 300)")
    ap.add_argument("--rounds", type=int, default=3, help="passes over the 450 prompts in batches of 64")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=None, help="intra-op threads of torch and ONNX Runtime")
    ap.add_argument("--quality", action="store_true", help="also AUROC/F1 of each backend on XSTest, JBB and the "
                                                           "guardreasoner-train test split")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 64 prompts, 20 single calls, 1 round")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)

    import torch

    from safe_embed.detector import Detector

    if args.threads:
        torch.set_num_threads(args.threads)
    path = prepare(args)
    texts = prompts()
    if args.quick:
        texts, args.n_single, args.rounds = texts[:64], 20, 1
    rows, results = [], {}
    for backend in backends_of(path, args.backends):
        det = Detector.load(path, backend=backend, num_threads=args.threads)
        one, batch = measure(det, texts, args.n_single, args.rounds, args.batch)
        results[backend] = {"single": one, "batched": batch, "threshold": det.calibration.threshold}
        row = {"backend": backend, "p50 ms": one["p50_ms"], "p95 ms": one["p95_ms"], "p99 ms": one["p99_ms"],
               "encoder p50 ms": one["encoder_p50_ms"], "1-prompt outside share": one["outside_encoder_share"],
               f"batch-{args.batch} texts/s": batch["texts_per_s"],
               "batch outside share": batch["outside_encoder_share"]}
        if args.quality:
            q = quality(det)
            results[backend]["quality"] = q
            row.update({f"{name.split(':')[0][:6]} {m}": v[m] for name, v in q.items() for m in ("auroc", "f1")})
        rows.append(row)
        del det
    cols = list(dict.fromkeys(k for r in rows for k in r))
    print(table(rows, cols))
    if "torch" in results:
        base = results["torch"]["batched"]["texts_per_s"]
        for b, r in results.items():
            print(f"{b}: p50 {r['single']['p50_ms']:.2f} ms, batch throughput {r['batched']['texts_per_s'] / base:.2f}x"
                  " torch" + (f", XSTest AUROC {r['quality']['xstest']['auroc'] - results['torch']['quality']['xstest']['auroc']:+.4f}"
                              f" F1 {r['quality']['xstest']['f1'] - results['torch']['quality']['xstest']['f1']:+.4f} vs torch"
                              if args.quality and 'xstest' in r.get('quality', {}) else ""))
    write_json(args.out, "detector_latency", {
        "detector": str(path), "backends": results, "quick": args.quick, "machine": machine()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
