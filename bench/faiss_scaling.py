"""FAISS search time, memory and recall against exemplar count: exact (flat) vs HNSW vs IVF.

    python bench/faiss_scaling.py [--sizes 1000 10000 100000 1000000] [--hnsw-max 100000] [--out ...json]

Vectors are synthetic but shaped like sentence embeddings: 384-d, L2-normalized, drawn around 2,000 cluster
centres (uniform random vectors would make approximate search look worse than on real text). Queries come from the
same distribution. Per index: build time, on-disk size (= memory; faiss.write_index), search time per query in a
batch of ``--nq`` and for one query at a time (the detector's single-prompt case), and recall@k against the exact
index. Index parameters are the detector's (safe_embed.detector.index.IndexSettings): HNSW M=32, efSearch=128;
IVF nlist=sqrt(n), nprobe=16. HNSW build is the slow one (minutes at 1M on 2 cores), so by default it stops at
``--hnsw-max`` vectors and uses efConstruction=``--ef-construction`` (default 80; the detector's default is 200).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, pct, table, write_json


def synthetic(n: int, d: int, centers: np.ndarray, rng: np.random.Generator, noise: float = 1.0,
              chunk: int = 100_000) -> np.ndarray:
    """``n`` unit vectors around random ``centers`` (rows), float32 (n, d)."""
    x = np.empty((n, d), np.float32)
    for s in range(0, n, chunk):
        m = min(chunk, n - s)
        v = centers[rng.integers(0, len(centers), m)] + noise * rng.standard_normal((m, d), np.float32) / np.sqrt(d)
        x[s:s + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return x


def index_bytes(index) -> int:
    import faiss

    fd, path = tempfile.mkstemp(suffix=".faiss")
    os.close(fd)
    try:
        faiss.write_index(index, path)
        return os.path.getsize(path)
    finally:
        os.unlink(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000, 1_000_000])
    ap.add_argument("--kinds", nargs="+", default=["flat", "hnsw", "ivf"])
    ap.add_argument("--hnsw-max", type=int, default=100_000, help="largest size to build HNSW for (default 100k)")
    ap.add_argument("--ef-construction", type=int, default=80)
    ap.add_argument("--nq", type=int, default=1000, help="queries per batch search (default 1000)")
    ap.add_argument("--single", type=int, default=100, help="one-at-a-time queries timed (default 100)")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)

    import faiss

    from safe_embed.detector.index import IndexSettings, build_index, search

    rng = np.random.default_rng(args.seed)
    centers = rng.standard_normal((2000, args.dim)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    q = synthetic(args.nq, args.dim, centers, rng)
    rows = []
    for n in args.sizes:
        x = synthetic(n, args.dim, centers, rng)
        truth = None
        for kind in args.kinds:
            if kind == "hnsw" and n > args.hnsw_max:
                continue
            if kind == "ivf" and n < 10_000:
                continue  # nlist = sqrt(n) clusters are too few points each; the detector uses flat here
            settings = IndexSettings(kind=kind, ef_construction=args.ef_construction)
            t0 = time.perf_counter()
            index = build_index(x, settings, seed=args.seed)
            build = time.perf_counter() - t0
            t0 = time.perf_counter()
            _, I = search(index, q, args.k)
            batch = (time.perf_counter() - t0) / len(q)
            single = []
            for i in range(args.single):
                t0 = time.perf_counter()
                search(index, q[i:i + 1], args.k)
                single.append(time.perf_counter() - t0)
            if kind == "flat":
                truth = I
            recall = (float(np.mean([len(set(a) & set(b)) / args.k for a, b in zip(I, truth, strict=True)]))
                      if truth is not None else float("nan"))
            rows.append({"n": n, "index": kind, "build s": build, "MB": index_bytes(index) / 2**20,
                         "batch us/query": 1e6 * batch, "single p50 us": 1e6 * pct(single, 50),
                         "single p99 us": 1e6 * pct(single, 99), f"recall@{args.k}": recall})
            print(f"n={n} {kind}: build {build:.1f}s, recall {recall:.3f}", file=sys.stderr)
            del index
        del x
    print(f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} OpenMP threads, d={args.dim}, k={args.k}\n")
    print(table(rows, ["n", "index", "build s", "MB", "batch us/query", "single p50 us", "single p99 us",
                       f"recall@{args.k}"]))
    write_json(args.out, "faiss_scaling", {"rows": rows, "nq": args.nq, "k": args.k, "dim": args.dim,
                                           "ef_construction": args.ef_construction, "machine": machine()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
