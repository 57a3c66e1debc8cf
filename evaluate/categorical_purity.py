"""Safety-Taxonomy Categorical Purity: CP@k over the Do-Not-Answer harm categories."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from safe_embed.evaluate.base import Evaluator

from safe_embed.data.schemas import TaxonomyPrompt
from safe_embed.encoders.base import Encoder
from safe_embed.errors import DataError
from safe_embed.metrics import categorical_purity, group_mean


@dataclass
class CategoricalPurityResult:
    k: int
    per_category: dict[str, float]
    mean: float  # mean over categories (macro)
    per_item: np.ndarray
    embeddings: np.ndarray


class CategoricalPurity(Evaluator):
    """Higher is better: a prompt's k nearest neighbours share its harm category.

    >>> from safe_embed.encoders.fake import HashEncoder
    >>> prompts = [TaxonomyPrompt(i, "", c, "", f"{c} question {i}") for i, c in enumerate(["bomb", "bomb", "scam", "scam"])]
    >>> CategoricalPurity(prompts, k=1)(HashEncoder(dim=64))["categorical_purity/mean"]
    1.0
    """

    name = "categorical_purity"
    primary_metric = "categorical_purity/mean"

    def __init__(self, prompts: list[TaxonomyPrompt], k: int = 10) -> None:
        if k < 1:
            raise DataError(f"k must be >= 1, got {k}")
        if len(prompts) <= k:
            raise DataError(f"Categorical Purity with k={k} needs more than {k} prompts, got {len(prompts)}")
        self.prompts = prompts
        self.k = k

    def compute(self, encoder: Encoder) -> CategoricalPurityResult:
        x = encoder.encode([p.text for p in self.prompts])
        labels = [p.category for p in self.prompts]
        per_item = categorical_purity(x, labels, self.k)
        per_cat = group_mean(per_item, labels)
        return CategoricalPurityResult(k=self.k, per_category=per_cat, mean=float(np.mean(list(per_cat.values()))),
                                       per_item=per_item, embeddings=x)

    def __call__(self, encoder: Encoder) -> dict[str, float]:
        r = self.compute(encoder)
        return {"categorical_purity/mean": r.mean,
                **{f"categorical_purity/{c}": v for c, v in r.per_category.items()}}
