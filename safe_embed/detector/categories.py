"""Per-category scores: how much of a prompt's unsafe neighbourhood each category holds, and the category reported.

A prompt's ``category_scores`` are similarity-weighted votes of its ``k`` nearest *categorised* unsafe exemplars
(among the :data:`CATEGORY_DEPTH` nearest unsafe ones): exemplar ``j`` at cosine similarity ``s_j`` weighs
``exp((s_j - s_max) / temperature)``, and a category's score is its share of the weight, in [0, 1] and summing
to 1 over the detector's categories (all zero when no categorised exemplar is that near). They estimate
P(category | unsafe): the share stands whatever the verdict, and the verdict's own score says how likely unsafe
the prompt is. ``temperature`` is fitted on the categorised unsafe prompts of the calibration split (least
negative log-likelihood of their own category, :func:`fit_temperature`); a detector saved without one uses
:data:`DEFAULT_TEMPERATURE`.

An unsafe verdict reports as ``category`` the highest-scoring category when its score reaches that category's own
threshold (``thresholds``, category -> minimum score; 0 for a category not listed), else None: a category with a
high threshold is only named when the neighbours agree on it. A bench computes category accuracy and macro-F1 from the argmax of ``category_scores`` or
from ``category`` directly.

Only a *given* category votes: an exemplar whose category was inferred at build time (``source_category``
``"inferred:<k>nn..."``, see :mod:`~safe_embed.detector.category_inference`) is shown with it but does not vote
(:func:`votes`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from safe_embed.errors import ConfigError

CATEGORY_DEPTH = 64  # how many nearest unsafe exemplars are searched for categorised ones
CATEGORY_K = 10  # categorised unsafe exemplars that vote
DEFAULT_TEMPERATURE = 0.1  # what the default MiniLM detector fits on its calibration split
TEMPERATURES = (0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5, 1.0)  # the grid fit_temperature chooses from
_EPS = 1e-3  # the floor of a probability in the log-likelihood
INFERRED = "inferred"  # the source_category prefix of an exemplar whose category was inferred from its neighbours


@dataclass(frozen=True)
class CategorySettings:
    """How categories are scored (``k`` voting exemplars, ``temperature``) and reported (``thresholds``:
    category -> minimum score), with the fit's figures on the calibration split (``fitted``).

    >>> CategorySettings.from_dict(CategorySettings(thresholds={"S6: Specialized Advice": 0.8}).to_dict()).thresholds
    {'S6: Specialized Advice': 0.8}
    """

    k: int = CATEGORY_K
    temperature: float = DEFAULT_TEMPERATURE
    thresholds: dict[str, float] = field(default_factory=dict)
    fitted: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"k": self.k, "temperature": self.temperature, "thresholds": dict(self.thresholds),
                "fitted": dict(self.fitted)}

    @classmethod
    def from_dict(cls, d: Mapping | None) -> CategorySettings:
        """Settings from a manifest (None: the defaults, for a detector saved before categories were scored)."""
        if not d:
            return cls()
        return cls(int(d.get("k", CATEGORY_K)), float(d.get("temperature", DEFAULT_TEMPERATURE)),
                   {str(c): float(t) for c, t in (d.get("thresholds") or {}).items()}, dict(d.get("fitted") or {}))

    def with_thresholds(self, given: Mapping[str, float], categories: Sequence[str]) -> CategorySettings:
        """These settings with ``given`` thresholds (keys: a category or its code, e.g. ``S6``) over the ones set."""
        return replace(self, thresholds={**self.thresholds, **resolve_thresholds(given, categories)})


def parse_category_thresholds(specs: Iterable[str] | None) -> dict[str, float]:
    """``CATEGORY=SCORE`` options as a dict, each score in [0, 1].

    >>> parse_category_thresholds(["S6=0.8", "S1: Violent Crimes=0.5"])
    {'S6': 0.8, 'S1: Violent Crimes': 0.5}
    """
    out = {}
    for spec in specs or ():
        name, sep, value = str(spec).rpartition("=")
        try:
            score = float(value)
        except ValueError:
            score = float("nan")
        if not sep or not name.strip() or not 0.0 <= score <= 1.0:
            raise ConfigError(f"category threshold {spec!r} is not CATEGORY=SCORE with a score in [0, 1]. "
                              "Fix: e.g. --category-threshold S6=0.8.")
        out[name.strip()] = score
    return out


def natural_key(s: str) -> list:
    """Sort key with numbers compared as numbers ("S2" before "S10").

    >>> sorted(["S10", "S2"], key=natural_key)
    ['S2', 'S10']
    """
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", s)]


def code_of(category: str) -> str:
    """A category's code: the part before ``": "`` (``"S6: Specialized Advice"`` -> ``"S6"``), else itself."""
    return re.split(r":\s", category, maxsplit=1)[0].strip()


def resolve_thresholds(given: Mapping[str, float], categories: Sequence[str]) -> dict[str, float]:
    """``given`` keyed by the detector's own category names; a key may be the name or its code.

    >>> resolve_thresholds({"S6": 0.8}, ["S1: Violent Crimes", "S6: Specialized Advice"])
    {'S6: Specialized Advice': 0.8}
    """
    by_code = {code_of(c): c for c in categories}
    out = {}
    for key, score in given.items():
        name = key if key in categories else by_code.get(key)
        if name is None:
            raise ConfigError(f"category threshold for {key!r}: the detector has no such category. Fix: use one "
                              f"of {list(categories)} (or its code, e.g. {code_of(categories[0])!r})." if categories
                              else f"category threshold for {key!r}: the detector has no categories.")
        if not 0.0 <= float(score) <= 1.0:
            raise ConfigError(f"category threshold {key}={score} is outside [0, 1]. Fix: give a score in [0, 1].")
        out[name] = float(score)
    return out


def inferred_source_category(k: int, original: str | None) -> str:
    """The ``source_category`` of an exemplar given a category by its ``k`` nearest categorised neighbours (the
    source's own category, one the taxonomy does not map, kept in brackets).

    >>> inferred_source_category(10, None), inferred_source_category(10, "Social Sciences/Law")
    ('inferred:10nn', 'inferred:10nn (Social Sciences/Law)')
    """
    return f"{INFERRED}:{k}nn" + (f" ({original})" if original else "")


def is_inferred(source_category: str | None) -> bool:
    """Whether a ``source_category`` marks an inferred category (see :func:`inferred_source_category`).

    >>> is_inferred("inferred:10nn"), is_inferred("crime_theft"), is_inferred(None)
    (True, False, False)
    """
    return bool(source_category) and source_category.startswith(INFERRED + ":")


def votes(category: str | None, source_category: str | None) -> bool:
    """Whether an unsafe exemplar votes in category scores: it has a category and the category was given, not
    inferred.

    >>> votes("S9", "weapon_other"), votes("S9", "inferred:10nn"), votes(None, None)
    (True, False, False)
    """
    return bool(category) and not is_inferred(source_category)


def category_codes(numbers: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The category numbers (-1: none) of the unsafe exemplars at ``positions`` (n, depth; -1: missing), from
    ``numbers``: per exemplar position, its category number.

    >>> category_codes(np.array([1, -1, 0]), np.array([[2, 0, -1]])).tolist()
    [[0, 1, -1]]
    """
    return np.where(positions >= 0, numbers[np.maximum(positions, 0)], -1)


def vote_shares(codes: np.ndarray, sims: np.ndarray, n_categories: int, k: int, temperature: float) -> np.ndarray:
    """Category scores (n, n_categories) from the nearest unsafe exemplars' category numbers ``codes`` (n, depth;
    -1: uncategorised or missing) and similarities ``sims`` (n, depth), nearest first: the weight shares of the
    first ``k`` categorised ones.

    >>> vote_shares(np.array([[0, -1, 1, 0]]), np.array([[0.9, 0.95, 0.9, 0.5]]), 2, 2, 1.0).round(2).tolist()
    [[0.5, 0.5]]
    """
    codes = np.asarray(codes)
    voting = (codes >= 0) & (np.cumsum(codes >= 0, axis=1) <= k)
    out = np.zeros((len(codes), n_categories), np.float64)
    if not voting.any():
        return out
    s = np.where(voting, np.asarray(sims, np.float64), -np.inf)
    top = s.max(axis=1, keepdims=True)
    w = np.where(voting, np.exp((s - np.where(np.isfinite(top), top, 0.0)) / temperature), 0.0)
    rows = np.repeat(np.arange(len(codes)), codes.shape[1])
    np.add.at(out, (rows[voting.ravel()], codes.ravel()[voting.ravel()]), w.ravel()[voting.ravel()])
    total = out.sum(axis=1, keepdims=True)
    return np.divide(out, total, out=np.zeros_like(out), where=total > 0)


def pick(scores: np.ndarray, categories: Sequence[str], thresholds: Mapping[str, float]) -> str | None:
    """The highest-scoring category (the first on a tie) when its score is above zero and reaches its threshold,
    else None.

    >>> pick(np.array([0.7, 0.3]), ["S6", "S2"], {"S6": 0.8}), pick(np.array([0.7, 0.3]), ["S6", "S2"], {})
    (None, 'S6')
    """
    if not len(categories):
        return None
    top = int(np.argmax(scores))
    best = categories[top]
    return best if scores[top] > 0 and scores[top] >= thresholds.get(best, 0.0) else None


def fit_temperature(codes: np.ndarray, sims: np.ndarray, truth: np.ndarray, n_categories: int, k: int) -> dict:
    """The temperature of :data:`TEMPERATURES` with the least mean negative log-likelihood of the true category
    numbers ``truth`` (n,) of categorised unsafe calibration prompts, and the figures it achieves there (``n``,
    top-1 ``accuracy``, ``nll``); :data:`DEFAULT_TEMPERATURE` when there is no such prompt.

    >>> fit_temperature(np.array([[0, 1], [1, 0]]), np.array([[0.9, 0.8], [0.9, 0.1]]), np.array([0, 1]), 2, 2)
    {'temperature': 0.005, 'n': 2, 'accuracy': 1.0, 'nll': 0.0}
    """
    truth = np.asarray(truth)
    if len(truth) == 0:
        return {"temperature": DEFAULT_TEMPERATURE, "n": 0}
    best = None
    for t in TEMPERATURES:
        p = vote_shares(codes, sims, n_categories, k, t)
        nll = float(-np.log(np.maximum(p[np.arange(len(truth)), truth], _EPS)).mean())
        if best is None or nll < best["nll"] - 1e-12:
            best = {"temperature": t, "n": len(truth), "accuracy": float((p.argmax(axis=1) == truth).mean()),
                    "nll": nll}
    return {**best, "nll": round(best["nll"], 6) + 0.0}  # + 0.0: no -0.0
