"""The one encoder interface: ``encode(texts) -> float32 array (n, d)``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from safe_embed.errors import DataError


class Encoder(ABC):
    """A sentence encoder.

    Subclasses set ``name`` (what the user asked for) and implement :meth:`_encode` and :attr:`identity`
    (a string that changes whenever the weights change; the embedding cache keys on it).
    """

    name: str = "encoder"
    batch_size: int = 64
    show_progress: bool = False  # default for encode(); the CLI turns it on for long runs
    thread_safe: bool = False  # whether encode() and count_tokens() may run in two threads at once

    @property
    @abstractmethod
    def identity(self) -> str:
        """A stable string identifying model weights and settings."""

    @property
    def dimension(self) -> int | None:
        """Embedding dimension when known without encoding."""
        return None

    def token_window(self) -> int | None:
        """How many tokens of a text the encoder reads (None when it has no fixed window)."""
        return None

    def count_tokens(self, texts: Sequence[str]) -> list[int] | None:
        """Each text's length in the encoder's tokens, special tokens included (None when unknown)."""
        return None

    @abstractmethod
    def _encode(self, texts: list[str], batch_size: int, show_progress: bool) -> np.ndarray:
        """Encode non-empty ``texts``; return raw float embeddings (n, d)."""

    def encode(self, texts: Sequence[str], batch_size: int | None = None, show_progress: bool | None = None,
               ) -> np.ndarray:
        """Encode ``texts`` into a float32 array of shape (n, d) (not normalized).

        >>> from safe_embed.encoders.fake import HashEncoder
        >>> HashEncoder(dim=8).encode(["How do I kill a Python process?"]).shape
        (1, 8)
        """
        texts = check_texts(texts)
        progress = self.show_progress if show_progress is None else show_progress
        out = self._encode(texts, batch_size or self.batch_size, progress and len(texts) > batch_or(self, batch_size))
        out = np.asarray(out, dtype=np.float32)
        if out.ndim != 2 or out.shape[0] != len(texts):
            raise DataError(f"encoder {self.name!r} returned shape {out.shape} for {len(texts)} texts")
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def batch_or(encoder: Encoder, batch_size: int | None) -> int:
    return batch_size or encoder.batch_size


def check_texts(texts: Sequence[str]) -> list[str]:
    """Validate a list of prompts: a non-empty sequence of strings."""
    if isinstance(texts, str):
        raise DataError("encode() takes a list of texts, got a single string. Fix: wrap it in a list.")
    texts = list(texts)
    if not texts:
        raise DataError("empty prompt list: nothing to encode. Fix: pass at least one text.")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise DataError(f"text #{i} is {type(t).__name__}, not str. Fix: pass strings only.")
    return texts


def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Row-wise L2 normalization of an (n, d) array (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, eps)
