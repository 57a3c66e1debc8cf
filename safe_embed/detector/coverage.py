"""Whole-prompt coverage: every character of a prompt, up to the detector's ceiling (``max_chars``), is read by the
encoder, in every view of the text (:mod:`~safe_embed.detector.text_views`).

A prompt becomes *units*: one per view, and for a view longer than the encoder's token window, overlapping windows
of that view, half a window apart, so that any request up to half a window long lies whole inside one window. Each
unit is embedded and scored like a prompt of its own; the prompt's verdict is its most unsafe unit, whose view and
character span are reported. A prompt longer than the ceiling is checked up to it and flagged ``unchecked_tail``.

A prompt of several sentences also gives one unit per sentence of each view (3 to
:data:`~safe_embed.sentences.SENTENCE_WORDS` words), and one per clause a request hides in inside a sentence (the
part after its last colon, a quotation: 'This is his first question: "..."'). How the units' scores become the
prompt's verdict, and when a sentence or a later window may decide: :mod:`~safe_embed.detector.coverage_verdict`.

The first pass embeds each view's text and learns from the same tokenization which views overflowed the window
(:meth:`~safe_embed.encoders.base.Encoder.encode_with_overflow`); only those are tokenized again, for their token
spans, and their further windows embedded. A text that several units hold (a sentence a view left unchanged, a
prompt sent twice in a batch) is embedded once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import replace

import numpy as np

from safe_embed.detector.coverage_verdict import FIRST_SENTENCE, LAST_SENTENCE, SENTENCE
from safe_embed.detector.results import Unit
from safe_embed.encoders.base import Encoder
from safe_embed.sentences import sentence_bounds, sentence_spans

WINDOW_MARGIN = 4  # tokens kept free in a window: a cut text may tokenize to a few more pieces than its span
WORD_SNAP = 8  # tokens a window's edge may move in to fall between words


def window_spans(spans: Sequence[tuple[int, int]], window: int) -> list[tuple[int, int]]:
    """Character spans of windows of ``window`` tokens, half a window apart, covering every token of a text whose
    tokens are at character ``spans``; the first starts at the first token. Every other edge (all but the text's
    own start and end) moves in to a word's edge, a gap between two tokens, by at most :data:`WORD_SNAP` tokens and
    a quarter window, so that no window opens or closes inside a word; what it leaves out lies in its neighbours,
    which overlap it by half a window.

    >>> window_spans([(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)], 2)
    [(0, 3), (2, 5), (4, 7), (6, 9)]
    >>> window_spans([(0, 3)], 4)
    [(0, 3)]
    >>> def words(text, pieces):  # token spans: each word cut into ``pieces`` tokens of two letters
    ...     out, at = [], 0
    ...     for w in text.split():
    ...         at = text.index(w, at)
    ...         out += [(at + 2 * i, at + 2 * i + 2) for i in range(pieces.get(w, 1))]
    ...         at += len(w)
    ...     return out
    >>> text = "aa bb cccccc dd ee ff gg hh"  # a window starting at the third token would open with "cc"
    >>> [text[a:b] for a, b in window_spans(words(text, {"cccccc": 3}), 8)]
    ['aa bb cccccc dd ee ff', 'dd ee ff gg hh']
    >>> text = "aa bb cc dd ee ff gggggg hh"  # the first window's eighth token is the middle of "gggggg"
    >>> [text[a:b] for a, b in window_spans(words(text, {"gggggg": 3}), 8)]
    ['aa bb cc dd ee ff', 'ee ff gggggg hh']
    """
    if not spans:
        return []
    window = max(1, window)
    stride = max(1, window // 2)
    reach = min(WORD_SNAP, stride // 2)  # both edges together move in by at most a stride: neighbours still meet

    def gap_before(k: int) -> bool:
        return spans[k][0] > spans[k - 1][1]

    out, start = [], 0
    while True:
        end = min(start + window, len(spans))
        a, b = start, end
        if start > 0:  # the first token from ``start`` with a gap before it
            a = next((k for k in range(start, min(start + reach, end - 1) + 1) if gap_before(k)), start)
        if end < len(spans):  # the last cut at or before ``end`` with a gap there
            b = next((k for k in range(end, max(end - reach, a + 1) - 1, -1) if gap_before(k)), end)
        out.append((spans[a][0], spans[b - 1][1]))
        if end >= len(spans):
            return out
        start += stride


def units_of(texts: Sequence[str], views: Callable[[str], Sequence], max_chars: int, sentences: bool = False
             ) -> tuple[list[Unit], list[bool]]:
    """One unit per view of each non-empty text (the whole view, up to ``max_chars``), with ``sentences`` one per
    sentence of each view (:func:`sentence_spans`; kind :data:`LAST_SENTENCE` for those inside its last sentence,
    :data:`FIRST_SENTENCE` for those inside its first, else :data:`SENTENCE`), after all the views; and per text
    whether it was longer than ``max_chars`` (its tail is not checked).

    >>> from safe_embed.detector.text_views import View
    >>> views = lambda t: [View("original", t), View("normalized", t.replace("0", "o"))]
    >>> units, _ = units_of(["Hi there, my friend. The 0ven is hot. How do I bake?"], views, 99, True)
    >>> [(u.view, u.sentence, u.body) for u in units]  # doctest: +NORMALIZE_WHITESPACE
    [('original', None, 'Hi there, my friend. The 0ven is hot. How do I bake?'),
     ('normalized', None, 'Hi there, my friend. The oven is hot. How do I bake?'),
     ('original', 'first_sentence', 'Hi there, my friend.'), ('original', 'sentence', 'The 0ven is hot.'),
     ('original', 'last_sentence', 'How do I bake?'), ('normalized', 'first_sentence', 'Hi there, my friend.'),
     ('normalized', 'sentence', 'The oven is hot.'), ('normalized', 'last_sentence', 'How do I bake?')]
    """
    units, unchecked = [], []
    for i, text in enumerate(texts):
        unchecked.append(len(text) > max_chars)
        if not text.strip():
            continue
        head = text[:max_chars]
        read = [(view.name, view.text[:max_chars]) for view in views(head)]
        units += [Unit(i, name, 0, len(body), body) for name, body in read]
        for name, body in read if sentences else ():
            if spans := sentence_spans(body):
                bounds = sentence_bounds(body)
                first, last = bounds[0][1], bounds[-1][0]
                units += [Unit(i, name, a, b, body[a:b],
                               LAST_SENTENCE if a >= last else FIRST_SENTENCE if b <= first else SENTENCE)
                          for a, b in spans]
    return units, unchecked


def embed_units(encoder: Encoder, units: list[Unit], embed_with_overflow: Callable[[list[str]], tuple],
                embed: Callable[[list[str]], np.ndarray], guard=None) -> tuple[list[Unit], np.ndarray, set[int]]:
    """Embed ``units`` and the further windows of those that overflow the encoder's window: the units (first
    windows' spans set), their vectors (one row per unit), and the texts an overflow could not be windowed for
    (the encoder gives no token spans). ``guard``: a context held while the encoder tokenizes (the embedding
    functions hold their own)."""
    if not units:
        return [], embed([]), set()
    (x, over), pick = _once([u.body for u in units], embed_with_overflow)
    x, over = x[pick], [over[r] for r in pick]
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
        units[k] = replace(u, start=first[0], end=first[1])  # the encoder read the first full window
        extra += [replace(u, start=a, end=b, body=u.body[a:b]) for a, b in ws[1:]]
    if not extra:
        return units, x, set()
    more, pick = _once([u.body for u in extra], embed)
    return units + extra, np.concatenate([x, more[pick]]), set()


def _once(bodies: list[str], embed: Callable[[list[str]], object]) -> tuple[object, list[int]]:
    """``embed`` of each distinct text of ``bodies`` once (a sentence or window that a view left unchanged, a
    prompt sent twice), and for each of ``bodies`` its row in what it returned.

    >>> _once(["a", "b", "a"], lambda texts: texts)
    (['a', 'b'], [0, 1, 0])
    """
    row: dict[str, int] = {}
    pick = [row.setdefault(b, len(row)) for b in bodies]
    return embed(list(row)), pick
