"""The one encoder interface: ``encode(texts) -> float32 array (n, d)``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

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

    def token_spans(self, texts: Sequence[str]) -> list[list[tuple[int, int]]] | None:
        """Each text's tokens as character spans ``(start, end)``, special tokens left out (None when unknown): the
        places a long text can be cut into windows the encoder reads whole."""
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
        return self._checked(out, len(texts))

    def encode_with_overflow(self, texts: Sequence[str], batch_size: int | None = None,
                             show_progress: bool = False) -> tuple[np.ndarray, list[bool]]:
        """:meth:`encode`, and for each text whether it overflowed the encoder's token window (the encoder read
        only its first :meth:`token_window` tokens).

        >>> from safe_embed.encoders.fake import HashEncoder
        >>> x, over = HashEncoder(dim=8).encode_with_overflow(["a b", "c"]); x.shape, over
        ((2, 8), [False, False])
        """
        texts = check_texts(texts)
        out, over = self._encode_overflow(texts, batch_size or self.batch_size,
                                          show_progress and len(texts) > batch_or(self, batch_size))
        return self._checked(out, len(texts)), over

    def _encode_overflow(self, texts: list[str], batch_size: int, show_progress: bool
                         ) -> tuple[np.ndarray, list[bool]]:
        """Raw embeddings and overflow flags. This default encodes, then counts the tokens of the texts long
        enough to overflow (a second tokenization); encoders whose tokenizer reports the overflow while encoding
        override it to tokenize once."""
        out = self._encode(texts, batch_size, show_progress)
        over = [False] * len(texts)
        window = self.token_window()
        long = [i for i, t in enumerate(texts) if window is not None and len(t) > window - 2]
        if long:  # a word piece covers at least one character, so shorter texts fit
            counts = self.count_tokens([texts[i] for i in long])
            for i, n in zip(long, counts or [0] * len(long), strict=True):
                over[i] = n > window
        return out, over

    def _checked(self, out, n: int) -> np.ndarray:
        out = np.asarray(out, dtype=np.float32)
        if out.ndim != 2 or out.shape[0] != n:
            raise DataError(f"encoder {self.name!r} returned shape {out.shape} for {n} texts")
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def batch_or(encoder: Encoder, batch_size: int | None) -> int:
    return batch_size or encoder.batch_size


def check_texts(texts: object, what: str = "text", allow_empty: bool = False) -> list[str]:
    """``texts`` as a list of strings, or a :class:`DataError` naming the first bad item. A single string, a
    mapping or a set is refused (a list is expected); an empty list only with ``allow_empty``.

    >>> check_texts(("a", "b")), check_texts([], allow_empty=True)
    (['a', 'b'], [])
    """
    if isinstance(texts, (str, bytes)):
        kind = "string" if isinstance(texts, str) else "bytes object"
        raise DataError(f"expected a list of {what}s, got a single {kind}. Fix: wrap it in a list.")
    if isinstance(texts, (Mapping, set, frozenset)):
        raise DataError(f"expected a list of {what}s, got a {type(texts).__name__}. Fix: pass a list of strings.")
    try:
        texts = list(texts)  # type: ignore[call-overload]
    except TypeError:
        raise DataError(f"expected a list of {what}s, got {type(texts).__name__}.") from None
    if not texts and not allow_empty:
        raise DataError(f"empty {what} list: nothing to encode. Fix: pass at least one {what}.")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise DataError(f"{what} #{i} is {type(t).__name__}, not str. Fix: pass strings only.")
    return texts


def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Row-wise L2 normalization of an (n, d) array (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, eps)
