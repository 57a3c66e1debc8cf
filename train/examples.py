"""Training examples and held-out evaluation sets, built from the datasets and the splits.

An :class:`Anchor` is an unsafe prompt with its harm category and its minimally edited safe twins (Safety-Contrast
edits for Do-Not-Answer, the benign twin for JBB). Benign look-alikes (OKTest) form a separate pool of safe texts.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field

from safe_embed.train.splits import Splits, make_splits

from safe_embed.data import load_contrast, load_do_not_answer, load_labelled
from safe_embed.data.augment import target_swaps
from safe_embed.data.schemas import ContrastItem, PromptPair, TaxonomyPrompt
from safe_embed.errors import ConfigError

TRAIN_SETS = ("do-not-answer", "safety-contrast", "jbb", "oktest", "advbench", "target-swap")
# "target-swap" is not a file: it adds rule-made twins (safe_embed.data.augment) to the training anchors.
HELD_OUT = ("xstest", "xstest-aug")


@dataclass(frozen=True)
class Anchor:
    """An unsafe prompt, its category (None when unknown) and its safe twins (may be empty)."""

    text: str
    category: str | None
    twins: tuple[str, ...] = ()
    source: str = ""


@dataclass
class PartData:
    """One split's training material: anchors and benign look-alikes."""

    anchors: list[Anchor] = field(default_factory=list)
    lookalikes: list[str] = field(default_factory=list)


@dataclass
class EvalSets:
    """Held-out measurement sets of one split (val or test)."""

    taxonomy: list[TaxonomyPrompt]
    contrast: list[ContrastItem]
    jbb_pairs: list[PromptPair] = field(default_factory=list)
    lookalikes: list[str] = field(default_factory=list)


@dataclass
class TrainingData:
    splits: Splits
    parts: dict[str, PartData]
    evals: dict[str, EvalSets]


def check_train_sets(train_sets: list[str]) -> list[str]:
    """Validate the configured training sets; XSTest is refused."""
    out = []
    for name in train_sets:
        if name in HELD_OUT:
            raise ConfigError(f"train set {name!r} is the held-out generalization test and is never trained on. "
                              f"Fix: remove it from data.train_sets (allowed: {', '.join(TRAIN_SETS)}).")
        if name not in TRAIN_SETS:
            raise ConfigError(f"unknown train set {name!r}. Fix: use some of {', '.join(TRAIN_SETS)}.")
        out.append(name)
    if "do-not-answer" not in out:
        raise ConfigError("data.train_sets must include 'do-not-answer' (the split and validation are built on it).")
    return out


def _dedupe(texts: list[str]) -> list[str]:
    return list(dict.fromkeys(t for t in texts if t.strip()))


def held_out_texts(data_dir: str | os.PathLike[str] | None) -> set[str]:
    """Every XSTest and XSTest-aug prompt: removed from all training, validation and test material here."""
    return {p.text for name in HELD_OUT for p in load_labelled(name, data_dir)}


def _same_text_same_split(splits: Splits, dna: list[TaxonomyPrompt]) -> None:
    """Do-Not-Answer repeats a few questions under two ids: keep every copy in the split of the first id."""
    where = splits.split_of()
    first: dict[str, int] = {}
    for p in sorted(dna, key=lambda p: p.id):
        keep = first.setdefault(p.text, p.id)
        if keep != p.id and where[p.id] != where[keep]:
            splits.do_not_answer[where[p.id]].remove(p.id)
            splits.do_not_answer[where[keep]].append(p.id)
            splits.do_not_answer[where[keep]].sort()


def build_training_data(data_dir: str | os.PathLike[str] | None, train_sets: list[str], seed: int,
                        fractions: tuple[float, float, float] = (0.7, 0.1, 0.2), jbb_val_fraction: float = 0.3,
                        target_swaps_per_anchor: int = 2) -> TrainingData:
    """Load the sets, split them, and build train/val anchors plus val/test evaluation sets.

    >>> # build_training_data("../shared/data", ["do-not-answer", "safety-contrast", "jbb", "oktest"], seed=0)
    """
    train_sets = check_train_sets(train_sets)
    dna = load_do_not_answer(data_dir)
    contrast = {c.id: c for c in load_contrast(data_dir)}
    jbb = load_labelled("jbb", data_dir)
    jbb_pairs: dict[str, dict[str, str]] = {}
    jbb_cat: dict[str, str] = {}
    for p in jbb:
        jbb_pairs.setdefault(str(p.pair_id), {})[p.label] = p.text
        jbb_cat[str(p.pair_id)] = p.category or "unknown"
    jbb_ids = sorted((i for i, d in jbb_pairs.items() if {"safe", "unsafe"} <= set(d)), key=int)
    splits = make_splits([p.id for p in dna], [p.category for p in dna], seed, fractions,
                         jbb_ids=jbb_ids, jbb_categories=[jbb_cat[i] for i in jbb_ids],
                         jbb_val_fraction=jbb_val_fraction)
    _same_text_same_split(splits, dna)
    where = splits.split_of()
    use_twins = "safety-contrast" in train_sets

    parts = {name: PartData() for name in ("train", "val")}
    for p in dna:
        split = where[p.id]
        if split in parts:
            twins = contrast[p.id].edits if use_twins and p.id in contrast else ()
            parts[split].anchors.append(Anchor(p.text, p.category, tuple(twins), "do-not-answer"))
    jbb_split = {i: s for s, ids in splits.jbb.items() for i in ids}
    if "jbb" in train_sets:
        for i in jbb_ids:
            d = jbb_pairs[i]
            parts[jbb_split[i]].anchors.append(Anchor(d["unsafe"], f"jbb:{jbb_cat[i]}", (d["safe"],), "jbb"))
    oktest = load_labelled("oktest", data_dir)
    ok_train = _dedupe([p.text for p in oktest if p.type != "OKTest_heldout"])
    seen = set(ok_train)
    ok_val = _dedupe([p.text for p in oktest if p.type == "OKTest_heldout" and p.text not in seen])
    if "oktest" in train_sets:
        parts["train"].lookalikes = ok_train
        parts["val"].lookalikes = ok_val
    if "advbench" in train_sets:
        parts["train"].anchors.extend(Anchor(p.text, None, (), "advbench") for p in load_labelled("advbench", data_dir))
    if "target-swap" in train_sets:
        rng = random.Random(seed)
        parts["train"].anchors = [
            Anchor(a.text, a.category, (*a.twins, *target_swaps(a.text, rng, n=target_swaps_per_anchor)), a.source)
            for a in parts["train"].anchors]
    # JBB's held-out pairs (all of JBB when it is not a training set) are test data too; AdvBench repeats some of
    # JBB's harmful behaviours word for word, so those copies go as well.
    jbb_test = {i for i in jbb_ids if "jbb" not in train_sets or jbb_split[i] != "train"}
    banned = held_out_texts(data_dir) | {t for i in jbb_test for t in jbb_pairs[i].values()}
    for part in parts.values():  # one anchor per text (duplicates are false negatives in-batch); no XSTest text
        uniq: dict[str, Anchor] = {}
        for a in part.anchors:
            if a.text not in banned:
                uniq.setdefault(a.text, Anchor(a.text, a.category, tuple(t for t in a.twins if t not in banned),
                                               a.source))
        part.anchors = list(uniq.values())
        part.lookalikes = [t for t in part.lookalikes if t not in banned]

    evals = {}
    for split in ("val", "test"):
        ids = set(splits.do_not_answer[split])
        pairs = []
        if split == "val" and "jbb" in train_sets:  # without JBB training pairs, all of JBB stays a test set
            for i in splits.jbb.get("val", []):
                pairs.append(PromptPair(id=int(i), type_id=0, type=jbb_cat[i], unsafe=jbb_pairs[i]["unsafe"],
                                        safe=jbb_pairs[i]["safe"], focus=""))
        evals[split] = EvalSets(taxonomy=[p for p in dna if p.id in ids and p.text not in banned],
                                contrast=[contrast[i] for i in sorted(ids) if i in contrast
                                          and not ({contrast[i].original, *contrast[i].edits} & banned)],
                                jbb_pairs=pairs, lookalikes=ok_val if split == "val" else [])
    return TrainingData(splits=splits, parts=parts, evals=evals)
