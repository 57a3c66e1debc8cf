"""On-disk embedding cache keyed by model identity and text (SQLite, float32 blobs; no pickle)."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from safe_embed.encoders.base import Encoder, check_texts
from safe_embed.paths import cache_root

logger = logging.getLogger(__name__)


def _key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class EmbeddingCache:
    """One SQLite file per model identity under ``root``: ``(sha256(text) -> float32 vector)``.

    >>> import tempfile
    >>> cache = EmbeddingCache(tempfile.mkdtemp())
    >>> cache.put("st:m", ["a"], np.ones((1, 3), np.float32)); [v is None for v in cache.get("st:m", ["a", "b"])]
    [False, True]
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root else cache_root() / "embeddings"

    def _db(self, identity: str) -> sqlite3.Connection:
        self.root.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(identity.encode()).hexdigest()[:24]
        con = sqlite3.connect(self.root / f"{name}.sqlite")
        con.execute("CREATE TABLE IF NOT EXISTS emb (k BLOB PRIMARY KEY, dim INTEGER, v BLOB)")
        con.execute("CREATE TABLE IF NOT EXISTS meta (identity TEXT)")
        if con.execute("SELECT COUNT(*) FROM meta").fetchone()[0] == 0:
            con.execute("INSERT INTO meta VALUES (?)", (identity,))
        return con

    def get(self, identity: str, texts: Sequence[str]) -> list[np.ndarray | None]:
        """Return the cached vector for each text, or None."""
        con = self._db(identity)
        try:
            found: dict[bytes, np.ndarray] = {}
            keys = [_key(t) for t in texts]
            uniq = list(dict.fromkeys(keys))
            for i in range(0, len(uniq), 500):
                chunk = uniq[i:i + 500]
                q = f"SELECT k, v FROM emb WHERE k IN ({','.join('?' * len(chunk))})"
                for k, v in con.execute(q, chunk):
                    found[k] = np.frombuffer(v, dtype=np.float32)
            return [found.get(k) for k in keys]
        finally:
            con.close()

    def put(self, identity: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        con = self._db(identity)
        try:
            vecs = np.asarray(vectors, dtype=np.float32)
            with con:
                con.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?, ?)",
                                [(_key(t), vecs.shape[1], vecs[i].tobytes()) for i, t in enumerate(texts)])
        finally:
            con.close()


class CachedEncoder(Encoder):
    """Wrap an encoder so texts already encoded by the same model identity are read from disk.

    >>> import tempfile
    >>> from safe_embed.encoders.fake import HashEncoder
    >>> enc = CachedEncoder(HashEncoder(dim=8), EmbeddingCache(tempfile.mkdtemp()))
    >>> _ = enc.encode(["a", "b"]); _ = enc.encode(["a"]); (enc.misses, enc.hits)
    (2, 1)
    """

    def __init__(self, inner: Encoder, cache: EmbeddingCache | None = None) -> None:
        self.inner = inner
        self.cache = cache or EmbeddingCache()
        self.name = inner.name
        self.batch_size = inner.batch_size
        self.hits = 0
        self.misses = 0

    @property
    def identity(self) -> str:
        return self.inner.identity

    @property
    def dimension(self) -> int | None:
        return self.inner.dimension

    def token_window(self) -> int | None:
        return self.inner.token_window()

    def count_tokens(self, texts: Sequence[str]) -> list[int] | None:
        return self.inner.count_tokens(texts)

    def token_spans(self, texts: Sequence[str]) -> list[list[tuple[int, int]]] | None:
        return self.inner.token_spans(texts)

    def _encode(self, texts: list[str], batch_size: int, show_progress: bool) -> np.ndarray:
        return self.inner._encode(texts, batch_size, show_progress)

    def encode(self, texts: Sequence[str], batch_size: int | None = None, show_progress: bool | None = None,
               ) -> np.ndarray:
        texts = check_texts(texts)
        ident = self.identity
        cached = self.cache.get(ident, texts)
        missing = list(dict.fromkeys(t for t, v in zip(texts, cached) if v is None))
        self.hits += len(texts) - sum(v is None for v in cached)
        self.misses += len(missing)
        new: dict[str, np.ndarray] = {}
        if missing:
            logger.info("encoding %d new texts with %s (%d cached)", len(missing), self.name,
                        len(texts) - len(missing))
            progress = self.show_progress if show_progress is None else show_progress
            vecs = self.inner.encode(missing, batch_size=batch_size, show_progress=progress)
            self.cache.put(ident, missing, vecs)
            new = dict(zip(missing, vecs))
        rows = [v if v is not None else new[t] for t, v in zip(texts, cached)]
        return np.stack(rows).astype(np.float32)
