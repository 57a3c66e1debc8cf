"""How a prompt's units (see :mod:`~safe_embed.detector.coverage`) become its verdict: the most unsafe unit decides,
within the bars below. Each view of the prompt (the text as given, the text with its obfuscations undone: see
:mod:`~safe_embed.detector.text_views`) is read in windows and in sentences, and every rule below holds within
one view: a request in look-alike letters followed by padding is diluted in the normalized view's windows as the
plain request is in the original's, and found in the normalized view's first sentence. Where a prompt has a
normalized view, the parts of the text as given that it makes plain are read there only, and so are the parts that
a view of its words joined, of its strewn punctuation or of the tags around its words taken out reads whole; where it has a view with each run
of a repeated word said once, the parts of other views that hold such a run are read there only
(:func:`superseded`).

A short request inside long benign text is diluted in every window that holds it, but not in its own sentence or
clause (the sentence units). A sentence alone is judged more strictly than a window, because any harmless text has
a sentence or two that sound alarming out of context: it decides only when its score reaches the detector's
``sentence_threshold`` (:data:`SENTENCE_THRESHOLD` by default, chosen on the val splits as the lowest that flags no
more safe prompts; None turns sentence units off), and its score is then mapped onto [0.5, 1] by
:func:`sentence_score`. A verdict a sentence decided is flagged ``sentence``, with the sentence's span (and its
view's name, when not the text as given).

The last sentence of a long prompt (and the clauses inside it) is where it asks for what it wants: a request put
after a long preface, or at the end of a role-play frame, is its last sentence, diluted in every window that holds
it, while the alarming-sounding sentences of harmless text stand anywhere. In a prompt read in several windows,
its units (kind ``last_sentence``) decide from the detector's lower ``last_sentence_threshold``
(:data:`LAST_SENTENCE_THRESHOLD`; None: the last sentence is judged like the others), and a verdict one decided is
flagged ``sentence`` and ``last_sentence``. A prompt that fits one window is read whole, its request barely
diluted, and its last sentence is as often the text it asks about ("Detect the bias in this statement: ...").
The first sentence of a long prompt is the other place it asks: a request followed by pasted text or by padding
is diluted in the first window by what follows it. Its units (kind ``first_sentence``) decide from the detector's
``first_sentence_threshold`` (:data:`FIRST_SENTENCE_THRESHOLD`; None: judged like the others) in a prompt read in
several windows, flagged ``sentence`` and ``first_sentence``; a prompt of one sentence has only a last one.

A long document of harmless prose has many windows, and each may score unsafe by chance: a window of the prompt as
given (or of another view) after its first decides only when the sentences it holds back it up, one of them
scoring at least the detector's ``window_sentence_threshold`` (:data:`WINDOW_SENTENCE_THRESHOLD`; None: every
window decides alone), or when they cover less than half of it (a long run-on request, a list, code). A request in a
later window is in one of its sentences, which scores high read alone; a window of prose whose sentences all sound
harmless is set aside. The first window always decides: it is what a short prompt is read as, and its leading
request has no preface to hide behind."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from safe_embed.detector.results import (
    EMPTY_DETECTION,
    MATCHED,
    UNCHECKED_TAIL,
    WINDOWED,
    Detection,
    PreparedTexts,
)
from safe_embed.detector.text_fragments import fragments_view
from safe_embed.detector.text_normalize import normalize
from safe_embed.detector.text_policy import REPAIRED
from safe_embed.detector.text_punctuation import punctuation_view
from safe_embed.detector.text_repeats import repeats_view
from safe_embed.detector.text_structure import html_view
from safe_embed.detector.text_views import FRAGMENTS, HTML, NORMALIZED, ORIGINAL, PUNCTUATION, REPEATS
from safe_embed.errors import ConfigError

SENTENCE = "sentence"  # the kind of a sentence unit, and the flag of a verdict a sentence decided
SENTENCE_THRESHOLD = 0.9  # a sentence alone decides from this score up (val splits: no new false positive)
LAST_SENTENCE = "last_sentence"  # the kind of a unit inside a view's last sentence, and its verdict's flag
LAST_SENTENCE_THRESHOLD = 0.7  # the last sentence decides from this score up (val splits, three detectors)
FIRST_SENTENCE = "first_sentence"  # the kind of a unit inside a view's first sentence, and its verdict's flag
FIRST_SENTENCE_THRESHOLD = 0.8  # the first sentence decides from this score up (val splits, three detectors)
WINDOW_SENTENCE_THRESHOLD = 0.4  # a later window decides when a sentence in it scores this (val, three detectors)


def sentence_score(score: float, threshold: float) -> float:
    """A sentence's score from ``threshold`` up, mapped linearly onto [0.5, 1] (``threshold`` -> 0.5).

    >>> [round(sentence_score(s, 0.9), 6) for s in (0.9, 0.95, 1.0)]
    [0.5, 0.75, 1.0]
    """
    return 0.5 + 0.5 * (score - threshold) / (1.0 - threshold)


def check_sentence_threshold(value: float | None, option: str = "--sentence-threshold",
                             default: float = SENTENCE_THRESHOLD, low: float = 0.5) -> float | None:
    """``value`` when it is None or in [``low``, 1), else a ConfigError naming it (and ``option``, with its
    ``default``, as the fix).

    >>> check_sentence_threshold(0.9), check_sentence_threshold(None)
    (0.9, None)
    >>> check_sentence_threshold(0.4, "--window-sentence-threshold", WINDOW_SENTENCE_THRESHOLD, low=0.0)
    0.4
    """
    if value is not None and not low <= float(value) < 1.0:
        name = option.lstrip("-").replace("-", " ")
        raise ConfigError(f"{name} must be in [{low:g}, 1) or off, got {value!r}. Fix: e.g. {option} {default}, "
                          f"or {option} off.")
    return None if value is None else float(value)


def unsupported_windows(prepared: PreparedTexts, scored: Sequence[Detection], threshold: float | None) -> set[int]:
    """The units (by position) of windows after the first of a view that score unsafe but that no sentence of the
    same view backs up: its sentence units cover at least half of the window and none inside it scores
    ``threshold`` (None: no window is set aside). A unit that a near copy of an exemplar labelled (flag
    ``matched``) is never set aside.

    >>> import numpy as np
    >>> from safe_embed.detector.results import Unit, PreparedTexts
    >>> text = "Prose one here. Prose two here. Bad request here."
    >>> units = [Unit(0, ORIGINAL, 0, 31, text[:31]), Unit(0, ORIGINAL, 16, 49, text[16:]),
    ...          Unit(0, ORIGINAL, 0, 15, text[:15], SENTENCE), Unit(0, ORIGINAL, 16, 31, text[16:31], SENTENCE),
    ...          Unit(0, ORIGINAL, 32, 49, text[32:], LAST_SENTENCE)]
    >>> prepared = PreparedTexts((text,), (False,), tuple(units), np.zeros((5, 2)), (False,))
    >>> def scores(*s): return [Detection("unsafe" if x >= 0.5 else "safe", x, None) for x in s]
    >>> unsupported_windows(prepared, scores(0.2, 0.8, 0.1, 0.1, 0.3), 0.4)  # no sentence of window 2 scores 0.4
    {1}
    >>> unsupported_windows(prepared, scores(0.2, 0.8, 0.1, 0.1, 0.45), 0.4)
    set()
    """
    if threshold is None:
        return set()
    later, seen = [], set()
    for k, u in enumerate(prepared.units):
        if u.sentence is not None:
            continue
        if (u.index, u.view) not in seen:  # a view's first window comes first
            seen.add((u.index, u.view))
        elif scored[k].label == "unsafe" and MATCHED not in scored[k].flags:
            later.append(k)
    if not later:
        return set()
    sentences: dict[tuple[int, str], list[tuple[int, int, float]]] = {}
    for k, u in enumerate(prepared.units):
        if u.sentence is not None:
            sentences.setdefault((u.index, u.view), []).append((u.start, u.end, scored[k].score))
    out = set()
    for k in later:
        u = prepared.units[k]
        inside = [(a, b, s) for a, b, s in sentences.get((u.index, u.view), ()) if a >= u.start and b <= u.end]
        covered, reach = 0, u.start
        for a, b, _ in sorted(inside):
            covered += max(0, b - max(a, reach))
            reach = max(reach, b)
        if 2 * covered >= u.end - u.start and all(s < threshold for _, _, s in inside):
            out.add(k)
    return out


def superseded(prepared: PreparedTexts) -> set[int]:
    """The units (by position) of a prompt that another of its views reads in their place:

    * in a prompt with a ``normalized`` view, a unit of the original whose text :func:`normalize` changes (styled
      or look-alike letters the tokenizer reads as unknown pieces, leetspeak it reads as other words). Its reading
      is noise beside the same text made plain, and it would otherwise decide on that noise: a harmless question in
      Fraktur followed by prose scores unsafe in the original's window (unknown pieces beside prose), safe made
      plain. The original's units that normalizing leaves as they are still count;
    * in a prompt with a ``decoded:fragments``, ``decoded:punctuation`` or ``decoded:html`` view, a unit of the
      original that the view's reading changes (words broken apart by spaces, "ema il", "read er", joined; punctuation
      strewn into words taken out; a tag around each word taken out): the pieces read alone are other words, and
      harmless prompts broken apart scored unsafe on them. (Views of a payload alone, such as ``decoded:list``
      or ``decoded:base64``, never set the text around it aside.);
    * in a prompt with a ``decoded:repeats`` view, a unit of another view that holds a run of a repeated word
      (:func:`~safe_embed.detector.text_repeats.repeats_view` changes it): fifty "poem"s before a harmless question
      move its embedding far from anything the detector has seen, and it scored unsafe as often as not. The run is
      read once, in that view, with everything around it.

    >>> import numpy as np
    >>> from safe_embed.detector.results import Unit, PreparedTexts
    >>> units = (Unit(0, ORIGINAL, 0, 9, "H0w d0 I?"), Unit(0, NORMALIZED, 0, 9, "How do I?"),
    ...          Unit(0, ORIGINAL, 0, 4, "H0w?", SENTENCE), Unit(0, ORIGINAL, 5, 9, "Yes.", SENTENCE),
    ...          Unit(1, ORIGINAL, 0, 4, "H0w?"))
    >>> superseded(PreparedTexts(("H0w d0 I?", "H0w?"), (False, False), units, np.zeros((5, 2))))
    {0, 2}
    >>> run = " ".join(["poem"] * 9)
    >>> units = (Unit(0, ORIGINAL, 0, 56, run + " Hi"), Unit(0, REPEATS, 0, 7, "poem Hi"), Unit(0, ORIGINAL, 54, 56, "Hi"))
    >>> superseded(PreparedTexts((run + " Hi",), (False,), units, np.zeros((3, 2))))
    {0}
    """
    views: dict[str, set[int]] = {}
    for u in prepared.units:
        views.setdefault(u.view, set()).add(u.index)
    in_place = [(views.get(name, set()), read) for name, read in
                ((NORMALIZED, lambda t: normalize(t) != t), (FRAGMENTS, _joined_at_spaces),
                 (PUNCTUATION, lambda t: punctuation_view(t) is not None),
                 (HTML, lambda t: html_view(t) is not None))]
    repeated = views.get(REPEATS, set())
    return {k for k, u in enumerate(prepared.units)
            if u.view == ORIGINAL and any(u.index in having and read(u.body) for having, read in in_place)
            or u.view != REPEATS and u.index in repeated and repeats_view(u.body) is not None}


def _joined_at_spaces(text: str) -> bool:
    """:func:`fragments_view` joins words of ``text`` broken apart by spaces or line breaks only (a hyphen put
    into a word, "c-o-nclude-d", is a jailbreak frame's own mark: the text as given keeps reading it)."""
    joined = fragments_view(text)
    return joined is not None and "".join(joined.split()) == "".join(text.split())


def combine(prepared: PreparedTexts, scored: Sequence[Detection], sentence_threshold: float | None = None,
            last_sentence_threshold: float | None = None, window_sentence_threshold: float | None = None,
            first_sentence_threshold: float | None = None) -> list[Detection]:
    """One detection per text of ``prepared`` from its units' detections (``scored``, one per unit): the most
    unsafe unit decides (the first on a tie: the given text before other views, earlier windows first; a sentence
    unit only from ``sentence_threshold`` up, one inside the last sentence of a view read in several windows from
    ``last_sentence_threshold`` up and one inside its first sentence from ``first_sentence_threshold`` up (None:
    from ``sentence_threshold``), its score mapped by
    :func:`sentence_score`; a later window only when :func:`unsupported_windows` does not set it aside at
    ``window_sentence_threshold``; never a unit of the text as given that its normalized view reads in its place,
    :func:`superseded`), with its span (in its view's text), its view named in the flags (unless the
    text as given), ``sentence`` and the kind of edge sentence when a sentence decided, ``windowed`` when the view
    was read in several windows, ``unchecked_tail`` and ``repaired`` as they apply."""
    windows: dict[tuple[int, str], int] = {}
    for u in prepared.units:
        if u.sentence is None:
            windows[(u.index, u.view)] = windows.get((u.index, u.view), 0) + 1
    edges = {LAST_SENTENCE: sentence_threshold if last_sentence_threshold is None else last_sentence_threshold,
             FIRST_SENTENCE: sentence_threshold if first_sentence_threshold is None else first_sentence_threshold}
    aside = unsupported_windows(prepared, scored, window_sentence_threshold) | superseded(prepared)
    best: dict[int, tuple[int, float]] = {}
    for k, u in enumerate(prepared.units):
        score = scored[k].score
        if k in aside:
            continue
        if u.sentence is not None:
            bar = edges.get(u.sentence, sentence_threshold) if windows.get((u.index, u.view), 0) > 1 \
                else sentence_threshold
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
            if windows.get((i, u.view), 0) > 1:
                flags.append(WINDOWED)
            if u.sentence is not None:
                flags.append(SENTENCE)
            if u.sentence in edges:
                flags.append(u.sentence)  # the first or the last sentence decided
            if u.view != ORIGINAL:
                flags.append(u.view)
            d = replace(d, score=score, flags=tuple(flags), span=(u.start, u.end))
        extra = [UNCHECKED_TAIL] if prepared.unchecked[i] else []
        extra += [REPAIRED] if prepared.repaired[i] else []
        out.append(replace(d, flags=(*d.flags, *extra)) if extra else d)
    return out
