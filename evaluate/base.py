"""The evaluator protocol: data and options in ``__init__``, ``__call__(encoder) -> dict[str, float]``."""

from __future__ import annotations

from abc import ABC, abstractmethod

from safe_embed.encoders.base import Encoder


class Evaluator(ABC):
    """Base class for Safe-Embed evaluators. Subclasses compute; writing files is the report's job."""

    name: str = "evaluator"
    primary_metric: str = ""

    @abstractmethod
    def __call__(self, encoder: Encoder) -> dict[str, float]:
        """Evaluate ``encoder``; keys are ``"<name>/<metric>"``."""
