"""What a detector returns: a :class:`Detection` per prompt, with its :class:`Neighbor` exemplars as evidence, and
the :class:`PreparedTexts` of a batch embedded but not yet scored."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# detection flags (``repaired``: text_policy.py; a deciding view other than the original is flagged by its name)
EMPTY, MATCHED, WINDOWED, UNCHECKED_TAIL = "empty", "matched", "windowed", "unchecked_tail"


@dataclass(frozen=True)
class Neighbor:
    """One nearby exemplar; ``category_inferred``: its category was inferred from its neighbours when the detector
    was built (see :mod:`~safe_embed.detector.category_inference`), not given by its source."""

    id: str
    text: str
    label: str
    category: str | None
    similarity: float
    category_inferred: bool = False

    def to_dict(self) -> dict:
        return {"id": self.id, "text": self.text, "label": self.label, "category": self.category,
                "similarity": self.similarity, "category_inferred": self.category_inferred}


@dataclass(frozen=True)
class Detection:
    """The verdict for one prompt: ``label`` (unsafe/safe), ``score`` in [0, 1] (0.5 or more = unsafe),
    ``category`` (when ``label`` is unsafe, the top category of ``category_scores`` if it reaches its threshold,
    else None), ``neighbors`` (the top-k exemplars of both classes), ``flags``, ``span``: the character span of
    the part of the prompt that decided (the whole prompt when it fits the encoder's window), and
    ``category_scores``: category -> score in [0, 1] over the detector's categories, the share of each among the
    nearest categorised unsafe exemplars (see :mod:`~safe_embed.detector.categories`; empty for an empty text).

    Flags: ``empty``; ``repaired`` (see the text policy); ``matched`` (a near copy of an exemplar, which gave its
    label); ``windowed`` (read in overlapping windows: the verdict is the most unsafe one's); the name of the text
    view that decided when it is not the prompt as given (``normalized``, ``decoded:base64``, ...; its span is in
    that view's text); ``sentence`` (one sentence of the prompt, read alone, decided; its span is the
    sentence's); ``unchecked_tail`` (longer than the detector's ceiling: the rest was not read).

    >>> Detection("safe", 0.0, None, flags=("empty",)).to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'label': 'safe', 'score': 0.0, 'category': None, 'category_scores': {}, 'neighbors': [], 'flags': ['empty'],
     'span': None}
    """

    label: str
    score: float
    category: str | None
    neighbors: tuple[Neighbor, ...] = ()
    flags: tuple[str, ...] = ()
    span: tuple[int, int] | None = None
    category_scores: dict[str, float] = field(default_factory=dict)

    @property
    def checked(self) -> bool:
        """Whether every character of the prompt was read (no ``unchecked_tail``)."""
        return UNCHECKED_TAIL not in self.flags

    def to_dict(self) -> dict:
        """A JSON-ready dict; built field by field (``dataclasses.asdict`` deep-copies and costs a service ~15% of
        its per-request time)."""
        return {"label": self.label, "score": self.score, "category": self.category,
                "category_scores": dict(self.category_scores), "neighbors": [n.to_dict() for n in self.neighbors],
                "flags": list(self.flags),
                "span": None if self.span is None else list(self.span)}


@dataclass(frozen=True)
class Unit:
    """One piece of a prompt the encoder reads whole: text ``index`` in the batch, its ``view``, the character span
    ``start:end`` of the view's text that ``body`` holds, and ``sentence``: None for the view or one of its windows,
    else the kind of sentence of the view it is (``"sentence"``, ``"first_sentence"``, ``"last_sentence"``: see
    :mod:`~safe_embed.detector.coverage_verdict`)."""

    index: int
    view: str
    start: int
    end: int
    body: str
    sentence: str | None = None


EMPTY_DETECTION = Detection("safe", 0.0, None, (), (EMPTY,))


@dataclass(frozen=True)
class PreparedTexts:
    """Texts after the text policy, cut into embedded units (see
    :meth:`~safe_embed.detector.detector.Detector.prepare_classify` and :mod:`~safe_embed.detector.coverage`).

    ``units``: the views and windows of the non-empty texts; ``vectors`` has one row per unit; ``unchecked``: per
    text, whether a part of it was not read (past the ceiling, or a window the encoder could not cut).
    """

    texts: tuple[str, ...]
    repaired: tuple[bool, ...]
    units: tuple[Unit, ...]
    vectors: np.ndarray = field(repr=False)
    unchecked: tuple[bool, ...] = ()
