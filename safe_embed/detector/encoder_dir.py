"""The detector's copy of its encoder: a sentence-transformers model directory with safetensors weights."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from safe_embed.encoders.base import Encoder
from safe_embed.encoders.cache import CachedEncoder
from safe_embed.encoders.sentence_transformer import SentenceTransformerEncoder
from safe_embed.errors import ModelError

logger = logging.getLogger(__name__)

# Weight formats other than safetensors, and exports a detector does not need.
_SKIP_FILES = {"pytorch_model.bin", "tf_model.h5", "flax_model.msgpack", "rust_model.ot", "model.onnx"}
_SKIP_DIRS = {"onnx", "openvino", ".git", ".cache"}


def unwrap(encoder: Encoder) -> Encoder:
    """The backend under an embedding cache wrapper."""
    return encoder.inner if isinstance(encoder, CachedEncoder) else encoder


def sentence_transformer_of(encoder: Encoder):
    """The loaded ``SentenceTransformer`` behind ``encoder``, or None for other backends (e.g. test fakes)."""
    inner = unwrap(encoder)
    return inner.model if isinstance(inner, SentenceTransformerEncoder) else None


def copy_encoder(encoder: Encoder, dst: Path) -> None:
    """Write ``encoder`` as a sentence-transformers directory at ``dst``: copy a local safetensors model's
    files, or save the loaded model with safetensors otherwise."""
    inner = unwrap(encoder)
    if not isinstance(inner, SentenceTransformerEncoder):
        raise ModelError(f"cannot save encoder {encoder.name!r} ({type(inner).__name__}): a detector directory needs "
                         "a sentence-transformers model. Fix: build the detector from a model name or directory.")
    src = Path(inner.model_ref)
    if src.is_dir() and (src / "modules.json").is_file() and any(src.glob("*.safetensors")):
        copy_model_dir(src, dst)
    else:
        inner.model.save(str(dst), safe_serialization=True)
        for junk in [p for p in dst.rglob("*") if p.is_file() and p.name in _SKIP_FILES]:
            junk.unlink()
        logger.info("saved encoder %s with safetensors", inner.name)
    if not any(dst.rglob("*.safetensors")):
        raise ModelError(f"{dst}: no safetensors weights were written for encoder {encoder.name!r}.")


def copy_model_dir(src: Path, dst: Path) -> None:
    """Copy a sentence-transformers directory's files (safetensors weights, configs, tokenizer; no other weight
    formats, exports or hidden files) from ``src`` to ``dst``."""
    for p in sorted(src.rglob("*")):
        rel = p.relative_to(src)
        if not p.is_file() or p.name in _SKIP_FILES or any(part in _SKIP_DIRS for part in rel.parts) \
                or any(part.startswith(".") for part in rel.parts):
            continue
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, dst / rel)
    logger.info("copied encoder files from %s", src)


def max_seq_length(encoder: Encoder) -> int | None:
    """The encoder's token window, when it has one."""
    st = sentence_transformer_of(encoder)
    return int(st.max_seq_length) if st is not None and st.max_seq_length else None
