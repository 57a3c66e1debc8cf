"""Seeded train/val/test splits of the training sets; XSTest never enters any of them.

Do-Not-Answer ids are split per harm category (stratified) into train/val/test; each Safety-Contrast row follows its
original's id. JBB behaviour pairs are split by pair index (stratified by JBB category) into train/val; OKTest's own
``OKTest`` / ``OKTest_heldout`` split is kept (held-out prompts that also occur in ``OKTest`` are dropped from val).
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from safe_embed.errors import ConfigError

SPLIT_NAMES = ("train", "val", "test")


@dataclass
class Splits:
    """Ids per split: ``do_not_answer`` (DNA ids, also the Safety-Contrast ids), ``jbb`` (pair indices)."""

    seed: int
    fractions: tuple[float, float, float]
    do_not_answer: dict[str, list[int]]
    jbb: dict[str, list[str]] = field(default_factory=dict)
    note: str = "XSTest (xstest/ and safe_embed/xstest_aug.csv) is held out: never in train, val or test here."

    def split_of(self) -> dict[int, str]:
        """Map DNA id -> split name."""
        return {i: name for name, ids in self.do_not_answer.items() for i in ids}

    def to_json(self) -> dict:
        d = asdict(self)
        d["fractions"] = list(self.fractions)
        d["counts"] = {"do_not_answer": {k: len(v) for k, v in self.do_not_answer.items()},
                       "jbb": {k: len(v) for k, v in self.jbb.items()}}
        return d

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=1))
        return path


def check_fractions(fractions: tuple[float, float, float] | list[float]) -> tuple[float, float, float]:
    f = tuple(float(x) for x in fractions)
    if len(f) != 3 or any(x < 0 for x in f) or abs(sum(f) - 1.0) > 1e-6:
        raise ConfigError(f"split fractions must be three non-negative numbers summing to 1 (train, val, test), "
                          f"got {list(fractions)}. Fix: e.g. [0.7, 0.1, 0.2].")
    return f  # type: ignore[return-value]


def stratified_split(ids: list, groups: list[str], fractions: tuple[float, ...], seed: int) -> list[list]:
    """Split ``ids`` into ``len(fractions)`` parts, per group, seeded; every part order is sorted.

    Per group of size n the part sizes are ``round(n * f)`` for all but the first part, which takes the rest, so
    small groups still put at least their share in train.

    >>> [len(p) for p in stratified_split(list(range(10)), ["a"] * 10, (0.7, 0.1, 0.2), seed=0)]
    [7, 1, 2]
    """
    if len(ids) != len(groups):
        raise ValueError(f"{len(ids)} ids but {len(groups)} groups")
    by_group: dict[str, list] = defaultdict(list)
    for i, g in zip(ids, groups):
        by_group[g].append(i)
    rng = random.Random(seed)
    parts: list[list] = [[] for _ in fractions]
    for g in sorted(by_group):
        members = sorted(by_group[g])
        rng.shuffle(members)
        sizes = [round(len(members) * f) for f in fractions[1:]]
        first = len(members) - sum(sizes)
        start = 0
        for k, size in enumerate([first, *sizes]):
            parts[k].extend(members[start:start + size])
            start += size
    return [sorted(p) for p in parts]


def make_splits(dna_ids: list[int], dna_categories: list[str], seed: int,
                fractions: tuple[float, float, float] = (0.7, 0.1, 0.2),
                jbb_ids: list[str] | None = None, jbb_categories: list[str] | None = None,
                jbb_val_fraction: float = 0.3) -> Splits:
    """Build the seeded splits.

    >>> s = make_splits(list(range(20)), ["a", "b"] * 10, seed=1)
    >>> sorted(len(v) for v in s.do_not_answer.values())
    [2, 4, 14]
    """
    fractions = check_fractions(fractions)
    if len(set(dna_ids)) != len(dna_ids):
        raise ValueError("Do-Not-Answer ids must be unique")
    parts = stratified_split(list(dna_ids), list(dna_categories), fractions, seed)
    splits = Splits(seed=seed, fractions=fractions, do_not_answer=dict(zip(SPLIT_NAMES, parts)))
    if jbb_ids:
        if not 0.0 <= jbb_val_fraction < 1.0:
            raise ConfigError(f"jbb_val_fraction must be in [0, 1), got {jbb_val_fraction}.")
        tr, va = stratified_split(list(jbb_ids), list(jbb_categories or ["all"] * len(jbb_ids)),
                                  (1.0 - jbb_val_fraction, jbb_val_fraction), seed)
        splits.jbb = {"train": tr, "val": va}
    return splits
