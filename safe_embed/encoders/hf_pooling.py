"""Plain transformers backend with a pooling choice, for SimCSE-style models.

The paper embedded SimCSE with ``AutoModel(...)(**inputs).pooler_output`` (BERT's pooler: dense + tanh over
[CLS]); ``cls`` takes the raw [CLS] hidden state and ``mean`` the mask-weighted token mean.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from safe_embed.encoders.base import Encoder
from safe_embed.encoders.sentence_transformer import directory_fingerprint
from safe_embed.errors import ModelError

logger = logging.getLogger(__name__)

POOLINGS = ("pooler", "cls", "mean")


def pool(last_hidden, attention_mask, pooler_output, pooling: str):
    """Pool token states ``(b, t, h)`` into ``(b, h)`` with ``pooling`` in :data:`POOLINGS`."""
    if pooling == "pooler":
        if pooler_output is None:
            raise ModelError("this model has no pooler layer, so pooling='pooler' is impossible. "
                             "Fix: use pooling='cls' or 'mean'.")
        return pooler_output
    if pooling == "cls":
        return last_hidden[:, 0]
    mask = attention_mask.unsqueeze(-1).to(last_hidden.dtype)
    return (last_hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


class HFPoolingEncoder(Encoder):
    """A transformers ``AutoModel`` plus pooling (``pooler``, ``cls`` or ``mean``).

    Example (downloads the model from the hub)::

        enc = HFPoolingEncoder("princeton-nlp/sup-simcse-bert-base-uncased", pooling="pooler")
    """

    def __init__(self, model: str, pooling: str = "pooler", name: str | None = None, device: str | None = None,
                 batch_size: int = 64, max_length: int | None = None, revision: str | None = None) -> None:
        if pooling not in POOLINGS:
            raise ModelError(f"pooling {pooling!r} is not supported. Fix: use one of {POOLINGS}.")
        self.model_ref = str(model)
        self.pooling = pooling
        self.name = name or self.model_ref
        self.device = device
        self.batch_size = batch_size
        self.max_length = max_length
        self.revision = revision
        self._model = None
        self._tokenizer = None
        self._identity: str | None = None

    def _load(self) -> None:
        from transformers import AutoModel, AutoTokenizer

        p = Path(self.model_ref)
        if p.exists() and not (p / "config.json").is_file():
            raise ModelError(f"{p} is not a transformers model directory (no config.json). "
                             "Fix: point at a directory saved with save_pretrained.")
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(self.model_ref, revision=self.revision)
            model, info = AutoModel.from_pretrained(self.model_ref, revision=self.revision,
                                                    output_loading_info=True)
        except OSError as e:
            where = f"directory {p}" if p.exists() else f"{self.model_ref!r} from the Hugging Face hub"
            raise ModelError(f"cannot load {where} ({str(e).splitlines()[0]}). Fix: check the name, or point at "
                             "local weights with --model-path DIR.") from None
        if self.pooling == "pooler" and any("pooler" in k for k in info.get("missing_keys", ())):
            raise ModelError(f"{self.model_ref} has no pooler weights (transformers would initialize them at random), "
                             "so pooling='pooler' is impossible. Fix: use pooling='cls' or 'mean'.")
        import torch

        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._model = model.to(device).eval()

    @property
    def identity(self) -> str:
        if self._identity is None:
            p = Path(self.model_ref)
            ref = f"{p.name}:{directory_fingerprint(p)}" if p.is_dir() else f"{self.model_ref}@{self.revision or 'main'}"
            self._identity = f"hf-{self.pooling}:{ref}"
        return self._identity

    @property
    def dimension(self) -> int | None:
        if self._model is None:
            self._load()
        return int(self._model.config.hidden_size)

    def _encode(self, texts: list[str], batch_size: int, show_progress: bool) -> np.ndarray:
        import torch
        from tqdm.auto import tqdm

        if self._model is None:
            self._load()
        order = np.argsort([-len(t) for t in texts], kind="stable")  # similar lengths share a batch
        out: list[np.ndarray] = [None] * len(texts)  # type: ignore[list-item]
        device = next(self._model.parameters()).device
        starts = range(0, len(texts), batch_size)
        for s in tqdm(starts, desc=f"encode {self.name}", disable=not show_progress):
            idx = order[s:s + batch_size]
            enc = self._tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                  max_length=self.max_length, return_tensors="pt").to(device)
            with torch.inference_mode():
                res = self._model(**enc, return_dict=True)
            vec = pool(res.last_hidden_state, enc["attention_mask"], getattr(res, "pooler_output", None),
                       self.pooling)
            for i, v in zip(idx, vec.float().cpu().numpy()):
                out[i] = v
        return np.stack(out)
