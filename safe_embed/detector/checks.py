"""Checks of what enters the detector: labels, and the short text fields of an exemplar (ids, categories,
sources). Text lists are checked by :func:`safe_embed.encoders.base.check_texts`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from safe_embed.data.schemas import LABELS
from safe_embed.detector.limits import MAX_FIELD_CHARS
from safe_embed.detector.text_policy import clean_text
from safe_embed.errors import DataError


def labels_to_int(labels: Sequence[str]) -> np.ndarray:
    """1 for ``unsafe``, 0 for ``safe`` (case and surrounding spaces ignored); anything else raises.

    >>> labels_to_int(["safe", " Unsafe "]).tolist()
    [0, 1]
    """
    labels = list(labels)
    bad = [(i, lab) for i, lab in enumerate(labels) if not isinstance(lab, str) or lab.strip().lower() not in LABELS]
    if bad:
        raise DataError(f"label #{bad[0][0]} is {bad[0][1]!r}; labels must be 'safe' or 'unsafe'.")
    return np.array([1 if lab.strip().lower() == "unsafe" else 0 for lab in labels], dtype=int)


def label_of(y: int) -> str:
    """The label name of :func:`labels_to_int`'s value.

    >>> label_of(1), label_of(0)
    ('unsafe', 'safe')
    """
    return "unsafe" if y else "safe"


def check_field(value: object, what: str) -> str | None:
    """An optional short text field (id, category, source) through the text policy, stripped; None or blank is
    None, a non-string or one over :data:`MAX_FIELD_CHARS` characters raises.

    >>> check_field("  S1 ", "category"), check_field(" ", "category")
    ('S1', None)
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise DataError(f"{what} is {type(value).__name__} ({value!r:.40}), not a string. Fix: give text or null.")
    value = clean_text(value)[0].strip()
    if len(value) > MAX_FIELD_CHARS:
        raise DataError(f"{what} has {len(value)} characters; the limit is {MAX_FIELD_CHARS}.")
    return value or None
