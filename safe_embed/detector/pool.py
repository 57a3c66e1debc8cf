"""The exemplar pool: the two labels' exemplar indexes and the automatic-id counters, and the one place where an
addition or a removal is validated, given ids and applied, whether it comes from a caller or from a journal replay.

A change is a typed value: an :class:`Addition` (exemplars with their vectors) or a :class:`Removal` (ids).
:meth:`ExemplarPool.apply` applies either, so a change applied live and the same change replayed from a journal
give the same pool and the same ids.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from safe_embed.data.schemas import LABELS
from safe_embed.detector.categories import natural_key, votes
from safe_embed.detector.checks import check_field, label_of, labels_to_int
from safe_embed.detector.exemplar_index import ExemplarIndex
from safe_embed.detector.exemplars import Exemplar
from safe_embed.detector.limits import MAX_EXEMPLAR_CHARS
from safe_embed.detector.text_normalize import normalize
from safe_embed.detector.text_policy import clean_text
from safe_embed.encoders.base import check_texts
from safe_embed.errors import DataError


@dataclass(frozen=True)
class Addition:
    """New exemplars and their L2-normalized vectors (n, d) in embedding ``space``."""

    exemplars: tuple[Exemplar, ...]
    vectors: np.ndarray = field(repr=False)
    space: str = "fp32"

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.exemplars]


@dataclass(frozen=True)
class Removal:
    """Exemplar ids to remove."""

    ids: frozenset[str]


Change = Addition | Removal


class ExemplarPool:
    """The exemplars of both labels, their indexes, and ``next_id``: per source, the next automatic id number
    (automatic ids ``source:N`` never come back, even after a removal).

    >>> pool = ExemplarPool.build({"unsafe": [Exemplar("u:0", "x", "unsafe")], "safe": [Exemplar("s:0", "y", "safe")]},
    ...                           {"unsafe": np.eye(1, 4, 0, np.float32), "safe": np.eye(1, 4, 1, np.float32)})
    >>> rows = pool.new_exemplars(["z"], ["unsafe"], None, None, "mine")
    >>> pool.apply(Addition(rows, np.eye(1, 4, 2, np.float32))), pool.next_id, len(pool.unsafe)
    (1, {'mine': 1}, 2)
    """

    def __init__(self, indexes: Mapping[str, ExemplarIndex], next_id: Mapping[str, int] | None = None) -> None:
        self._indexes = {label: indexes[label] for label in LABELS}
        self._next_id = {str(k): int(v) for k, v in (next_id or {}).items()}
        self._categories: tuple[list[str], np.ndarray] | None = None  # computed on first use after a change
        dims = {i.dimension for i in self._indexes.values()}
        if len(dims) != 1:
            raise DataError(f"the unsafe and safe indexes have different dimensions {sorted(dims)}.")

    @classmethod
    def build(cls, exemplars: Mapping[str, list[Exemplar]], vectors: Mapping[str, np.ndarray], settings=None,
              seed: int = 0, next_id: Mapping[str, int] | None = None) -> ExemplarPool:
        """A pool indexing each label's ``exemplars`` with their ``vectors`` (FAISS ``settings``, ``seed``)."""
        return cls({label: ExemplarIndex.build(label, exemplars[label], vectors[label], settings, seed)
                    for label in LABELS}, next_id)

    @property
    def indexes(self) -> dict[str, ExemplarIndex]:
        """label -> :class:`ExemplarIndex` (a copy of the mapping; the indexes themselves are the pool's)."""
        return dict(self._indexes)

    @property
    def unsafe(self) -> list[Exemplar]:
        return self._indexes["unsafe"].exemplars

    @property
    def safe(self) -> list[Exemplar]:
        return self._indexes["safe"].exemplars

    @property
    def dimension(self) -> int:
        return self._indexes["unsafe"].dimension

    @property
    def categories(self) -> list[str]:
        """The unsafe exemplars' categories, in natural order (``S2`` before ``S10``)."""
        return list(self._category_table()[0])

    def category_numbers(self) -> np.ndarray:
        """Per unsafe exemplar (index position), the number of its category in :attr:`categories`; -1 for none."""
        return self._category_table()[1]

    def _category_table(self) -> tuple[list[str], np.ndarray]:
        if self._categories is None:  # only given categories vote (an inferred one does not: categories.votes)
            voting = [votes(e.category, e.source_category) for e in self.unsafe]
            names = sorted({e.category for e, v in zip(self.unsafe, voting, strict=True) if v}, key=natural_key)
            number = {c: i for i, c in enumerate(names)}
            self._categories = names, np.array([number[e.category] if v else -1
                                                for e, v in zip(self.unsafe, voting, strict=True)], np.int64)
        return self._categories

    def recategorise(self, exemplars: Sequence[Exemplar]) -> None:
        """Replace the unsafe exemplars with these ids by these versions (same id, text and label; a new category
        or source category), e.g. categories inferred at build time. Vectors and ids do not change."""
        self._indexes["unsafe"].update(exemplars)
        self._categories = None

    @property
    def next_id(self) -> dict[str, int]:
        return dict(self._next_id)

    def ids(self) -> set[str]:
        return self._indexes["unsafe"].ids() | self._indexes["safe"].ids()

    def search(self, x: np.ndarray, k: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """label -> top-``k`` similarities (n, k) and positions (n, k) of ``x``'s nearest exemplars; missing = -1."""
        return {label: idx.search(x, k) for label, idx in self._indexes.items()}

    # ---- validation ------------------------------------------------------------------------------------------
    def new_exemplars(self, texts: Sequence[str], labels: Sequence[str] | str,
                      categories: Sequence[str | None] | None, ids: Sequence[str | None] | None,
                      source: str, check_ids: bool = True) -> tuple[Exemplar, ...]:
        """Validated exemplars for an addition, nothing changed; every problem raises a :class:`DataError` naming
        the row. Texts, categories and ids go through the text policy. ``ids``: one per text, or None for automatic
        ``source:N`` ids; ``check_ids=False`` skips the check against the ids in use (a call made before a lock)."""
        texts = check_texts(texts, what="exemplar text", allow_empty=True)
        n = len(texts)
        labels = [labels] * n if isinstance(labels, str) else list(labels)
        if len(labels) != n:
            raise DataError(f"{n} texts but {len(labels)} labels.")
        y = labels_to_int(labels)
        categories = [None] * n if categories is None else list(categories)
        if len(categories) != n:
            raise DataError(f"{n} texts but {len(categories)} categories.")
        rows = [(_exemplar_text(t, i), check_field(c, f"exemplar #{i}: category"))
                for i, (t, c) in enumerate(zip(texts, categories, strict=True))]
        if not isinstance(source, str) or not source.strip():
            raise DataError(f"source must be a non-empty string, got {source!r}.")
        source = check_field(source, "source")
        given = _given_ids(ids, n)
        final = self.new_ids(source, n) if given is None else [check_field(i, f"exemplar id #{k}")
                                                                for k, i in enumerate(given)]
        self.check_new_ids(final, against_pool=check_ids)
        return tuple(Exemplar(final[i], rows[i][0], label_of(int(y[i])), rows[i][1], source) for i in range(n))

    def new_ids(self, source: str, n: int) -> list[str]:
        """``source:N`` ids after the largest N in use and the source's counter (a removal never lets one back)."""
        pattern = re.compile(re.escape(source) + r":(\d+)$")
        used = [int(m.group(1)) for e in self.unsafe + self.safe if (m := pattern.match(e.id))]
        start = max(max(used, default=-1) + 1, self._next_id.get(source, 0))
        return [f"{source}:{start + i}" for i in range(n)]

    def check_new_ids(self, ids: Sequence[str], against_pool: bool = True) -> None:
        """Raise when ``ids`` repeat one another or (``against_pool``) an id in use."""
        existing = self.ids() if against_pool else set()
        clash = [i for i in ids if i in existing] or [i for i, c in Counter(ids).items() if c > 1]
        if clash:
            raise DataError(f"exemplar id {clash[0]!r} already exists. Fix: give unique ids.")

    def check_removal(self, ids: Sequence[str]) -> Removal:
        """The removal of ``ids``, validated (unknown ids, or emptying a label, raise) without changing anything."""
        if isinstance(ids, str):
            raise DataError("remove() takes a list of ids, got a single string. Fix: wrap it in a list.")
        wanted = frozenset(str(i) for i in ids)
        unknown = sorted(wanted - self.ids())
        if unknown:
            raise DataError(f"unknown exemplar id(s) {unknown[:5]}. Fix: use ids from the exemplars file or "
                            "from a detection's neighbors.")
        for label, idx in self._indexes.items():
            if idx.ids() and idx.ids() <= wanted:
                raise DataError(f"removing these ids would leave no {label} exemplars. Fix: keep at least one.")
        return Removal(wanted)

    # ---- the one apply path ----------------------------------------------------------------------------------
    def counters_after(self, change: Change) -> dict[str, int]:
        """``next_id`` once ``change`` is applied: an automatic id ``source:N`` moves its source's counter past N."""
        counters = dict(self._next_id)
        for e in change.exemplars if isinstance(change, Addition) else ():
            source, _, num = e.id.rpartition(":")
            if num.isdigit() and source == e.source:
                counters[source] = max(counters.get(source, 0), int(num) + 1)
        return counters

    def apply(self, change: Change, counters: Mapping[str, int] | None = None) -> int:
        """Apply an addition (its ids must still be new) or a removal (ids no longer present are skipped, as when
        a journal replays a removal already in the snapshot), and move the id counters (also past ``counters``,
        a journal record's). Returns how many exemplars were added or removed."""
        if isinstance(change, Addition):
            if len(change.vectors) != len(change.exemplars):
                raise DataError(f"{len(change.exemplars)} exemplars but {len(change.vectors)} vectors.")
            self.check_new_ids(change.ids)
            for label, idx in self._indexes.items():
                rows = [k for k, e in enumerate(change.exemplars) if e.label == label]
                idx.add([change.exemplars[k] for k in rows], change.vectors[rows])
            done = len(change.exemplars)
        else:
            done = sum(idx.remove(set(change.ids)) for idx in self._indexes.values())
        self._categories = None
        new = self.counters_after(change)
        for source, n in (counters or {}).items():
            new[source] = max(new.get(source, 0), int(n))
        self._next_id = new
        return done


def _exemplar_text(text: str, i: int) -> str:
    t = normalize(clean_text(text)[0])  # stored under its normalized text: an obfuscated attack is kept as read
    if not t.strip():
        raise DataError(f"exemplar #{i} is empty. Fix: give non-empty texts.")
    if len(t) > MAX_EXEMPLAR_CHARS:
        raise DataError(f"exemplar #{i} has {len(t)} characters; the limit is {MAX_EXEMPLAR_CHARS}. Fix: add the "
                        "part that carries the attack.")
    return t


def _given_ids(ids: Sequence[str | None] | None, n: int) -> list | None:
    """The caller's ids: one per text, or None when none (or only blanks) were given; a partial list raises."""
    if ids is None:
        return None
    given = list(ids)
    if len(given) != n:
        raise DataError(f"{n} texts but {len(given)} ids. Fix: give an id for every exemplar or for none.")
    blank = [i is None or (isinstance(i, str) and not i.strip()) for i in given]
    if all(blank):
        return None
    if any(blank):
        raise DataError("ids are given for some exemplars but not all. Fix: give an id for every exemplar or for "
                        "none.")
    return given
