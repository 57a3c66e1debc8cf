"""A deterministic, dependency-free encoder for tests and dry runs: hashed bag of words + character trigrams."""

from __future__ import annotations

import hashlib
import re

import numpy as np

from safe_embed.encoders.base import Encoder


class HashEncoder(Encoder):
    """Texts sharing words get similar vectors; no model, no network.

    >>> HashEncoder(dim=16).encode(["kill a process"]).shape
    (1, 16)
    """

    def __init__(self, dim: int = 64, seed: int = 0, name: str = "hash-encoder") -> None:
        self.dim = dim
        self.seed = seed
        self.name = name
        self.calls = 0
        self.encoded = 0

    @property
    def identity(self) -> str:
        return f"hash:{self.dim}:{self.seed}"

    @property
    def dimension(self) -> int:
        return self.dim

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        toks = re.findall(r"\w+", text.lower())
        grams = toks + [t[i:i + 3] for t in toks for i in range(max(len(t) - 2, 1))]
        for g in grams:
            h = hashlib.blake2b(f"{self.seed}:{g}".encode(), digest_size=8).digest()
            idx = int.from_bytes(h[:4], "little") % self.dim
            v[idx] += 1.0 if h[4] & 1 else -1.0
        if not grams:
            v[0] = 1.0
        return v

    def _encode(self, texts: list[str], batch_size: int, show_progress: bool) -> np.ndarray:
        self.calls += 1
        self.encoded += len(texts)
        return np.stack([self._vec(t) for t in texts])
