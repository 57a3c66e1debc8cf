"""The sentence-transformers backend: any model name on the hub or a local model directory."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from safe_embed.encoders.base import Encoder
from safe_embed.errors import ModelError

logger = logging.getLogger(__name__)

_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "adapter_model.safetensors")
_EXPORT_DIRS = ("onnx", "openvino")  # other runtimes' exports inside a model directory: not read by this backend


def directory_fingerprint(path: Path) -> str:
    """sha256 over a model directory's config and weight files (content, not timestamps; exports such as
    ``onnx/`` left out)."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.relative_to(path).parts[0] not in _EXPORT_DIRS
                   and (p.name in _WEIGHT_FILES or p.suffix in (".json", ".txt", ".model")
                        or p.name.endswith(".safetensors")))
    for p in files:
        h.update(str(p.relative_to(path)).encode())
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]



def embedding_dimension(model) -> int | None:
    """A SentenceTransformer's output dimension (the method was renamed in sentence-transformers 6)."""
    get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return get()

class SentenceTransformerEncoder(Encoder):
    """Wraps :class:`sentence_transformers.SentenceTransformer`.

    >>> from safe_embed.encoders.packaged import minilm_dir
    >>> SentenceTransformerEncoder(str(minilm_dir())).encode(["hi"]).shape
    (1, 384)
    """

    def __init__(self, model: str, name: str | None = None, device: str | None = None, batch_size: int = 64,
                 revision: str | None = None, trust_remote_code: bool = False) -> None:
        self.model_ref = str(model)
        self.name = name or self.model_ref
        self.device = device
        self.batch_size = batch_size
        self.revision = revision
        self.trust_remote_code = trust_remote_code
        self._model = None
        self._identity: str | None = None

    @property
    def model(self):
        if self._model is None:
            self._model = load_sentence_transformer(self.model_ref, device=self.device, revision=self.revision,
                                                    trust_remote_code=self.trust_remote_code)
        return self._model

    @property
    def identity(self) -> str:
        if self._identity is None:
            p = Path(self.model_ref)
            if p.is_dir():
                self._identity = f"st:{p.name}:{directory_fingerprint(p)}"
            else:
                self._identity = f"st:{self.model_ref}@{self.revision or 'main'}"
        return self._identity

    @property
    def dimension(self) -> int | None:
        return embedding_dimension(self.model)

    def token_window(self) -> int | None:
        n = self.model.max_seq_length
        return int(n) if n else None

    def count_tokens(self, texts) -> list[int] | None:
        tok = getattr(self.model, "tokenizer", None)
        if tok is None:
            return None
        ids = tok(list(texts), add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
        return [len(x) for x in ids]

    def token_spans(self, texts) -> list[list[tuple[int, int]]] | None:
        tok = getattr(self.model, "tokenizer", None)
        if tok is None or not getattr(tok, "is_fast", False):  # offsets need a fast tokenizer
            return None
        out = tok(list(texts), add_special_tokens=False, truncation=False, return_offsets_mapping=True,
                  verbose=False)["offset_mapping"]
        return [[(int(a), int(b)) for a, b in spans] for spans in out]

    def _encode(self, texts: list[str], batch_size: int, show_progress: bool) -> np.ndarray:
        model = self.model
        if len(texts) <= batch_size and not show_progress and model.device.type == "cpu":
            return self._encode_one_batch(texts)[0]
        return model.encode(texts, batch_size=batch_size, show_progress_bar=show_progress,
                            convert_to_numpy=True, normalize_embeddings=False)

    def _encode_overflow(self, texts: list[str], batch_size: int, show_progress: bool
                         ) -> tuple[np.ndarray, list[bool]]:
        """One tokenization per text: the fast tokenizer's encodings say which texts overflowed. Batches as
        ``SentenceTransformer.encode`` makes them (longest texts first), so the embeddings are the same."""
        if self.model.device.type != "cpu":
            return super()._encode_overflow(texts, batch_size, show_progress)
        if len(texts) <= batch_size:
            x, flags = self._encode_one_batch(texts)
            return (x, flags) if flags is not None else super()._encode_overflow(texts, batch_size, show_progress)
        from tqdm.auto import tqdm

        order = np.argsort([-len(t) for t in texts])  # as SentenceTransformer.encode sorts (ties included)
        out: np.ndarray | None = None
        over = [False] * len(texts)
        for s in tqdm(range(0, len(texts), batch_size), desc=f"encode {self.name}", disable=not show_progress):
            idx = order[s:s + batch_size]
            x, flags = self._encode_one_batch([texts[i] for i in idx])
            if flags is None:  # a slow tokenizer keeps no encodings: count the tokens instead
                return super()._encode_overflow(texts, batch_size, show_progress)
            out = np.empty((len(texts), x.shape[1]), np.float32) if out is None else out
            out[idx] = x
            for i, f in zip(idx, flags, strict=True):
                over[i] = f
        return out, over

    def _encode_one_batch(self, texts: list[str]) -> tuple[np.ndarray, list[bool] | None]:
        """The detector's hot path: one forward pass without ``encode``'s per-call bookkeeping (same output), and
        each text's overflow as its tokenization saw it (None for a tokenizer that keeps no encodings)."""
        import torch

        model = self.model
        if model.training:
            model.eval()
        with torch.inference_mode():
            features = model.preprocess(texts)
            out = model(features)["sentence_embedding"]
        encodings = getattr(features, "encodings", None)
        return out.float().numpy(), None if encodings is None else [bool(e.overflowing) for e in encodings]


def load_sentence_transformer(ref: str, device: str | None = None, revision: str | None = None,
                              trust_remote_code: bool = False):
    """Load a SentenceTransformer from a directory or hub id, turning failures into a clear :class:`ModelError`."""
    from sentence_transformers import SentenceTransformer

    p = Path(ref)
    if p.exists() and not (p / "modules.json").is_file() and not (p / "config.json").is_file():
        raise ModelError(f"{p} is not a model directory (no modules.json or config.json). "
                         "Fix: point at a sentence-transformers or transformers model directory.")
    try:
        return SentenceTransformer(str(p) if p.exists() else ref, device=device, revision=revision,
                                   trust_remote_code=trust_remote_code)
    except OSError as e:
        if p.exists():
            raise ModelError(f"cannot load model directory {p}: {e}") from None
        raise ModelError(
            f"cannot load model {ref!r} from the Hugging Face hub ({type(e).__name__}: {str(e).splitlines()[0]}). "
            "Fix: check the name, or, offline, point at local weights with --model /path/to/model_dir "
            "(see `safe-embed models`)."
        ) from None
    except (ValueError, json.JSONDecodeError) as e:
        raise ModelError(f"cannot load model {ref!r}: {e}") from None
