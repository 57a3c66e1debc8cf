"""The detector's runtime settings, stored in its manifest."""

from __future__ import annotations

from dataclasses import dataclass, field

from safe_embed.detector.categories import CategorySettings
from safe_embed.detector.coverage_verdict import (
    FIRST_SENTENCE_THRESHOLD,
    LAST_SENTENCE_THRESHOLD,
    SENTENCE_THRESHOLD,
    WINDOW_SENTENCE_THRESHOLD,
)
from safe_embed.detector.index import IndexSettings
from safe_embed.detector.limits import MAX_CHARS


@dataclass(frozen=True)
class DetectorSettings:
    """``k_neighbors`` reported per detection, ``max_chars`` a text is cut to, ``batch_size`` of classification,
    the FAISS ``index`` settings, the ``seed`` of the data split, and ``match_threshold``: a prompt whose nearest
    exemplar is at least this similar takes that exemplar's label (flag ``matched``; None = off), so an added
    exemplar always governs its near copies. It is chosen on the calibration split (see
    :func:`safe_embed.detector.calibration.choose_match_threshold`). ``categories``: how per-category scores are
    computed and which category is reported (see :mod:`safe_embed.detector.categories`). ``sentence_threshold``:
    the score from which one sentence of a longer prompt decides alone (None: sentences are not read alone; see
    :mod:`safe_embed.detector.coverage_verdict`); ``last_sentence_threshold``: the same for the last sentence of a
    prompt, where a prompt asks for what it wants (None: judged like the others; no sentence is read alone when
    ``sentence_threshold`` is None); ``first_sentence_threshold``: the same for its first sentence, where a request
    followed by pasted text or padding stands; ``window_sentence_threshold``: a window of a long prompt after its first
    decides only when a sentence inside it scores at least this, or sentences cover less than half of it (None:
    every window decides alone). Immutable: ``dataclasses.replace`` gives a
    changed copy."""

    k_neighbors: int = 5
    max_chars: int = MAX_CHARS
    batch_size: int = 256
    index: IndexSettings = field(default_factory=IndexSettings)
    seed: int = 0
    match_threshold: float | None = None
    categories: CategorySettings = field(default_factory=CategorySettings)
    sentence_threshold: float | None = SENTENCE_THRESHOLD
    last_sentence_threshold: float | None = LAST_SENTENCE_THRESHOLD
    first_sentence_threshold: float | None = FIRST_SENTENCE_THRESHOLD
    window_sentence_threshold: float | None = WINDOW_SENTENCE_THRESHOLD
