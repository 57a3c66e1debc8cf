"""Whole-prompt coverage: every character of a prompt, up to the detector's ceiling (``max_chars``), is read by the
encoder, in every view of the text (:mod:`~safe_embed.detector.text_views`).

A prompt becomes *units*: one per view, and for a view longer than the encoder's token window, overlapping windows
of that view, half a window apart, so that any request up to half a window long lies whole inside one window. Each
unit is embedded and scored like a prompt of its own; the prompt's verdict is its most unsafe unit, whose view and
character span are reported. A prompt longer than the ceiling is checked up to it and flagged ``unchecked_tail``.

The first pass embeds each view's text and learns from the same tokenization which views overflowed the window
(:meth:`~safe_embed.encoders.base.Encoder.encode_with_overflow`); only those are tokenized again, for their token
spans, and their further windows embedded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import replace

import numpy as np

from safe_embed.detector.results import (
    EMPTY_DETECTION,
    UNCHECKED_TAIL,
    WINDOWED,
    Detection,
    PreparedTexts,
    Unit,
)
from safe_embed.detector.text_policy import REPAIRED
from safe_embed.detector.text_views import ORIGINAL
from safe_embed.encoders.base import Encoder

WINDOW_MARGIN = 4  # tokens kept free in a window: a cut text may tokenize to a few more pieces than its span


def window_spans(spans: Sequence[tuple[int, int]], window: int) -> list[tuple[int, int]]:
    """Character spans of windows of ``window`` tokens, half a window apart, covering every token of a text whose
    tokens are at character ``spans``; the first starts at the first token.

    >>> window_spans([(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)], 2)
    [(0, 3), (2, 5), (4, 7), (6, 9)]
    >>> window_spans([(0, 3)], 4)
    [(0, 3)]
    """
    if not spans:
        return []
    window = max(1, window)
    stride = max(1, window // 2)
    out, start = [], 0
    while True:
        end = min(start + window, len(spans))
        out.append((spans[start][0], spans[end - 1][1]))
        if end >= len(spans):
            return out
        start += stride


def units_of(texts: Sequence[str], views: Callable[[str], Sequence], max_chars: int
             ) -> tuple[list[Unit], list[bool]]:
    """One unit per view of each non-empty text (the whole view, up to ``max_chars``), and per text whether it was
    longer than ``max_chars`` (its tail is not checked)."""
    units, unchecked = [], []
    for i, text in enumerate(texts):
        unchecked.append(len(text) > max_chars)
        if not text.strip():
            continue
        for view in views(text[:max_chars]):
            body = view.text[:max_chars]
            units.append(Unit(i, view.name, 0, len(body), body))
    return units, unchecked


def embed_units(encoder: Encoder, units: list[Unit], embed_with_overflow: Callable[[list[str]], tuple],
                embed: Callable[[list[str]], np.ndarray], guard=None) -> tuple[list[Unit], np.ndarray, set[int]]:
    """Embed ``units`` and the further windows of those that overflow the encoder's window: the units (first
    windows' spans set), their vectors (one row per unit), and the texts an overflow could not be windowed for
    (the encoder gives no token spans). ``guard``: a context held while the encoder tokenizes (the embedding
    functions hold their own)."""
    if not units:
        return [], embed([]), set()
    x, over = embed_with_overflow([u.body for u in units])
    long = [k for k, o in enumerate(over) if o]
    if not long:
        return units, x, set()
    with guard or nullcontext():
        spans = encoder.token_spans([units[k].body for k in long])
    if spans is None:
        return units, x, {units[k].index for k in long}
    full = max(1, (encoder.token_window() or 2) - 2)  # the tokens of one window, special tokens left out
    window = max(1, full - WINDOW_MARGIN)
    units = list(units)
    extra: list[Unit] = []
    for k, sp in zip(long, spans, strict=True):
        u = units[k]
        ws = window_spans(sp, window)
        first = (sp[0][0], sp[min(full, len(sp)) - 1][1]) if sp else (0, len(u.body))
        units[k] = Unit(u.index, u.view, first[0], first[1], u.body)  # the encoder read the first full window
        extra += [Unit(u.index, u.view, a, b, u.body[a:b]) for a, b in ws[1:]]
    if not extra:
        return units, x, set()
    return units + extra, np.concatenate([x, embed([u.body for u in extra])]), set()


def combine(prepared: PreparedTexts, scored: Sequence[Detection]) -> list[Detection]:
    """One detection per text of ``prepared`` from its units' detections (``scored``, one per unit): the most
    unsafe unit decides (the first on a tie: the given text before other views, earlier windows first), with its
    span, its view named in the flags, ``windowed`` when the text was read in several windows, ``unchecked_tail``
    and ``repaired`` as they apply."""
    best: dict[int, int] = {}
    windows: dict[tuple[int, str], int] = {}
    for k, u in enumerate(prepared.units):
        windows[(u.index, u.view)] = windows.get((u.index, u.view), 0) + 1
        if u.index not in best or scored[k].score > scored[best[u.index]].score:
            best[u.index] = k
    out = []
    for i in range(len(prepared.texts)):
        d = EMPTY_DETECTION
        if i in best:
            u, d = prepared.units[best[i]], scored[best[i]]
            flags = list(d.flags)
            if windows[(i, u.view)] > 1:
                flags.append(WINDOWED)
            if u.view != ORIGINAL:
                flags.append(u.view)
            d = replace(d, flags=tuple(flags), span=(u.start, u.end))
        extra = [UNCHECKED_TAIL] if prepared.unchecked[i] else []
        extra += [REPAIRED] if prepared.repaired[i] else []
        out.append(replace(d, flags=(*d.flags, *extra)) if extra else d)
    return out
