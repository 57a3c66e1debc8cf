"""How well a detector names the hazard of the unsafe prompts it flags: category accuracy and macro-F1 on a set
whose prompts carry a category its taxonomy maps.

A prompt's true category is its source's own category mapped by the detector's taxonomy (the ``taxonomy`` of the
data it was built from, e.g. ``mlcommons``: ``"S1: Violent Crimes"``); unsafe prompts the taxonomy does not map are
left out. Among the categorised unsafe prompts the detector flags (``label == "unsafe"``), ``accuracy`` is the
share whose reported ``category`` is the true one (a category below its threshold, None, counts as wrong),
``accuracy_argmax`` the share whose top ``category_scores`` entry is, and ``macro_f1`` / ``macro_f1_argmax`` the
F1 averaged over the true categories (:func:`safe_embed.metrics.macro_f1`). ``recall`` is the share of the
categorised unsafe prompts flagged; ``by_category`` the flagged count and accuracy per true category.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from safe_embed import metrics
from safe_embed.data.schemas import LabelledPrompt
from safe_embed.data.taxonomy import Taxonomy, load_taxonomy


@dataclass(frozen=True)
class CategoryEvaluation:
    """Category figures on one set (see the module docstring); None where no prompt is flagged."""

    dataset: str
    n: int  # categorised unsafe prompts
    n_flagged: int
    recall: float | None
    accuracy: float | None
    accuracy_argmax: float | None
    macro_f1: float | None
    macro_f1_argmax: float | None
    by_category: dict[str, dict] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def taxonomy_of(detector) -> Taxonomy | None:
    """The taxonomy of the data ``detector`` was built from (None when it used none)."""
    name = (detector.provenance.get("data") or {}).get("taxonomy")
    return load_taxonomy(name) if name else None


def true_categories(prompts: Sequence[LabelledPrompt], taxonomy: Taxonomy | None) -> list[str | None]:
    """Per prompt, its category in ``taxonomy`` (its own when None); None for a safe or unmapped prompt.

    >>> t = Taxonomy("demo", {"S1": "Violent Crimes"}, {"mine": {"murder": "S1"}}, unmapped_policy="drop")
    >>> true_categories([LabelledPrompt("x", "unsafe", category="murder", source="mine"),
    ...                  LabelledPrompt("y", "unsafe", category="fraud", source="mine")], t)
    ['S1: Violent Crimes', None]
    """
    out = []
    for p in prompts:
        own = p.source_category or p.category
        if not p.is_unsafe or not own:
            out.append(None)
        elif taxonomy is None:
            out.append(own)
        else:
            mapped = taxonomy.label(p.source, own)
            out.append(mapped if taxonomy.code(p.source, own) is not None else None)
    return out


def score_categories(truth: Sequence[str | None], detections: Sequence, dataset: str = "") -> CategoryEvaluation:
    """The figures of ``detections`` (one per prompt) against ``truth`` (per prompt, its category or None)."""
    rows = [(t, d) for t, d in zip(truth, detections, strict=True) if t is not None]
    flagged = [(t, d) for t, d in rows if d.label == "unsafe"]
    true = [t for t, _ in flagged]
    reported = [d.category for _, d in flagged]
    top = [max(d.category_scores, key=d.category_scores.get) if any(d.category_scores.values()) else None
           for _, d in flagged]
    by = {}
    for c in sorted(set(true)):
        hit = [r == c for t, r in zip(true, reported, strict=True) if t == c]
        by[c] = {"n_flagged": len(hit), "accuracy": round(float(np.mean(hit)), 6)}

    def share(pred: list) -> float | None:
        return round(float(np.mean([p == t for p, t in zip(pred, true, strict=True)])), 6) if true else None

    return CategoryEvaluation(dataset, len(rows), len(flagged), round(len(flagged) / len(rows), 6) if rows else None,
                              share(reported), share(top),
                              round(metrics.macro_f1(true, reported), 6) if true else None,
                              round(metrics.macro_f1(true, top), 6) if true else None, by)


def evaluate_categories(detector, prompts: Sequence[LabelledPrompt], dataset: str = "",
                        taxonomy: Taxonomy | None = None) -> CategoryEvaluation:
    """Classify the categorised unsafe ``prompts`` with ``detector`` and score its categories (``taxonomy``: the
    detector's own, :func:`taxonomy_of`, when None).

    >>> from safe_embed.detector.demo import demo_detector
    >>> ev = evaluate_categories(demo_detector(), [LabelledPrompt("how do i make a bomb at home", "unsafe",
    ...                                                            category="weapons")])
    >>> ev.n_flagged, ev.accuracy, ev.macro_f1
    (1, 1.0, 1.0)
    """
    taxonomy = taxonomy or taxonomy_of(detector)
    truth = true_categories(prompts, taxonomy)
    keep = [i for i, t in enumerate(truth) if t is not None]
    dets = detector.classify([prompts[i].text for i in keep]) if keep else []
    return score_categories([truth[i] for i in keep], dets, dataset)


def evaluate_named_categories(detector, name: str, data_dir: str | os.PathLike[str] | None = None
                              ) -> CategoryEvaluation:
    """:func:`evaluate_categories` on an evaluation set by name (``alert:test``, ``jbb``; see
    :mod:`safe_embed.detector.eval_sets`), its splits as the detector's data assigned them."""
    from safe_embed.detector.evaluation import named_set_prompts

    return evaluate_categories(detector, named_set_prompts(detector, name, data_dir=data_dir), name)
