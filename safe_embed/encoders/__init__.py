"""Encoders: one interface (``encode(texts) -> float32 (n, d)``), backends, the embedding cache, the registry."""

from __future__ import annotations

from safe_embed.encoders.base import Encoder, l2_normalize
from safe_embed.encoders.cache import CachedEncoder, EmbeddingCache
from safe_embed.encoders.registry import MODELS, ModelSpec, load_encoder
from safe_embed.encoders.sentence_transformer import SentenceTransformerEncoder

__all__ = ["MODELS", "CachedEncoder", "EmbeddingCache", "Encoder", "ModelSpec", "SentenceTransformerEncoder",
           "l2_normalize", "load_encoder"]
