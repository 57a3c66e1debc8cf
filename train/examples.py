"""Training examples and held-out measurement sets, read from a split dataset.

Every row of a split is an :class:`Example` (text, label, category id, loss weight); rows of one ``pair_id``
group with opposite labels are each other's twins (hard negatives: a look-alike and the prompt it resembles).
Loss weights are the sources' ``weight`` scaled so that, by default, both classes carry the same total weight.
The paper's measures need their own data: Do-Not-Answer rows (Categorical Purity), Do-Not-Answer rows with their
Safety-Contrast edits (Safety-Contrast) and JBB pairs (pair cosines); :class:`EvalSets` holds what a split has.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from safe_embed.data.dataset import SplitDataset
from safe_embed.data.schemas import LABELS, ContrastItem, LabelledPrompt, PromptPair, TaxonomyPrompt


@dataclass(frozen=True)
class Example:
    """One training text: ``label`` 1 = unsafe, ``category`` index (-1 = none), loss ``weight``, and the
    positions of its twins in the split's example list."""

    text: str
    label: int
    category: int
    weight: float
    twins: tuple[int, ...] = ()


@dataclass
class EvalSets:
    """A split's material for the paper's measures (empty when the spec lacks its data)."""

    taxonomy: list[TaxonomyPrompt] = field(default_factory=list)
    contrast: list[ContrastItem] = field(default_factory=list)
    jbb_pairs: list[PromptPair] = field(default_factory=list)


def class_weights(rows: list[LabelledPrompt], balance: bool) -> dict[str, float]:
    """Per-label multipliers that give both labels the same total weight (1.0 each without ``balance``)."""
    totals = {lab: sum(r.weight for r in rows if r.label == lab) for lab in LABELS}
    if not balance or not all(totals.values()):
        return {"safe": 1.0, "unsafe": 1.0}
    mean = sum(totals.values()) / 2
    return {lab: mean / t for lab, t in totals.items()}


def make_examples(rows: list[LabelledPrompt], categories: dict[str, int], balance: bool = True) -> list[Example]:
    """Examples for ``rows``, twins linked by ``pair_id`` (opposite labels only).

    >>> rows = [LabelledPrompt("kill a person", "unsafe", pair_id="p1"), LabelledPrompt("kill a process", "safe",
    ...         pair_id="p1"), LabelledPrompt("write a poem", "safe")]
    >>> [(e.label, e.twins) for e in make_examples(rows, {})]
    [(1, (1,)), (0, (0,)), (0, ())]
    """
    cw = class_weights(rows, balance)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        if r.pair_id:
            groups[r.pair_id].append(i)
    out = []
    for i, r in enumerate(rows):
        twins = tuple(j for j in groups.get(r.pair_id or "", ()) if rows[j].label != r.label)
        cat = categories.get(r.category, -1) if r.label == "unsafe" and r.category else -1
        out.append(Example(r.text, int(r.label == "unsafe"), cat, float(r.weight) * cw[r.label], twins))
    return out


def eval_sets(ds: SplitDataset, split: str) -> EvalSets:
    """The paper-measure material of ``split``: Do-Not-Answer prompts (with their edits) and JBB pairs."""
    rows = ds.split(split)
    dna = [r for r in rows if r.source == "do-not-answer"]
    taxonomy = [TaxonomyPrompt(id=i, risk_area="", category=r.source_category or r.category or "", specific_harm="",
                               text=r.text) for i, r in enumerate(dna)]
    edits: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        if r.source == "safety-contrast" and r.pair_id:
            edits[r.pair_id].append(r.text)
    contrast = [ContrastItem(id=i, category=r.source_category or r.category or "", original=r.text,
                             edits=tuple(edits[r.pair_id])) for i, r in enumerate(dna) if edits.get(r.pair_id or "")]
    pairs: dict[str, dict[str, LabelledPrompt]] = defaultdict(dict)
    for r in rows:
        if r.source == "jbb" and r.pair_id:
            pairs[r.pair_id][r.label] = r
    jbb = [PromptPair(id=i, type_id=0, type=d["unsafe"].source_category or "", unsafe=d["unsafe"].text,
                      safe=d["safe"].text, focus="")
           for i, d in enumerate(pairs.values()) if {"safe", "unsafe"} <= set(d)]
    return EvalSets(taxonomy if len({p.category for p in taxonomy}) > 1 else [], contrast, jbb)
