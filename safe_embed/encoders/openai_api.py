"""OpenAI-compatible API backend (the official ``openai`` package): embeddings over :mod:`safe_embed.openai_client`.

The key comes from ``OPENAI_API_KEY``; ``OPENAI_BASE_URL`` (or ``base_url``) points at Azure OpenAI's v1
endpoint or a local OpenAI-compatible server. Requests are batched to the API's limits (2,048 inputs and a token
budget per request) and retried with exponential backoff on 429, 5xx, timeouts and malformed replies.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from safe_embed.encoders.base import Encoder
from safe_embed.errors import ConfigError, ModelError
from safe_embed.openai_client import TransientAPIError, call_with_retry, make_client

logger = logging.getLogger(__name__)

T = TypeVar("T")

MAX_INPUTS_PER_REQUEST = 2048
MAX_TOKENS_PER_REQUEST = 300_000


def estimate_tokens(text: str) -> int:
    """An upper bound on a text's token count (one token covers at least one UTF-8 byte)."""
    return len(text.encode("utf-8")) + 1


def plan_batches(texts: Sequence[str], max_inputs: int = MAX_INPUTS_PER_REQUEST,
                 max_tokens: int = MAX_TOKENS_PER_REQUEST,
                 count_tokens: Callable[[str], int] = estimate_tokens) -> list[tuple[int, int]]:
    """Split ``texts`` into consecutive ``[start, end)`` ranges within ``max_inputs`` and ``max_tokens`` each.

    >>> plan_batches(["aa", "bb", "cc"], max_inputs=2)
    [(0, 2), (2, 3)]
    """
    if max_inputs < 1 or max_tokens < 1:
        raise ConfigError(f"max_inputs={max_inputs} and max_tokens={max_tokens} must be positive.")
    out: list[tuple[int, int]] = []
    start, tokens = 0, 0
    for i, t in enumerate(texts):
        n = count_tokens(t)
        if i > start and (i - start >= max_inputs or tokens + n > max_tokens):
            out.append((start, i))
            start, tokens = i, 0
        tokens += n
    if start < len(texts):
        out.append((start, len(texts)))
    return out


def _parse_embeddings(resp: Any, n: int) -> np.ndarray:
    data = getattr(resp, "data", None)
    if not isinstance(data, list) or len(data) != n:
        got = len(data) if isinstance(data, list) else type(resp).__name__
        raise TransientAPIError(f"malformed embeddings reply: expected {n} items, got {got}")
    try:
        rows = sorted(data, key=lambda d: d.index)
        vecs = np.asarray([r.embedding for r in rows], dtype=np.float32)
    except (AttributeError, TypeError, ValueError) as e:
        raise TransientAPIError(f"malformed embeddings reply ({e})") from None
    if vecs.ndim != 2 or not np.isfinite(vecs).all():
        raise TransientAPIError(f"malformed embeddings reply: shape {vecs.shape} or non-finite values")
    return vecs


class OpenAIEmbeddingEncoder(Encoder):
    """Embeddings from an OpenAI-compatible API.

    Example (needs ``OPENAI_API_KEY``)::

        enc = OpenAIEmbeddingEncoder("text-embedding-3-large")
        enc.encode(["hi"]).shape  # (1, 3072)
    """

    def __init__(self, model: str = "text-embedding-3-large", name: str | None = None, api_key: str | None = None,
                 base_url: str | None = None, dimensions: int | None = None,
                 batch_size: int = MAX_INPUTS_PER_REQUEST, max_tokens_per_request: int = MAX_TOKENS_PER_REQUEST,
                 max_retries: int = 6, backoff_base: float = 1.0, backoff_max: float = 60.0,
                 timeout: float = 60.0, sleep: Callable[[float], None] = time.sleep) -> None:
        self.model = model
        self.name = name or model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.dimensions = dimensions
        self.batch_size = min(batch_size, MAX_INPUTS_PER_REQUEST)
        self.max_tokens_per_request = max_tokens_per_request
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.sleep = sleep
        self.requests = 0
        self._client = make_client(api_key, self.base_url, timeout)  # fails now, without a key

    @property
    def identity(self) -> str:
        return f"openai:{self.model}:{self.dimensions or 'full'}@{self.base_url or 'api.openai.com'}"

    @property
    def dimension(self) -> int | None:
        return self.dimensions or (3072 if self.model == "text-embedding-3-large" else None)

    def _request(self, batch: list[str]) -> np.ndarray:
        def call():
            self.requests += 1
            kwargs: dict[str, Any] = {"input": batch, "model": self.model, "encoding_format": "float"}
            if self.dimensions:
                kwargs["dimensions"] = self.dimensions
            return _parse_embeddings(self._client.embeddings.create(**kwargs), len(batch))

        return call_with_retry(call, f"embeddings request to {self.model}", self.max_retries, self.backoff_base,
                               self.backoff_max, self.sleep)

    def _encode(self, texts: list[str], batch_size: int, show_progress: bool) -> np.ndarray:
        from tqdm.auto import tqdm

        empty = [i for i, t in enumerate(texts) if not t.strip()]
        if empty:
            raise ModelError(f"text #{empty[0]} is empty or blank, and the embeddings API rejects empty inputs. "
                             "Fix: drop or fill empty prompts before encoding.")
        batches = plan_batches(texts, min(batch_size, MAX_INPUTS_PER_REQUEST), self.max_tokens_per_request)
        parts = [self._request(texts[s:e]) for s, e in tqdm(batches, desc=f"embed {self.name}",
                                                              disable=not show_progress)]
        dims = {p.shape[1] for p in parts}
        if len(dims) != 1:
            raise ModelError(f"the API returned embeddings of different sizes {sorted(dims)} for {self.model!r}.")
        return np.concatenate(parts)
