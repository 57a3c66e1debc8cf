"""The paper's normalizer: an encoder's mean cosine over random prompt pairs.

Protocol (Safe-Embed ``get_average_similarities.py``): 500 safe + 500 unsafe BeaverTails prompts, concatenated
safe first; the head is ``sample(n=500, random_state=42)`` of those 1,000, the tail the other 500; the value is the
mean cosine over all 500 x 500 head-tail pairs. Normalized cosine is ``(cos - avg) / (1 - avg)``.
"""

from __future__ import annotations

import os

import numpy as np
from safe_embed.evaluate.base import Evaluator

from safe_embed.data.paper import load_norm_sample
from safe_embed.data.schemas import LabelledPrompt
from safe_embed.encoders.base import Encoder
from safe_embed.encoders.registry import MODELS
from safe_embed.errors import ConfigError, DataError
from safe_embed.metrics import head_tail_split, mean_cross_cosine

# The paper's published avg cosines (its normalizers), by registry name; the registry holds them.
PAPER_AVG_COSINE: dict[str, float] = {name: spec.paper_avg_cosine for name, spec in MODELS.items()
                                      if spec.paper_avg_cosine is not None}


def ordered_sample(prompts: list[LabelledPrompt]) -> list[str]:
    """The paper's concatenation order: safe prompts, then unsafe prompts, each in file order."""
    return [p.text for p in prompts if p.label == "safe"] + [p.text for p in prompts if p.label == "unsafe"]


class AvgCosine(Evaluator):
    """Mean head x tail cosine of an encoder on the normalization sample.

    >>> from safe_embed.encoders.fake import HashEncoder
    >>> v = AvgCosine.from_data_dir()(HashEncoder(dim=64))["avg_cosine/value"]; -1.0 < v < 1.0
    True
    """

    name = "avg_cosine"
    primary_metric = "avg_cosine/value"

    def __init__(self, texts: list[str], n_head: int | None = None, seed: int = 42) -> None:
        self.texts = list(texts)
        if len(self.texts) < 2:
            raise DataError(f"the normalization sample needs at least 2 prompts, got {len(self.texts)}. "
                            "Fix: use the BeaverTails sample (1,000 prompts).")
        n_head = len(self.texts) // 2 if n_head is None else n_head  # the paper: 500 of 1,000
        self.head, self.tail = head_tail_split(len(self.texts), n_head, seed)
        self._memo: dict[str, float] = {}

    @classmethod
    def from_data_dir(cls, data_dir: str | os.PathLike[str] | None = None, n_head: int | None = None, seed: int = 42,
                      ) -> AvgCosine:
        return cls(ordered_sample(load_norm_sample(data_dir)), n_head=n_head, seed=seed)

    def value(self, encoder: Encoder, use_memo: bool = True) -> float:
        key = encoder.identity
        if use_memo and key in self._memo:
            return self._memo[key]
        x = encoder.encode(self.texts)
        v = mean_cross_cosine(x[self.head], x[self.tail])
        self._memo[key] = v
        return v

    def __call__(self, encoder: Encoder) -> dict[str, float]:
        return {"avg_cosine/value": self.value(encoder)}


def parse_avg_cosine(spec: str | float | None) -> str | float:
    """Parse ``--avg-cosine``: a float in [-1, 1), ``paper`` or ``sample`` (default)."""
    if spec is None or spec == "sample":
        return "sample"
    if spec == "paper":
        return "paper"
    try:
        v = float(spec)
    except (TypeError, ValueError):
        raise ConfigError(f"--avg-cosine {spec!r} is not valid. Fix: give a number like 0.092, 'paper' or "
                          "'sample'.") from None
    if not -1.0 <= v < 1.0 or np.isnan(v):
        raise ConfigError(f"--avg-cosine {v} is out of range. Fix: give a value in [-1, 1).")
    return v


def paper_avg_cosine(model: str) -> float:
    """The paper's published normalizer for a registry name, or a clear error."""
    from safe_embed.encoders.registry import canonical_name

    name = canonical_name(model)
    if name not in PAPER_AVG_COSINE:
        raise ConfigError(f"the paper publishes no avg cosine for {model!r}. Fix: use --avg-cosine sample, a number, "
                          f"or one of the paper's models: {', '.join(PAPER_AVG_COSINE)}.")
    return PAPER_AVG_COSINE[name]
