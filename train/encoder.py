"""The plain encoder (a SentenceTransformer), LoRA injection through PEFT, and a live ``Encoder`` view of it."""

from __future__ import annotations

import copy
import itertools
import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

from safe_embed.encoders.base import Encoder
from safe_embed.encoders.registry import canonical_name, installed_dir
from safe_embed.encoders.sentence_transformer import load_sentence_transformer
from safe_embed.errors import ConfigError

logger = logging.getLogger(__name__)

FINETUNE_MODES = ("lora", "full")
_counter = itertools.count()


def resolve_model_ref(ref: str) -> str:
    """A registry name (the packaged MiniLM and mpnet resolve to their local copies), a directory or a hub id."""
    local = installed_dir(canonical_name(ref))
    return str(local) if local else str(Path(ref).expanduser()) if Path(ref).expanduser().exists() else ref


def load_plain_encoder(ref: str, max_seq_length: int | None = None) -> nn.Module:
    """Load the SentenceTransformer in train mode, its window ``max_seq_length`` tokens (at most the model's
    position limit)."""
    st = load_sentence_transformer(resolve_model_ref(ref))
    if max_seq_length:
        limit = getattr(getattr(transformer_of(st), "config", None), "max_position_embeddings", None)
        st.max_seq_length = min(max_seq_length, limit) if isinstance(limit, int) and limit > 0 else max_seq_length
    return st.train()


def transformer_of(st: nn.Module) -> nn.Module:
    """The Hugging Face model inside module 0 of a SentenceTransformer."""
    first = st[0]
    if not hasattr(first, "model"):
        raise ConfigError(f"{type(first).__name__} holds no transformers model. Fix: fine-tune a "
                          "SentenceTransformer whose first module is a Transformer.")
    return first.model


def apply_lora(st: nn.Module, r: int, alpha: int, dropout: float, targets: list[str]) -> nn.Module:
    """Wrap the transformer of ``st`` in a PEFT LoRA model in place; only LoRA weights stay trainable."""
    from peft import LoraConfig, get_peft_model

    if r < 1:
        raise ConfigError(f"lora_r must be >= 1, got {r}.")
    if not targets:
        raise ConfigError("lora_targets is empty. Fix: name the linear layers, e.g. [query, key, value, dense].")
    names = {n.rsplit(".", 1)[-1] for n, _ in transformer_of(st).named_modules()}
    full = {n for n, _ in transformer_of(st).named_modules()}
    missing = [t for t in targets if t not in names and not any(n.endswith(t) for n in full)]
    if missing:
        raise ConfigError(f"lora_targets {missing} match no module of the encoder. Fix: use names such as "
                          f"{sorted(n for n in names if n in ('query', 'key', 'value', 'dense', 'q', 'k', 'v'))}.")
    cfg = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=list(targets), bias="none")
    st[0].model = get_peft_model(transformer_of(st), cfg)
    return st


def freeze_unused(st: nn.Module) -> None:
    """Freeze weights the sentence embedding never uses (the BERT pooler), so DDP sees no unused parameters."""
    for n, p in st.named_parameters():
        if ".pooler." in n:
            p.requires_grad_(False)


def count_parameters(st: nn.Module) -> tuple[int, int]:
    """(trainable, base) parameter counts; ``base`` excludes LoRA weights."""
    trainable = sum(p.numel() for p in st.parameters() if p.requires_grad)
    base = sum(p.numel() for n, p in st.named_parameters() if "lora_" not in n)
    return trainable, base


def is_peft(st: nn.Module) -> bool:
    from peft import PeftModel

    return isinstance(transformer_of(st), PeftModel)


def merged_copy(st: nn.Module) -> nn.Module:
    """A deep copy of ``st`` with LoRA weights merged into the base (plain SentenceTransformer)."""
    out = copy.deepcopy(st).cpu().eval()
    if is_peft(out):
        out[0].model = transformer_of(out).merge_and_unload()
    return out


class LiveEncoder(Encoder):
    """An :class:`Encoder` over the module being trained (eval mode, no grad); identity changes per instance.

    >>> LiveEncoder(load_plain_encoder("all-MiniLM-L6-v2")).encode(["hi"]).shape
    (1, 384)
    """

    def __init__(self, st: nn.Module, name: str = "tuned", batch_size: int = 64) -> None:
        self.st = st
        self.name = name
        self.batch_size = batch_size
        self._identity = f"live:{name}:{next(_counter)}"

    @property
    def identity(self) -> str:
        return self._identity

    def _encode(self, texts: list[str], batch_size: int, show_progress: bool) -> np.ndarray:
        was_training = self.st.training
        self.st.eval()
        try:
            with torch.no_grad():
                x = self.st.encode(texts, batch_size=batch_size, show_progress_bar=show_progress,
                                   convert_to_numpy=True, normalize_embeddings=False)
        finally:
            self.st.train(was_training)
        return np.asarray(x, dtype=np.float32)
