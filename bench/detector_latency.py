"""Detector latency: one prompt (p50/p95/p99) and batches of 64 (texts/s), and the share spent outside the encoder.

    python bench/detector_latency.py [--detector DIR] [--n-single 300] [--rounds 3] [--out bench/results/...json]

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

from _common import ensure_detector, machine, pct, prompts, table, write_json


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detector", default=None)
    ap.add_argument("--n-single", type=int, default=300, help="single-prompt calls timed (default 300)")
    ap.add_argument("--rounds", type=int, default=3, help="passes over the 450 prompts in batches of 64")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)

    import torch

    from safe_embed.detector import Detector
    from safe_embed.detector import index as ix

    if args.threads:
        torch.set_num_threads(args.threads)
    det = Detector.load(ensure_detector(args.detector))
    texts = prompts()
    enc_t, faiss_t = Timer(), Timer()
    det.encoder.encode = enc_t.wrap(det.encoder.encode)
    ix.search = faiss_t.wrap(ix.search)
    det.classify(texts[:64])  # load the model, warm the allocator
    for t in texts[:20]:
        det.classify([t])

    single, single_enc, single_faiss = [], [], []
    for i in range(args.n_single):
        e0, f0 = enc_t.total, faiss_t.total
        t0 = time.perf_counter()
        det.classify([texts[i % len(texts)]])
        single.append(time.perf_counter() - t0)
        single_enc.append(enc_t.total - e0)
        single_faiss.append(faiss_t.total - f0)
    ms = lambda xs, q: 1000 * pct(xs, q)
    outside = [s - e for s, e in zip(single, single_enc, strict=True)]
    one = {"n": args.n_single, "p50_ms": ms(single, 50), "p95_ms": ms(single, 95), "p99_ms": ms(single, 99),
           "mean_ms": 1000 * sum(single) / len(single), "encoder_p50_ms": ms(single_enc, 50),
           "outside_encoder_p50_ms": ms(outside, 50), "faiss_p50_ms": ms(single_faiss, 50),
           "outside_encoder_share": sum(outside) / sum(single)}

    e0, f0, n = enc_t.total, faiss_t.total, 0
    t0 = time.perf_counter()
    for _ in range(args.rounds):
        for s in range(0, len(texts), args.batch):
            n += len(det.classify(texts[s:s + args.batch]))
    wall = time.perf_counter() - t0
    enc, fs = enc_t.total - e0, faiss_t.total - f0
    batch = {"batch": args.batch, "texts": n, "seconds": wall, "texts_per_s": n / wall,
             "encoder_texts_per_s": n / enc, "outside_encoder_share": (wall - enc) / wall, "faiss_share": fs / wall}

    rows = [{"case": "1 prompt", "p50 ms": one["p50_ms"], "p95 ms": one["p95_ms"], "p99 ms": one["p99_ms"],
             "encoder p50 ms": one["encoder_p50_ms"], "faiss p50 ms": one["faiss_p50_ms"],
             "outside-encoder share": one["outside_encoder_share"]},
            {"case": f"batch {args.batch}", "texts/s": batch["texts_per_s"],
             "encoder-only texts/s": batch["encoder_texts_per_s"], "faiss share": batch["faiss_share"],
             "outside-encoder share": batch["outside_encoder_share"]}]
    print(table(rows, ["case", "p50 ms", "p95 ms", "p99 ms", "encoder p50 ms", "faiss p50 ms", "texts/s",
                       "encoder-only texts/s", "faiss share", "outside-encoder share"]))
    print(f"\nacceptance 3: p50 {one['p50_ms']:.2f} ms (< 15), outside-encoder share "
          f"{100 * one['outside_encoder_share']:.1f}% (< 10%)")
    write_json(args.out, "detector_latency", {
        "detector": str(ensure_detector(args.detector)), "exemplars": {"unsafe": len(det.unsafe),
                                                                        "safe": len(det.safe)},
        "single": one, "batched": batch, "machine": machine()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
