"""Whole-prompt coverage: every character of a prompt, up to the detector's ceiling (``max_chars``), is read by the
encoder, in every view of the text (:mod:`~safe_embed.detector.text_views`).

A prompt becomes *units*: one per view, and for a view longer than the encoder's token window, overlapping windows
of that view, half a window apart, so that any request up to half a window long lies whole inside one window. Each
unit is embedded and scored like a prompt of its own; the prompt's verdict is its most unsafe unit, whose view and
character span are reported. A prompt longer than the ceiling is checked up to it and flagged ``unchecked_tail``.

A prompt of several sentences also gives one unit per sentence (of the prompt as given, 3 to
:data:`~safe_embed.sentences.SENTENCE_WORDS` words), and one per clause a request hides in inside a sentence (the part after its last
colon, a quotation: 'This is his first question: "..."'): a short request inside long benign text is diluted in
every window that holds it, but not in its own sentence or clause. A sentence alone is judged more strictly than a window, because any harmless text has
a sentence or two that sound alarming out of context: it decides only when its score reaches the detector's
``sentence_threshold`` (:data:`SENTENCE_THRESHOLD` by default, chosen on the val splits as the lowest that flags no
more safe prompts; None turns sentence units off), and its score is then mapped onto [0.5, 1] by
:func:`sentence_score`. A verdict a sentence decided is flagged ``sentence``, with the sentence's span.

The last sentence of a long prompt (and the clauses inside it) is where it asks for what it wants: a request put
after a long preface, or at the end of a role-play frame, is its last sentence, diluted in every window that holds
it, while the alarming-sounding sentences of harmless text stand anywhere. In a prompt read in several windows,
its units (view ``last_sentence``) decide from the detector's lower ``last_sentence_threshold``
(:data:`LAST_SENTENCE_THRESHOLD`; None: the last sentence is judged like the others), and a verdict one decided is
flagged ``sentence`` and ``last_sentence``. A prompt that fits one window is read whole, its request barely
diluted, and its last sentence is as often the text it asks about ("Detect the bias in this statement: ...").

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
from safe_embed.errors import ConfigError
from safe_embed.sentences import sentence_bounds, sentence_spans

WINDOW_MARGIN = 4  # tokens kept free in a window: a cut text may tokenize to a few more pieces than its span
WORD_SNAP = 8  # tokens a window's edge may move in to fall between words
SENTENCE = "sentence"  # the view name of a sentence unit, and the flag of a verdict it decided
SENTENCE_THRESHOLD = 0.9  # a sentence alone decides from this score up (val splits: no new false positive)
LAST_SENTENCE = "last_sentence"  # the view name of a unit inside a prompt's last sentence, and its verdict's flag
LAST_SENTENCE_THRESHOLD = 0.7  # the last sentence decides from this score up (val splits, three detectors)
SENTENCE_VIEWS = (SENTENCE, LAST_SENTENCE)


def sentence_score(score: float, threshold: float) -> float:
    """A sentence's score from ``threshold`` up, mapped linearly onto [0.5, 1] (``threshold`` -> 0.5).

    >>> [round(sentence_score(s, 0.9), 6) for s in (0.9, 0.95, 1.0)]
    [0.5, 0.75, 1.0]
    """
    return 0.5 + 0.5 * (score - threshold) / (1.0 - threshold)


def check_sentence_threshold(value: float | None, option: str = "--sentence-threshold",
                             default: float = SENTENCE_THRESHOLD) -> float | None:
    """``value`` when it is None or in [0.5, 1), else a ConfigError naming it (and ``option``, with its
    ``default``, as the fix).

    >>> check_sentence_threshold(0.9), check_sentence_threshold(None)
    (0.9, None)
    """
    if value is not None and not 0.5 <= float(value) < 1.0:
        name = option.lstrip("-").replace("-", " ")
        raise ConfigError(f"{name} must be in [0.5, 1) or off, got {value!r}. Fix: e.g. {option} {default}, or "
                          f"{option} off.")
    return None if value is None else float(value)


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
    sentence of the text as given (:func:`sentence_spans`; view :data:`LAST_SENTENCE` for those inside its last
    sentence), and per text whether it was longer than ``max_chars`` (its tail is not checked).

    >>> units, _ = units_of(["Hello there, my friend. How do I bake bread?"], lambda t: [], 100, sentences=True)
    >>> [(u.view, u.body) for u in units]
    [('sentence', 'Hello there, my friend.'), ('last_sentence', 'How do I bake bread?')]
    """
    units, unchecked = [], []
    for i, text in enumerate(texts):
        unchecked.append(len(text) > max_chars)
        if not text.strip():
            continue
        head = text[:max_chars]
        for view in views(head):
            body = view.text[:max_chars]
            units.append(Unit(i, view.name, 0, len(body), body))
        if sentences and (spans := sentence_spans(head)):
            last = sentence_bounds(head)[-1][0]
            units += [Unit(i, LAST_SENTENCE if a >= last else SENTENCE, a, b, head[a:b]) for a, b in spans]
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


def combine(prepared: PreparedTexts, scored: Sequence[Detection], sentence_threshold: float | None = None,
            last_sentence_threshold: float | None = None) -> list[Detection]:
    """One detection per text of ``prepared`` from its units' detections (``scored``, one per unit): the most
    unsafe unit decides (the first on a tie: the given text before other views, earlier windows first; a sentence
    unit only from ``sentence_threshold`` up, one inside the last sentence of a text read in several windows from
    ``last_sentence_threshold`` up (None: from ``sentence_threshold``), its score mapped by
    :func:`sentence_score`), with its span, its view named in the flags, ``windowed`` when the text was read in
    several windows, ``unchecked_tail`` and ``repaired`` as they apply."""
    windows: dict[tuple[int, str], int] = {}
    for u in prepared.units:
        if u.view not in SENTENCE_VIEWS:
            windows[(u.index, u.view)] = windows.get((u.index, u.view), 0) + 1
    last = sentence_threshold if last_sentence_threshold is None else last_sentence_threshold
    best: dict[int, tuple[int, float]] = {}
    for k, u in enumerate(prepared.units):
        score = scored[k].score
        if u.view in SENTENCE_VIEWS:
            bar = last if u.view == LAST_SENTENCE and windows.get((u.index, ORIGINAL), 0) > 1 else sentence_threshold
            if bar is None or scored[k].label != "unsafe" or score < bar:
                continue
            score = sentence_score(score, bar)
        if u.index not in best or score > best[u.index][1]:
            best[u.index] = (k, score)
    out = []
    for i in range(len(prepared.texts)):
        d = EMPTY_DETECTION
        if i in best:
            k, score = best[i]
            u, d = prepared.units[k], scored[k]
            flags = list(d.flags)
            if windows.get((i, ORIGINAL if u.view in SENTENCE_VIEWS else u.view), 0) > 1:
                flags.append(WINDOWED)
            if u.view == LAST_SENTENCE:
                flags.append(SENTENCE)  # a sentence decided, and it was the last one
            if u.view != ORIGINAL:
                flags.append(u.view)
            d = replace(d, score=score, flags=tuple(flags), span=(u.start, u.end))
        extra = [UNCHECKED_TAIL] if prepared.unchecked[i] else []
        extra += [REPAIRED] if prepared.repaired[i] else []
        out.append(replace(d, flags=(*d.flags, *extra)) if extra else d)
    return out
