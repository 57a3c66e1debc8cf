"""Evaluators for the Safe-Embed measures, the suite that runs them, and reports."""

from __future__ import annotations

from safe_embed.evaluate.base import Evaluator
from safe_embed.evaluate.categorical_purity import CategoricalPurity
from safe_embed.evaluate.normalizer import PAPER_AVG_COSINE, AvgCosine
from safe_embed.evaluate.safety_challenging import SafetyChallenging
from safe_embed.evaluate.safety_contrast import SafetyContrast
from safe_embed.evaluate.suite import SafeEmbedSuite, SuiteResult

__all__ = ["PAPER_AVG_COSINE", "AvgCosine", "CategoricalPurity", "Evaluator", "SafeEmbedSuite", "SafetyChallenging",
           "SafetyContrast", "SuiteResult"]
