"""What a detector returns: a :class:`Detection` per prompt, with its :class:`Neighbor` exemplars as evidence, and
the :class:`PreparedTexts` of a batch embedded but not yet scored."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

EMPTY, TRUNCATED, MATCHED = "empty", "truncated", "matched"  # detection flags (``repaired``: text_policy.py)


@dataclass(frozen=True)
class Neighbor:
    """One nearby exemplar."""

    id: str
    text: str
    label: str
    category: str | None
    similarity: float

    def to_dict(self) -> dict:
        return {"id": self.id, "text": self.text, "label": self.label, "category": self.category,
                "similarity": self.similarity}


@dataclass(frozen=True)
class Detection:
    """The verdict for one prompt: ``label`` (unsafe/safe), ``score`` in [0, 1] (0.5 or more = unsafe),
    ``category`` (majority of the nearest unsafe exemplars' categories when ``label`` is unsafe, else None),
    ``neighbors`` (the top-k exemplars of both classes) and ``flags`` (``empty``, ``truncated``, ``repaired``,
    ``matched``: a near copy of an exemplar, which gave its label).

    >>> Detection("safe", 0.0, None, flags=("empty",)).to_dict()
    {'label': 'safe', 'score': 0.0, 'category': None, 'neighbors': [], 'flags': ['empty']}
    """

    label: str
    score: float
    category: str | None
    neighbors: tuple[Neighbor, ...] = ()
    flags: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """A JSON-ready dict; built field by field (``dataclasses.asdict`` deep-copies and costs a service ~15% of
        its per-request time)."""
        return {"label": self.label, "score": self.score, "category": self.category,
                "neighbors": [n.to_dict() for n in self.neighbors], "flags": list(self.flags)}


EMPTY_DETECTION = Detection("safe", 0.0, None, (), (EMPTY,))


@dataclass(frozen=True)
class PreparedTexts:
    """Texts after the text policy, with the embeddings of the non-empty ones (see
    :meth:`~safe_embed.detector.detector.Detector.prepare_classify`).

    ``todo``: positions of the non-empty texts, in order; ``vectors`` and ``truncated`` have one row per position.
    """

    texts: tuple[str, ...]
    repaired: tuple[bool, ...]
    todo: tuple[int, ...]
    vectors: np.ndarray = field(repr=False)
    truncated: tuple[bool, ...] = ()
