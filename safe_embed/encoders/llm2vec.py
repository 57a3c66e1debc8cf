"""LLM2Vec backend (optional extra ``llm2vec``; imported only when an LLM2Vec model is used).

Mirrors the paper's call: ``LLM2Vec.from_pretrained(<mntp model>, peft_model_name_or_path=<adapter>,
torch_dtype=bfloat16, device_map=<device>)`` then ``encode(texts)`` (mean pooling, bidirectional attention).
Note: llm2vec 0.2.x pins ``transformers<=4.44.2``; install it in an environment built for it.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import numpy as np

from safe_embed.encoders.base import Encoder
from safe_embed.encoders.sentence_transformer import directory_fingerprint
from safe_embed.errors import ModelError

logger = logging.getLogger(__name__)

DTYPES = ("bfloat16", "float16", "float32")


def llm2vec_available() -> bool:
    """Whether the optional ``llm2vec`` package is importable (without importing it)."""
    return importlib.util.find_spec("llm2vec") is not None


def require_llm2vec(name: str = "this model") -> None:
    """Raise a :class:`ModelError` with the install command when the extra is missing."""
    if not llm2vec_available():
        raise ModelError(
            f"{name} needs the optional extra 'llm2vec', which is not installed. Fix: pip install "
            "'safe-embed[llm2vec]' (llm2vec pins transformers<=4.44.2, so use a separate environment), or pick "
            "another encoder (see `safe-embed models`).")


class LLM2VecEncoder(Encoder):
    """An LLM2Vec model: an MNTP-trained decoder with bidirectional attention plus a contrastive adapter.

    >>> # LLM2VecEncoder("McGill-NLP/LLM2Vec-Mistral-7B-Instruct-v2-mntp",
    >>> #                adapter="McGill-NLP/LLM2Vec-Mistral-7B-Instruct-v2-mntp-unsup-simcse", dtype="bfloat16")
    """

    def __init__(self, model: str, adapter: str | None = None, name: str | None = None, device: str | None = None,
                 batch_size: int = 32, dtype: str = "bfloat16", pooling: str | None = None,
                 max_length: int | None = None) -> None:
        if dtype not in DTYPES:
            raise ModelError(f"dtype {dtype!r} is not supported. Fix: use one of {DTYPES}.")
        self.model_ref = str(model)
        self.adapter = adapter
        self.name = name or self.model_ref
        self.device = device
        self.batch_size = batch_size
        self.dtype = dtype
        self.pooling = pooling
        self.max_length = max_length
        self._model = None

    def _resolved_device(self) -> str:
        if self.device:
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def _load(self):
        require_llm2vec(repr(self.name))
        import torch
        from llm2vec import LLM2Vec

        # pooling/max_length unset: the adapter's llm2vec_config.json, else llm2vec's defaults (mean, 512), as the
        # paper ran it
        extra = {k: v for k, v in (("pooling_mode", self.pooling), ("max_length", self.max_length)) if v is not None}
        try:
            self._model = LLM2Vec.from_pretrained(
                self.model_ref, peft_model_name_or_path=self.adapter, device_map=self._resolved_device(),
                torch_dtype=getattr(torch, self.dtype), **extra)
        except OSError as e:
            raise ModelError(f"cannot load LLM2Vec model {self.model_ref!r} (adapter {self.adapter!r}): "
                             f"{str(e).splitlines()[0]}. Fix: check access to the hub (Llama 3 is gated: "
                             "`hf auth login`), or point at local copies with --model-path DIR "
                             "(DIR/mntp and DIR/adapter).") from None
        return self._model

    @property
    def identity(self) -> str:
        parts = []
        for ref in (self.model_ref, self.adapter):
            p = Path(ref) if ref else None
            parts.append(f"{p.name}:{directory_fingerprint(p)}" if p and p.is_dir() else str(ref))
        return f"llm2vec:{'+'.join(parts)}:{self.pooling or 'default'}:{self.max_length or 'default'}:{self.dtype}"

    def _encode(self, texts: list[str], batch_size: int, show_progress: bool) -> np.ndarray:
        model = self._model or self._load()
        out = model.encode(texts, batch_size=batch_size, show_progress_bar=show_progress,
                           device=self._resolved_device())
        return out.float().cpu().numpy() if hasattr(out, "float") else np.asarray(out, dtype=np.float32)
