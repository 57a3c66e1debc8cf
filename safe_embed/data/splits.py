"""The one splitter: seeded, stratified, group-aware train/val/test assignment of labelled prompts.

Rules, in order:

1. Rows are grouped: the same normalized text (:func:`text_key`) and the same ``pair_id`` always join one group,
   so a prompt, its duplicates and its look-alike twins land in one split.
2. A group with a fixed split (a row's own ``split``: a set's native split or a source's ``split:``) takes the
   most protective of them (``test`` over ``val`` over ``train``).
3. Other groups are stratified by (source, label, category) of their first row; inside a stratum they are ordered
   by a seeded hash of their text and cut at the cumulative fractions. A row's split therefore depends on the
   seed, the fractions and its own stratum only: adding an unrelated source or changing a sample size moves
   nothing.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections import defaultdict
from collections.abc import Sequence

from safe_embed.data.schemas import SPLITS, LabelledPrompt
from safe_embed.errors import ConfigError

DEFAULT_FRACTIONS = (0.7, 0.1, 0.2)
_PROTECTION = {"train": 0, "val": 1, "test": 2}


def text_key(text: str) -> str:
    """Case-, whitespace- and Unicode-form-insensitive key: texts with the same key are the same prompt.

    >>> text_key("  How do I  KILL a process? ") == text_key("how do i kill a process?")
    True
    """
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


def text_hash(text: str) -> str:
    """A 16-hex-digit sha256 of :func:`text_key` (what ``splits.json`` stores per row)."""
    return hashlib.sha256(text_key(text).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def recorded_elsewhere(text: str, split: str | None, recorded: tuple[set[str], dict[str, str]] | None) -> bool:
    """Whether a run's ``recorded`` splits (held-out hashes, hash -> split) held ``text`` out or put it in a split
    other than ``split``: a generated row that must be left out to keep the run's splits.

    >>> recorded_elsewhere("a", "train", ({text_hash("a")}, {})), recorded_elsewhere("a", "train", None)
    (True, False)
    """
    if recorded is None:
        return False
    h = text_hash(text)
    return h in recorded[0] or recorded[1].get(h, split) != split


def check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    """Three non-negative numbers summing to 1 (train, val, test)."""
    try:
        f = tuple(float(x) for x in fractions)
    except (TypeError, ValueError):
        f = ()
    if len(f) != 3 or any(x < 0 for x in f) or abs(sum(f) - 1.0) > 1e-6:
        raise ConfigError(f"split fractions must be three non-negative numbers summing to 1 (train, val, test), "
                          f"got {fractions!r}. Fix: e.g. [0.7, 0.1, 0.2].")
    return f  # type: ignore[return-value]


class _Groups:
    """Union-find over row positions."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def groups_of(prompts: Sequence[LabelledPrompt]) -> list[int]:
    """Group id (the smallest member position) of every row: same text key or same ``pair_id``."""
    g = _Groups(len(prompts))
    first: dict[tuple[str, str], int] = {}
    for i, p in enumerate(prompts):
        for key in (("t", text_key(p.text)), ("p", p.pair_id) if p.pair_id else None):
            if key is None:
                continue
            j = first.setdefault(key, i)
            if j != i:
                g.union(i, j)
    return [g.find(i) for i in range(len(prompts))]


def seeded_rank(seed: int, key: str) -> str:
    """A seeded, stable order key for ``key``: rows, groups and templates are ranked by it."""
    return hashlib.sha256(f"{seed}\0{key}".encode("utf-8", "surrogatepass")).hexdigest()


def assign_splits(prompts: Sequence[LabelledPrompt], seed: int = 0,
                  fractions: Sequence[float] = DEFAULT_FRACTIONS) -> list[str]:
    """The split of every row (see the module docstring for the rules).

    >>> rows = [LabelledPrompt(f"prompt {i}", "unsafe" if i % 2 else "safe") for i in range(20)]
    >>> s = assign_splits(rows, seed=0)
    >>> [s.count(x) for x in ("train", "val", "test")]
    [14, 2, 4]
    """
    fr = check_fractions(fractions)
    for p in prompts:
        if p.split is not None and p.split not in SPLITS:
            raise ConfigError(f"row {p.id!r} of {p.source!r} has split {p.split!r}; use one of {list(SPLITS)}.")
    gid = groups_of(prompts)
    members: dict[int, list[int]] = defaultdict(list)
    for i, g in enumerate(gid):
        members[g].append(i)
    split_of: dict[int, str] = {}
    strata: dict[tuple, list[int]] = defaultdict(list)
    for g, rows in members.items():
        fixed = [prompts[i].split for i in rows if prompts[i].split]
        if fixed:
            split_of[g] = max(fixed, key=_PROTECTION.__getitem__)
            continue
        head = prompts[rows[0]]
        label = "unsafe" if any(prompts[i].label == "unsafe" for i in rows) else "safe"
        category = next((prompts[i].category for i in rows if prompts[i].label == "unsafe" and prompts[i].category),
                        None)
        strata[(head.source or "", label, category or "")].append(g)
    bounds = (fr[0], fr[0] + fr[1])
    for key in sorted(strata):
        groups = sorted(strata[key], key=lambda g: seeded_rank(seed, min(text_key(prompts[i].text) for i in members[g])))
        total = sum(len(members[g]) for g in groups)
        done = 0
        for g in groups:
            size = len(members[g])
            mid = (done + size / 2) / total
            split_of[g] = "train" if mid < bounds[0] else "val" if mid < bounds[1] else "test"
            done += size
    return [split_of[g] for g in gid]


def sample_rows(prompts: Sequence[LabelledPrompt], n: int, seed: int) -> list[LabelledPrompt]:
    """At most ``n`` rows, drawn per (split, label) in proportion and in seeded-hash order (deterministic).

    >>> rows = [LabelledPrompt(f"p{i}", "unsafe", split="train" if i < 8 else "test") for i in range(10)]
    >>> sorted(p.split for p in sample_rows(rows, 5, seed=0))
    ['test', 'train', 'train', 'train', 'train']
    """
    prompts = list(prompts)
    if n >= len(prompts):
        return prompts
    cells: dict[tuple, list[int]] = defaultdict(list)
    for i, p in enumerate(prompts):
        cells[(p.split or "", p.label)].append(i)
    keys = sorted(cells)
    exact = {k: n * len(cells[k]) / len(prompts) for k in keys}
    quota = {k: int(exact[k]) for k in keys}
    for k in sorted(keys, key=lambda k: exact[k] - quota[k], reverse=True)[: n - sum(quota.values())]:
        quota[k] += 1  # largest remainders
    keep: set[int] = set()
    for k in keys:
        order = sorted(cells[k], key=lambda i: seeded_rank(seed, "sample\0" + text_key(prompts[i].text)))
        keep.update(order[: quota[k]])
    return [p for i, p in enumerate(prompts) if i in keep]
