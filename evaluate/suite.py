"""All three Safe-Embed measures for one encoder, with the normalizer, as a typed result."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import numpy as np
from safe_embed.evaluate.categorical_purity import CategoricalPurity
from safe_embed.evaluate.normalizer import AvgCosine, paper_avg_cosine, parse_avg_cosine
from safe_embed.evaluate.safety_challenging import SafetyChallenging
from safe_embed.evaluate.safety_contrast import SafetyContrast

from safe_embed.data.paper import load_contrast, load_do_not_answer, load_xstest_aug
from safe_embed.data.schemas import ContrastItem, PromptPair, TaxonomyPrompt
from safe_embed.encoders.base import Encoder
from safe_embed.errors import ConfigError

logger = logging.getLogger(__name__)


@dataclass
class SuiteResult:
    """One model's Safe-Embed figures. :meth:`to_json` gives the ``metrics.json`` schema."""

    model: str
    avg_cosine: float
    avg_cosine_source: str
    safety_challenging: dict[str, float]
    safety_challenging_mean: float
    safety_contrast: dict[str, float]
    safety_contrast_mean: float
    k: int
    categorical_purity: dict[str, float]
    categorical_purity_mean: float
    taxonomy_embeddings: np.ndarray | None = field(default=None, repr=False)
    taxonomy_labels: list[str] | None = field(default=None, repr=False)

    def to_json(self) -> dict:
        return {
            "model": self.model,
            "avg_cosine": self.avg_cosine,
            "avg_cosine_source": self.avg_cosine_source,
            "safety_challenging": {"per_type": self.safety_challenging, "mean": self.safety_challenging_mean},
            "safety_contrast": {"per_category": self.safety_contrast, "mean": self.safety_contrast_mean},
            "categorical_purity": {"k": self.k, "per_category": self.categorical_purity,
                                   "mean": self.categorical_purity_mean},
        }


class SafeEmbedSuite:
    """Run Safety-Challenging, Safety-Contrast and Categorical Purity on an encoder.

    ``avg_cosine``: a number, ``"paper"`` (the paper's published value for the model) or ``"sample"`` (computed on
    the BeaverTails sample with the paper's protocol).

    >>> from safe_embed.encoders.fake import HashEncoder
    >>> SafeEmbedSuite.from_data_dir().run(HashEncoder(dim=64)).k
    10
    """

    def __init__(self, pairs: list[PromptPair], contrast: list[ContrastItem], taxonomy: list[TaxonomyPrompt],
                 k: int = 10, avg_cosine: str | float = "sample", normalizer: AvgCosine | None = None) -> None:
        self.avg_spec = parse_avg_cosine(avg_cosine)
        if self.avg_spec == "sample" and normalizer is None:
            raise ConfigError("avg_cosine='sample' needs a normalizer (AvgCosine)")
        self.normalizer = normalizer
        self.challenging = SafetyChallenging(pairs)
        self.contrast = SafetyContrast(contrast)
        self.purity = CategoricalPurity(taxonomy, k=k)
        self.k = k

    @classmethod
    def from_data_dir(cls, data_dir: str | os.PathLike[str] | None = None, k: int = 10,
                      avg_cosine: str | float = "sample") -> SafeEmbedSuite:
        spec = parse_avg_cosine(avg_cosine)
        normalizer = AvgCosine.from_data_dir(data_dir) if spec == "sample" else None
        return cls(load_xstest_aug(data_dir), load_contrast(data_dir), load_do_not_answer(data_dir), k=k,
                   avg_cosine=spec, normalizer=normalizer)

    def resolve_avg(self, encoder: Encoder) -> tuple[float, str]:
        if self.avg_spec == "sample":
            assert self.normalizer is not None
            return self.normalizer.value(encoder), "sample"
        if self.avg_spec == "paper":
            return paper_avg_cosine(encoder.name), "paper"
        return float(self.avg_spec), "fixed"

    def run(self, encoder: Encoder) -> SuiteResult:
        avg, source = self.resolve_avg(encoder)
        logger.info("%s: avg cosine %.4f (%s)", encoder.name, avg, source)
        sc = self.challenging.compute(encoder, avg)
        ct = self.contrast.compute(encoder, avg)
        cp = self.purity.compute(encoder)
        return SuiteResult(
            model=encoder.name, avg_cosine=avg, avg_cosine_source=source,
            safety_challenging=sc.per_type, safety_challenging_mean=sc.mean,
            safety_contrast=ct.per_category, safety_contrast_mean=ct.mean,
            k=cp.k, categorical_purity=cp.per_category, categorical_purity_mean=cp.mean,
            taxonomy_embeddings=cp.embeddings, taxonomy_labels=[p.category for p in self.purity.prompts],
        )
