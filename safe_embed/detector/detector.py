"""The detector: an encoder, FAISS indexes of unsafe and safe exemplars, a scoring rule and a calibration.

Input policy (documented in the README):

* an empty or whitespace-only text is ``safe`` with score 0.0, no category, no neighbours, flag ``"empty"``;
* a text longer than ``max_chars`` characters is cut to ``max_chars`` before tokenizing, and the encoder's
  tokenizer truncates to its token window (256 word pieces for MiniLM); such texts get the flag ``"truncated"``
  (judged on the first ``max_chars`` characters and the token window).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from safe_embed.data.schemas import LABELS
from safe_embed.detector import index as ix
from safe_embed.detector.calibration import Calibration, calibrate
from safe_embed.detector.encoder_dir import max_seq_length, sentence_transformer_of
from safe_embed.detector.exemplars import Exemplar, ExemplarSets, load_exemplars
from safe_embed.detector.scoring import DEFAULT_RULE, ScoringRule
from safe_embed.encoders.base import Encoder, l2_normalize
from safe_embed.errors import ConfigError, DataError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Neighbor:
    """One nearby exemplar."""

    id: str
    text: str
    label: str
    category: str | None
    similarity: float


@dataclass(frozen=True)
class Detection:
    """The verdict for one prompt: ``label`` (unsafe/safe), ``score`` in [0, 1] (higher = more unsafe),
    ``category`` (majority of the nearest unsafe exemplars' categories when ``label`` is unsafe, else None),
    ``neighbors`` (the top-k exemplars of both classes) and ``flags`` (``empty``, ``truncated``)."""

    label: str
    score: float
    category: str | None
    neighbors: tuple[Neighbor, ...] = ()
    flags: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["neighbors"] = [asdict(n) for n in self.neighbors]
        d["flags"] = list(self.flags)
        return d


@dataclass
class DetectorSettings:
    """Runtime settings stored in the manifest."""

    k_neighbors: int = 5
    max_chars: int = 20_000
    batch_size: int = 256
    index: ix.IndexSettings = field(default_factory=ix.IndexSettings)
    seed: int = 0


class Detector:
    """Unsafe-prompt detector over exemplar indexes.

    >>> # det = Detector.build("all-MiniLM-L6-v2", "configs/detector/default.yaml")
    >>> # det.save("my_detector"); det = Detector.load("my_detector")
    >>> # det.classify(["How do I kill a Python process?"])[0].label
    """

    def __init__(self, encoder: Encoder, unsafe: list[Exemplar], safe: list[Exemplar], rule: ScoringRule,
                 calibration: Calibration, settings: DetectorSettings | None = None,
                 unsafe_index=None, safe_index=None, provenance: dict | None = None) -> None:
        self.encoder = encoder
        self.unsafe = list(unsafe)
        self.safe = list(safe)
        self.rule = rule
        self.calibration = calibration
        self.settings = settings or DetectorSettings()
        self.provenance = provenance or {}
        self.splits: dict | None = None  # the data's split record (splits.json), when built from a data spec
        if unsafe_index is None or safe_index is None:
            unsafe_index = ix.build_index(self.embed([e.text for e in self.unsafe]), self.settings.index)
            safe_index = ix.build_index(self.embed([e.text for e in self.safe]), self.settings.index)
        self.unsafe_index = unsafe_index
        self.safe_index = safe_index
        self._check_sizes()

    # ---- building -------------------------------------------------------------------------------------------
    @classmethod
    def build(cls, encoder: Encoder, exemplars: ExemplarSets | str | os.PathLike[str] | list[str] | None = None,
              rule: ScoringRule | str = DEFAULT_RULE, method: str = "fpr", target_fpr: float = 0.05,
              settings: DetectorSettings | None = None, data_dir: str | os.PathLike[str] | None = None,
              ) -> Detector:
        """Index the train-split exemplars, fit the rule and calibrate the threshold on the val split.

        >>> # Detector.build(load_encoder("all-MiniLM-L6-v2"), "configs/detector/default.yaml")
        """
        settings = settings or DetectorSettings()
        sets = exemplars if isinstance(exemplars, ExemplarSets) else load_exemplars(
            exemplars, seed=settings.seed, data_dir=data_dir)
        rule = rule if isinstance(rule, ScoringRule) else ScoringRule(rule)
        det = cls(encoder, sets.unsafe, sets.safe, rule, Calibration(), settings,
                  provenance={**sets.provenance, "n_calibration": len(sets.calibration)})
        if sets.dataset is not None:
            det.splits = sets.dataset.to_json()
        if rule.uses_embedding:
            xu, xs = ix.vectors(det.unsafe_index), ix.vectors(det.safe_index)
            rule.fit_head(np.concatenate([xu, xs]), np.r_[np.ones(len(xu), int), np.zeros(len(xs), int)])
        det.calibrate([p.text for p in sets.calibration], [p.label for p in sets.calibration], method, target_fpr)
        return det

    def calibrate(self, texts: Sequence[str], labels: Sequence[str], method: str = "fpr",
                  target_fpr: float = 0.05) -> Calibration:
        """Fit the rule (if it learns) and the score map and threshold on labelled validation prompts."""
        y = _labels_to_int(labels)
        if len(texts) != len(y):
            raise ConfigError(f"{len(texts)} calibration texts but {len(y)} labels.")
        if len(y) == 0 or y.min() == y.max():
            raise ConfigError(f"the calibration split needs both safe and unsafe prompts (got {len(y)} prompts, "
                              f"{int(y.sum())} unsafe). Fix: add the missing label to the calibration sources.")
        x = self.embed(list(texts))
        su, ss = self.neighbour_sims(x)
        self.rule.fit(su, ss, y, x)
        self.calibration = calibrate(self.rule.raw(su, ss, x), y, method, target_fpr, seed=self.settings.seed)
        logger.info("calibrated %s rule: threshold %.4f, validation %s", self.rule.name,
                    self.calibration.threshold, self.calibration.validation)
        return self.calibration

    # ---- scoring --------------------------------------------------------------------------------------------
    def embed(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        """L2-normalized embeddings (n, d) of ``texts`` (each cut to ``max_chars`` characters)."""
        if not texts:
            dim = self.encoder.dimension or self.unsafe_index.d
            return np.zeros((0, dim), np.float32)
        clipped = [t[: self.settings.max_chars] for t in texts]
        return l2_normalize(self.encoder.encode(clipped, show_progress=show_progress))

    def neighbour_sims(self, x: np.ndarray, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k cosine similarities to unsafe (n, k) and safe (n, k) exemplars; missing = -1."""
        k = k or self.rule.k
        return ix.search(self.unsafe_index, x, k)[0], ix.search(self.safe_index, x, k)[0]

    def classify(self, texts: Sequence[str], show_progress: bool | None = None) -> list[Detection]:
        """One :class:`Detection` per text, in order (see the module docstring for empty and long texts).

        >>> # [d.label for d in det.classify(["hello", ""])]  -> ['safe', 'safe']
        """
        if isinstance(texts, str):
            raise DataError("classify() takes a list of texts, got a single string. Fix: wrap it in a list.")
        texts = list(texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise DataError(f"text #{i} is {type(t).__name__}, not str. Fix: pass strings only.")
        out: list[Detection | None] = [None] * len(texts)
        todo = [i for i, t in enumerate(texts) if t.strip()]
        for i in set(range(len(texts))) - set(todo):
            out[i] = Detection("safe", 0.0, None, (), ("empty",))
        show = len(todo) > 2000 if show_progress is None else show_progress
        bs = self.settings.batch_size
        batches = range(0, len(todo), bs)
        if show:
            from tqdm.auto import tqdm
            batches = tqdm(batches, desc="classify", unit="batch")
        for start in batches:
            idx = todo[start:start + bs]
            for i, det in zip(idx, self._classify_batch([texts[i] for i in idx]), strict=True):
                out[i] = det
        return out  # type: ignore[return-value]

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated scores (n,) only."""
        return np.array([d.score for d in self.classify(texts)], np.float64)

    def _classify_batch(self, texts: list[str]) -> list[Detection]:
        x = self.embed(texts)
        k = max(self.rule.k, self.settings.k_neighbors)
        du, iu = ix.search(self.unsafe_index, x, k)
        ds, is_ = ix.search(self.safe_index, x, k)
        scores = self.calibration.score(self.rule.raw(du[:, :self.rule.k], ds[:, :self.rule.k], x))
        truncated = self._truncated(texts)
        out = []
        for r in range(len(texts)):
            score = float(scores[r])
            label = "unsafe" if score >= self.calibration.threshold else "safe"
            neigh = [self._neighbor(self.unsafe[j], s) for j, s in zip(iu[r], du[r], strict=True) if j >= 0]
            neigh += [self._neighbor(self.safe[j], s) for j, s in zip(is_[r], ds[r], strict=True) if j >= 0]
            neigh.sort(key=lambda n: -n.similarity)
            category = self._category(iu[r, :self.settings.k_neighbors], du[r]) if label == "unsafe" else None
            out.append(Detection(label, score, category, tuple(neigh[:self.settings.k_neighbors]),
                                 ("truncated",) if truncated[r] else ()))
        return out

    @staticmethod
    def _neighbor(e: Exemplar, similarity: float) -> Neighbor:
        return Neighbor(e.id, e.text, e.label, e.category, float(similarity))

    def _category(self, positions: np.ndarray, sims: np.ndarray) -> str | None:
        """Most frequent category among the nearest unsafe exemplars (ties: larger summed similarity)."""
        votes: Counter = Counter()
        weight: Counter = Counter()
        for j, s in zip(positions, sims, strict=False):
            if j >= 0 and self.unsafe[j].category:
                votes[self.unsafe[j].category] += 1
                weight[self.unsafe[j].category] += float(s)
        if not votes:
            return None
        return max(votes, key=lambda c: (votes[c], weight[c]))

    def _truncated(self, texts: list[str]) -> list[bool]:
        window = max_seq_length(self.encoder)
        st = sentence_transformer_of(self.encoder)
        flags = [len(t) > self.settings.max_chars for t in texts]
        if window is None or st is None or getattr(st, "tokenizer", None) is None:
            return flags
        for i, t in enumerate(texts):
            if not flags[i] and len(t) > window - 2:  # a word piece covers at least one character
                n = len(st.tokenizer(t, add_special_tokens=True, truncation=False)["input_ids"])
                flags[i] = n > window
        return flags

    # ---- learning without retraining ------------------------------------------------------------------------
    def add(self, texts: Sequence[str], labels: Sequence[str], categories: Sequence[str | None] | None = None,
            ids: Sequence[str] | None = None, source: str = "added") -> list[str]:
        """Append exemplars (new categories allowed); returns their ids. Call :meth:`save` to persist.

        >>> # det.add(["new attack ..."], ["unsafe"], ["jailbreak"])
        """
        texts = list(texts)
        y = _labels_to_int(labels)
        if len(y) != len(texts):
            raise DataError(f"{len(texts)} texts but {len(y)} labels.")
        categories = list(categories) if categories is not None else [None] * len(texts)
        if len(categories) != len(texts):
            raise DataError(f"{len(texts)} texts but {len(categories)} categories.")
        for i, t in enumerate(texts):
            if not isinstance(t, str) or not t.strip():
                raise DataError(f"exemplar #{i} is empty or not a string. Fix: give non-empty texts.")
        existing = {e.id for e in self.unsafe + self.safe}
        if ids is None:
            n = sum(e.id.startswith(f"{source}:") for e in self.unsafe + self.safe)
            ids = [f"{source}:{n + i}" for i in range(len(texts))]
        ids = [str(i) for i in ids]
        clash = [i for i in ids if i in existing] or [i for i, c in Counter(ids).items() if c > 1]
        if clash:
            raise DataError(f"exemplar id {clash[0]!r} already exists. Fix: give unique ids.")
        x = self.embed(texts)
        for label_id, name in ((1, "unsafe"), (0, "safe")):
            rows = [i for i in range(len(texts)) if y[i] == label_id]
            if not rows:
                continue
            pool, index = getattr(self, name), getattr(self, f"{name}_index")
            pool.extend(Exemplar(ids[i], texts[i], LABELS[label_id], categories[i], source) for i in rows)
            if self.settings.index.resolve(len(pool)) != ix.index_kind(index):  # crossed the size setting
                vecs = np.concatenate([ix.vectors(index), x[rows]])
                setattr(self, f"{name}_index", ix.build_index(vecs, self.settings.index, self.settings.seed))
            else:
                index.add(np.ascontiguousarray(x[rows]))
        self._check_sizes()
        return ids

    def remove(self, ids: Sequence[str]) -> int:
        """Remove exemplars by id (rebuilding the indexes); unknown ids raise. Returns the number removed."""
        ids = {str(i) for i in ids}
        known = {e.id for e in self.unsafe + self.safe}
        unknown = sorted(ids - known)
        if unknown:
            raise DataError(f"unknown exemplar id(s) {unknown[:5]}. Fix: use ids from the exemplars file or "
                            "from a detection's neighbors.")
        for name in ("unsafe", "safe"):
            pool, index = getattr(self, name), getattr(self, f"{name}_index")
            keep = [j for j, e in enumerate(pool) if e.id not in ids]
            if len(keep) == len(pool):
                continue
            if not keep:
                raise DataError(f"removing these ids would leave no {name} exemplars. Fix: keep at least one.")
            x = ix.vectors(index)[keep]
            setattr(self, f"{name}_index", ix.rebuild(index, x, self.settings.index, self.settings.seed))
            setattr(self, name, [pool[j] for j in keep])
        self._check_sizes()
        return len(ids)

    def _check_sizes(self) -> None:
        for name in ("unsafe", "safe"):
            n, nt = len(getattr(self, name)), getattr(self, f"{name}_index").ntotal
            if n != nt:
                raise DataError(f"{name}: {n} exemplars but {nt} vectors in the index.")

    @property
    def categories(self) -> list[str]:
        return sorted({e.category for e in self.unsafe if e.category})

    # ---- persistence ----------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the detector directory (see :mod:`safe_embed.detector.store`)."""
        from safe_embed.detector.store import save_detector

        save_detector(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str], cache: bool = False, device: str | None = None) -> Detector:
        """Load and verify a detector directory; refuses tampered, truncated or mismatched files."""
        from safe_embed.detector.store import load_detector

        return load_detector(path, cache=cache, device=device)

    def with_rule(self, rule: ScoringRule) -> Detector:
        """A copy using another scoring rule (the indexes are shared: do not add to both); calibrate it before use."""
        other = object.__new__(Detector)
        other.__dict__.update(self.__dict__)
        other.unsafe, other.safe = list(self.unsafe), list(self.safe)
        other.rule = replace(rule)
        other.calibration = Calibration()
        return other


def _labels_to_int(labels: Sequence[str]) -> np.ndarray:
    labels = list(labels)
    bad = [(i, lab) for i, lab in enumerate(labels) if str(lab).strip().lower() not in LABELS]
    if bad:
        raise DataError(f"label #{bad[0][0]} is {bad[0][1]!r}; labels must be 'safe' or 'unsafe'.")
    return np.array([1 if str(lab).strip().lower() == "unsafe" else 0 for lab in labels], dtype=int)
