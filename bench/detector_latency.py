"""Detector latency: one prompt (p50/p95/p99) and batches of 64 (texts/s), and the share spent outside the encoder,
for each encoder runtime side by side (torch fp32, ONNX fp32, ONNX int8), optionally with each one's quality.

    python bench/detector_latency.py [--detector DIR] [--onnx int8] [--quality] [--n-single 300] [--rounds 5]
    python bench/detector_latency.py --build RUN_DIR --onnx int8 --quality       # the trained 22M detector
    python bench/detector_latency.py --build mpnet --onnx int8 --quality         # all-mpnet-base-v2 (sbert-all)
    python bench/detector_latency.py --onnx int8 --quick                         # a smoke run

The detector defaults to the MiniLM one built from configs/detector/default.yaml (built once into
bench/results/detector_minilm). Prompts are XSTest's 450 real questions. The encoder's share is timed by wrapping
``detector.encoder.encode`` (tokenizing + forward + pooling); everything else in ``classify`` (L2 norm, two FAISS
searches, scoring, neighbours, Python) is "outside the encoder". FAISS search time is reported on its own.
The batched passes alternate between the backends (torch, fp32, int8, torch, ...), so each round's ratio to torch
compares runs a few seconds apart; a backend's rate is the median of its rounds and its ratio the median of the
per-round ratios, with their range.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import numpy as np

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


def instrument(det) -> tuple[Timer, Timer, callable]:
    """Time ``det``'s encoder calls and the FAISS searches; returns the timers and a function that undoes it."""
    from safe_embed.detector import index as ix

    enc_t, faiss_t = Timer(), Timer()
    encode, overflow, search = det.encoder.encode, det.encoder.encode_with_overflow, ix.search
    det.encoder.encode = enc_t.wrap(encode)  # the exemplar and extra-window passes
    det.encoder.encode_with_overflow = enc_t.wrap(overflow)  # the first pass over a batch (it never calls encode)
    ix.search = faiss_t.wrap(search)

    def undo() -> None:
        det.encoder.encode, det.encoder.encode_with_overflow, ix.search = encode, overflow, search
    return enc_t, faiss_t, undo


def measure_single(det, texts: list[str], n_single: int) -> dict:
    """One-prompt latency of ``det`` (after a warm-up), with the encoder's and FAISS's shares."""
    enc_t, faiss_t, undo = instrument(det)
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
    finally:
        undo()
    ms = lambda xs, q: 1000 * pct(xs, q)
    outside = [s - e for s, e in zip(single, single_enc, strict=True)]
    return {"n": n_single, "p50_ms": ms(single, 50), "p95_ms": ms(single, 95), "p99_ms": ms(single, 99),
            "mean_ms": 1000 * sum(single) / len(single), "encoder_p50_ms": ms(single_enc, 50),
            "outside_encoder_p50_ms": ms(outside, 50), "faiss_p50_ms": ms(single_faiss, 50),
            "outside_encoder_share": sum(outside) / sum(single)}


def measure_batched(det, texts: list[str], batch_size: int) -> dict:
    """One pass over ``texts`` in batches of ``batch_size``: texts/s, and the encoder's and FAISS's shares."""
    enc_t, faiss_t, undo = instrument(det)
    try:
        det.classify(texts[:batch_size])  # warm
        e0, f0, n = enc_t.total, faiss_t.total, 0
        t0 = time.perf_counter()
        for s in range(0, len(texts), batch_size):
            n += len(det.classify(texts[s:s + batch_size]))
        wall = time.perf_counter() - t0
    finally:
        undo()
    enc, fs = enc_t.total - e0, faiss_t.total - f0
    return {"batch": batch_size, "texts": n, "seconds": wall, "texts_per_s": n / wall,
            "encoder_texts_per_s": n / enc, "outside_encoder_share": (wall - enc) / wall, "faiss_share": fs / wall}


def summarize_rounds(rounds: list[dict]) -> dict:
    """The median round of a backend's batched passes, with every round's rate."""
    rates = [r["texts_per_s"] for r in rounds]
    mid = sorted(range(len(rounds)), key=lambda i: rates[i])[len(rounds) // 2]
    return {**rounds[mid], "texts_per_s": float(np.median(rates)), "rounds_texts_per_s": rates,
            "texts": sum(r["texts"] for r in rounds), "seconds": sum(r["seconds"] for r in rounds)}


def ratios_to(results: dict, base: str, rounds: dict[str, list[dict]]) -> None:
    """Each backend's batched rate over ``base``'s, round by round (rounds are interleaved, so a round's
    backends saw the same machine), as median and range."""
    for b, rs in rounds.items():
        r = [x["texts_per_s"] / y["texts_per_s"] for x, y in zip(rs, rounds[base], strict=True)]
        results[b]["batched"][f"vs_{base}"] = {"median": float(np.median(r)), "min": min(r), "max": max(r),
                                              "rounds": r}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(ap)
    ap.add_argument("--n-single", type=int, default=300, help="single-prompt calls timed (default 300)")
    ap.add_argument("--rounds", type=int, default=5,
                    help="passes over the 450 prompts in batches of 64, per backend, interleaved across backends "
                         "(the median is reported; default 5)")
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
    backends = backends_of(path, args.backends)
    dets = {b: Detector.load(path, backend=b, num_threads=args.threads) for b in backends}
    results = {b: {"single": measure_single(det, texts, args.n_single), "threshold": det.calibration.threshold}
               for b, det in dets.items()}
    rounds: dict[str, list[dict]] = {b: [] for b in backends}
    for _ in range(args.rounds):  # interleaved: a slow spell of the machine hits every backend alike
        for b, det in dets.items():
            rounds[b].append(measure_batched(det, texts, args.batch))
    rows = []
    for b, det in dets.items():
        one, batch = results[b]["single"], summarize_rounds(rounds[b])
        results[b]["batched"] = batch
        row = {"backend": b, "p50 ms": one["p50_ms"], "p95 ms": one["p95_ms"], "p99 ms": one["p99_ms"],
               "encoder p50 ms": one["encoder_p50_ms"], "1-prompt outside share": one["outside_encoder_share"],
               f"batch-{args.batch} texts/s": batch["texts_per_s"],
               "batch outside share": batch["outside_encoder_share"]}
        if args.quality:
            q = quality(det)
            results[b]["quality"] = q
            row.update({f"{name.split(':')[0][:6]} {m}": v[m] for name, v in q.items() for m in ("auroc", "f1")})
        rows.append(row)
    if "torch" in rounds:
        ratios_to(results, "torch", rounds)
        for row in rows:
            v = results[row["backend"]]["batched"]["vs_torch"]
            row["batch vs torch (min-max)"] = f"{v['median']:.2f}x ({v['min']:.2f}-{v['max']:.2f})"
    del dets
    cols = list(dict.fromkeys(k for r in rows for k in r))
    print(table(rows, cols))
    if "torch" in results:
        for b, r in results.items():
            print(f"{b}: p50 {r['single']['p50_ms']:.2f} ms, batch throughput {r['batched']['vs_torch']['median']:.2f}x"
                  " torch (median of interleaved rounds)" + (f", XSTest AUROC {r['quality']['xstest']['auroc'] - results['torch']['quality']['xstest']['auroc']:+.4f}"
                              f" F1 {r['quality']['xstest']['f1'] - results['torch']['quality']['xstest']['f1']:+.4f} vs torch"
                              if args.quality and 'xstest' in r.get('quality', {}) else ""))
    write_json(args.out, "detector_latency", {
        "detector": str(path), "backends": results, "quick": args.quick, "machine": machine()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
