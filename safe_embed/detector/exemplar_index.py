"""The exemplars of one label and their FAISS index, kept in step: position k of the index is exemplar k."""

from __future__ import annotations

import numpy as np

from safe_embed.detector import index as ix
from safe_embed.detector.exemplars import Exemplar
from safe_embed.errors import DataError


class ExemplarIndex:
    """One label's exemplars and index; ``add`` appends, ``remove`` rebuilds without the removed ids.

    >>> e = ExemplarIndex.build("unsafe", [Exemplar("a", "x", "unsafe")], np.eye(1, 4, dtype=np.float32))
    >>> len(e), e.search(np.eye(1, 4, dtype=np.float32), 1)[1].tolist()
    (1, [[0]])
    """

    def __init__(self, label: str, exemplars: list[Exemplar], index, settings: ix.IndexSettings | None = None,
                 seed: int = 0) -> None:
        self.label = label
        self.exemplars = list(exemplars)
        self.index = index
        self.settings = settings or ix.IndexSettings()
        self.seed = seed
        if len(self.exemplars) != index.ntotal:
            raise DataError(f"{label}: {len(self.exemplars)} exemplars but {index.ntotal} vectors in the index.")

    @classmethod
    def build(cls, label: str, exemplars: list[Exemplar], vectors: np.ndarray,
              settings: ix.IndexSettings | None = None, seed: int = 0) -> ExemplarIndex:
        settings = settings or ix.IndexSettings()
        return cls(label, exemplars, ix.build_index(vectors, settings, seed), settings, seed)

    def __len__(self) -> int:
        return len(self.exemplars)

    @property
    def dimension(self) -> int:
        return int(self.index.d)

    def ids(self) -> set[str]:
        return {e.id for e in self.exemplars}

    def search(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` similarities (nq, k) and positions (nq, k); missing slots are -1."""
        return ix.search(self.index, x, k, self.settings.search_threads)

    def vectors(self) -> np.ndarray:
        return ix.vectors(self.index)

    def add(self, exemplars: list[Exemplar], vectors: np.ndarray) -> None:
        """Append ``exemplars`` with their L2-normalized ``vectors`` (n, d)."""
        if not exemplars:
            return
        if len(exemplars) != len(vectors):
            raise DataError(f"{len(exemplars)} exemplars but {len(vectors)} vectors.")
        n = len(self.exemplars) + len(exemplars)
        if self.settings.resolve(n) != ix.index_kind(self.index):  # crossed the size setting: rebuild
            self.index = ix.build_index(np.concatenate([self.vectors(), vectors]), self.settings, self.seed)
        else:
            self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        self.exemplars.extend(exemplars)

    def update(self, exemplars: list[Exemplar] | tuple[Exemplar, ...]) -> None:
        """Replace the exemplars with these ids by these versions; the text and label must stay (the vectors do)."""
        position = {e.id: k for k, e in enumerate(self.exemplars)}
        for e in exemplars:
            k = position.get(e.id)
            if k is None or (e.text, e.label) != (self.exemplars[k].text, self.exemplars[k].label):
                raise DataError(f"{self.label}: cannot update exemplar {e.id!r}: "
                                + ("no such id." if k is None else "its text or label differs.")
                                + " Fix: update existing exemplars' categories only.")
        for e in exemplars:
            self.exemplars[position[e.id]] = e

    def remove(self, ids: set[str]) -> int:
        """Drop the exemplars with these ids (rebuilding the index); returns how many were removed."""
        keep = [k for k, e in enumerate(self.exemplars) if e.id not in ids]
        removed = len(self.exemplars) - len(keep)
        if removed:
            if not keep:
                raise DataError(f"removing these ids would leave no {self.label} exemplars. Fix: keep at least one.")
            self.index = ix.rebuild(self.index, self.vectors()[keep], self.settings, self.seed)
            self.exemplars = [self.exemplars[k] for k in keep]
        return removed
