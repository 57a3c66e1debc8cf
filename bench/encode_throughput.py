"""Encode throughput of the default encoder (all-MiniLM-L6-v2) against the machine's matrix-multiply rate.

    python bench/encode_throughput.py [--lengths 16 64 128 256] [--batches 1 8 64 128] [--seconds 1.5] [--out ...]

For each text length L (in word pieces, [CLS] and [SEP] included; texts are built to tokenize to exactly L, so no
padding) and batch size B it measures texts/s of the encoder as the detector calls it (sentence-transformers
``encode``: tokenize, forward, mean pooling, to numpy) and of the bare forward pass on pre-tokenized tensors under
``torch.inference_mode``. FLOPs per text (multiply-add = 2 FLOPs), MiniLM-L6: 6 layers, hidden d=384, FFN 1536:

    per layer: QKV + output projections 4 * 2*L*d*d, FFN 2 * 2*L*d*4d  ->  24*L*d^2
               attention scores and weighted sum 2 * 2*L*L*d          ->   4*L^2*d
    total:     6 * (24*L*d^2 + 4*L^2*d)   (embeddings, layer norms, GELU, softmax, pooling: < 2%, not counted)

The machine limit is a torch GEMM of the same shapes (the six Linear layers of one transformer layer on B*L rows,
same threads), and a large square GEMM for the peak. "fraction" = achieved FLOP/s / same-shape GEMM FLOP/s.

``--compare`` instead measures a detector's encoders side by side (torch fp32, ONNX fp32, ONNX int8; the flags of
bench/detector_latency.py pick or build the detector): texts/s at each ``--batches`` size on XSTest prompts, the
speed-up over torch, and each runtime's cosine to torch's embeddings::

    python bench/encode_throughput.py --compare [--detector DIR] [--onnx int8] [--batches 1 64] [--seconds 1.5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _backends import add_arguments, backends_of, prepare
from _common import machine, prompts, table, write_json

LAYERS, D, FFN = 6, 384, 1536


def flops_per_text(L: int) -> float:
    return LAYERS * (2 * L * D * (4 * D + 2 * FFN) + 4 * L * L * D)


def texts_of_length(tokenizer, L: int, n: int) -> list[str]:
    """``n`` distinct texts that tokenize to exactly ``L`` word pieces (with [CLS]/[SEP])."""
    words = ["safety", "prompt", "model", "house", "water", "music", "light", "river", "green", "table"]
    out = []
    for i in range(n):
        t = " ".join(words[(i + j * 7) % len(words)] for j in range(L - 2))
        assert len(tokenizer(t)["input_ids"]) == L, L
        out.append(t)
    return out


def rate(fn, n_per_call: int, seconds: float) -> float:
    fn()  # warm-up
    n, t0 = 0, time.perf_counter()
    while (dt := time.perf_counter() - t0) < seconds or n == 0:
        fn()
        n += n_per_call
    return n / dt


def gemm_rate(rows: int, seconds: float) -> float:
    """FLOP/s of the six Linear layers of one MiniLM layer applied to ``rows`` token rows."""
    import torch

    x = torch.randn(rows, D)
    h = torch.randn(rows, FFN)
    lin = [torch.nn.Linear(D, D) for _ in range(4)] + [torch.nn.Linear(D, FFN), torch.nn.Linear(FFN, D)]

    def step():
        with torch.inference_mode():
            for m in lin[:4]:
                m(x)
            lin[4](x)
            lin[5](h)

    flops = 2 * rows * D * (4 * D + 2 * FFN)
    return rate(step, 1, seconds) * flops


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", type=int, nargs="+", default=[16, 64, 128, 256])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8, 64, 128])
    ap.add_argument("--seconds", type=float, default=1.5, help="time per measurement (default 1.5)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--compare", action="store_true", help="compare a detector's encoder runtimes (see above)")
    add_arguments(ap)
    args = ap.parse_args(argv)
    if args.compare:
        return compare(args)

    import torch

    from safe_embed.encoders import load_encoder

    if args.threads:
        torch.set_num_threads(args.threads)
    enc = load_encoder("all-MiniLM-L6-v2", cache=False)
    st = enc.model
    st.max_seq_length = max(st.max_seq_length, max(args.lengths))
    tok = st.tokenizer
    a = torch.randn(2048, 2048)
    peak = rate(lambda: a @ a, 1, args.seconds) * 2 * 2048 ** 3
    rows = []
    for L in args.lengths:
        for B in args.batches:
            texts = texts_of_length(tok, L, B)
            enc_rate = rate(lambda t=texts, b=B: enc.encode(t, batch_size=b), B, args.seconds)
            feats = (getattr(st, "preprocess", None) or st.tokenize)(texts)

            def fwd(f=feats):
                with torch.inference_mode():
                    st(f)

            fwd_rate = rate(fwd, B, args.seconds)
            g = gemm_rate(B * L, args.seconds)
            f = flops_per_text(L)
            rows.append({"L": L, "batch": B, "texts/s": enc_rate, "forward texts/s": fwd_rate,
                         "GFLOP/text": f / 1e9, "GFLOP/s": enc_rate * f / 1e9, "GEMM GFLOP/s": g / 1e9,
                         "fraction": enc_rate * f / g, "forward fraction": fwd_rate * f / g,
                         "outside forward": 1 - enc_rate / fwd_rate})
            print(f"L={L} B={B}: {enc_rate:.1f} texts/s", file=sys.stderr)
    print(f"peak GEMM (2048^3 fp32, {torch.get_num_threads()} threads): {peak / 1e9:.1f} GFLOP/s\n")
    print(table(rows, ["L", "batch", "texts/s", "forward texts/s", "GFLOP/text", "GFLOP/s", "GEMM GFLOP/s",
                       "fraction", "forward fraction", "outside forward"]))
    at64 = [r for r in rows if r["batch"] == 64]
    if at64:
        print("\nbatch 64: fraction of the same-shape GEMM rate: "
              + ", ".join(f"L={r['L']}: {100 * r['fraction']:.0f}%" for r in at64))
    write_json(args.out, "encode_throughput", {"peak_gemm_flops": peak, "rows": rows, "machine": machine(),
                                                "flops_formula": "6*(24*L*d^2 + 4*L^2*d), d=384"})
    return 0


def compare(args) -> int:
    """texts/s of each backend's encoder at each batch size, and cosine to torch's embeddings."""
    import numpy as np

    from safe_embed.detector import Detector

    path = prepare(args)
    texts = prompts()
    rows, ref, base = [], None, {}
    for backend in backends_of(path, args.backends):
        enc = Detector.load(path, backend=backend, num_threads=args.threads).encoder
        x = enc.encode(texts[:64])
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        ref = x if ref is None else ref
        for B in args.batches:
            chunks = [texts[s:s + B] for s in range(0, len(texts) - B + 1, B)] or [texts[:B]]
            it = iter(range(1 << 30))
            r = rate(lambda c=chunks, b=B, e=enc, i=it: e.encode(c[next(i) % len(c)], batch_size=b), B, args.seconds)
            base.setdefault(B, r)
            rows.append({"backend": backend, "batch": B, "texts/s": r, "vs torch": r / base[B],
                         "min cosine to first": float((x * ref).sum(1).min())})
            print(f"{backend} B={B}: {r:.1f} texts/s", file=sys.stderr)
    print(table(rows, ["backend", "batch", "texts/s", "vs torch", "min cosine to first"]))
    write_json(args.out, "encode_throughput_backends", {"detector": str(path), "rows": rows, "machine": machine()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
