"""FAISS indexes over L2-normalized embeddings (inner product = cosine).

Exact inner product (``IndexFlatIP``) by default; ``kind="auto"`` switches to HNSW above ``hnsw_above``
vectors. Positions in an index are positions in the matching exemplar list; removal rebuilds the index.

A search runs on ``search_threads`` OpenMP threads (default 1; 0: FAISS's default, one per core), set for the
calling thread only and restored after. Over a detector's few thousand exemplars a batch's search takes a few
milliseconds, and a second busy-waiting thread pool next to the encoder's (ONNX Runtime's spinning threads) costs
more than it saves: on 2 cores one search thread gave the ONNX int8 detector 16% more batched throughput and
changed nothing for torch.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

from safe_embed.errors import ConfigError

logger = logging.getLogger(__name__)

KINDS = ("auto", "flat", "hnsw", "ivf")


@dataclass(frozen=True)
class IndexSettings:
    """Index type and its parameters. ``kind``: auto | flat | hnsw | ivf. ``search_threads``: OpenMP threads of
    a search (0: FAISS's default)."""

    kind: str = "auto"
    hnsw_above: int = 100_000
    hnsw_m: int = 32
    ef_construction: int = 200
    ef_search: int = 128
    ivf_nprobe: int = 16
    search_threads: int = 1

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"index kind must be one of {KINDS}, got {self.kind!r}.")
        if not isinstance(self.search_threads, int) or isinstance(self.search_threads, bool) or \
                self.search_threads < 0:
            raise ConfigError(f"index search_threads must be an integer >= 0 (0: one per core), got "
                              f"{self.search_threads!r}.")

    def resolve(self, n: int) -> str:
        """The concrete index type for ``n`` vectors."""
        if self.kind != "auto":
            return self.kind
        return "hnsw" if n > self.hnsw_above else "flat"

    def to_dict(self) -> dict:
        return asdict(self)


def build_index(x: np.ndarray, settings: IndexSettings | None = None, seed: int = 0) -> faiss.Index:
    """An index over the rows of ``x`` (n, d), float32 and L2-normalized by the caller.

    >>> idx = build_index(np.eye(3, dtype=np.float32)); idx.ntotal
    3
    """
    settings = settings or IndexSettings()
    x = np.ascontiguousarray(x, dtype=np.float32)
    n, d = x.shape
    kind = settings.resolve(n)
    if kind == "flat":
        index = faiss.IndexFlatIP(d)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, settings.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = settings.ef_construction
        index.hnsw.efSearch = settings.ef_search
    else:
        nlist = max(1, int(np.sqrt(max(n, 1))))
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        if n < nlist:
            raise ConfigError(f"an IVF index needs at least {nlist} vectors, got {n}. Fix: use kind 'flat'.")
        index.train(x)
        index.nprobe = min(settings.ivf_nprobe, nlist)
        index.make_direct_map()
    if n:
        index.add(x)
    logger.info("built %s index: %d vectors of dimension %d", kind, n, d)
    return index


def index_kind(index: faiss.Index) -> str:
    """``flat``, ``hnsw`` or ``ivf`` for an index built by :func:`build_index`."""
    if isinstance(index, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(index, faiss.IndexIVF):
        return "ivf"
    return "flat"


def search(index: faiss.Index, xq: np.ndarray, k: int, threads: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` inner products ``D`` (nq, k) and positions ``I`` (nq, k); missing slots are ``-1`` in both.
    ``threads``: OpenMP threads for this search, in the calling thread (0: leave FAISS's setting)."""
    xq = np.ascontiguousarray(xq, dtype=np.float32)
    if index.ntotal == 0 or k <= 0:
        return np.full((len(xq), max(k, 0)), -1.0, np.float32), np.full((len(xq), max(k, 0)), -1, np.int64)
    before = faiss.omp_get_max_threads() if threads else 0
    if threads != before:
        faiss.omp_set_num_threads(threads)  # OpenMP keeps it per calling thread: other threads are not affected
        try:
            D, I = index.search(xq, k)
        finally:
            faiss.omp_set_num_threads(before)
    else:
        D, I = index.search(xq, k)
    D = np.where(I < 0, -1.0, D).astype(np.float32)
    return D, I


def vectors(index: faiss.Index) -> np.ndarray:
    """All stored vectors, shape (ntotal, d), in position order."""
    if index.ntotal == 0:
        return np.zeros((0, index.d), np.float32)
    return index.reconstruct_n(0, index.ntotal)


def rebuild(index: faiss.Index, x: np.ndarray, settings: IndexSettings, seed: int = 0) -> faiss.Index:
    """A new index of the same family as ``settings`` over ``x`` (used after add/remove)."""
    if x.shape[1] != index.d:
        raise ConfigError(f"vectors of dimension {x.shape[1]} for an index of dimension {index.d}.")
    return build_index(x, settings, seed=seed)


def write_index(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def read_index(path: Path) -> faiss.Index:
    index = faiss.read_index(str(path))
    if isinstance(index, faiss.IndexIVF):
        index.make_direct_map()
    return index
