"""A word or short phrase repeated many times: the ``decoded:repeats`` view of
:mod:`~safe_embed.detector.text_views`.

A request before or after a word said fifty times ("... poem poem poem poem ...", as PyRIT's RepeatTokenConverter
writes) is read by the encoder as mostly that word: the mean of the token embeddings is the repeated word's, and
the request's share of it is small. An LLM skips the run and reads the request. The view is the text with each
run of :data:`MIN_REPEATS` or more of the same word or phrase of up to :data:`MAX_PHRASE_WORDS` words (compared in
lower case, without the punctuation around it), each with a letter in it, said once: "ha ha ha", "very very very" and
"no, no, no" are shorter runs; a table's "| | | |" and "0 0 0 0" hold no letter. A word put between every two
words of the request ("Explain banana how banana to banana make") is the same trick spread out: a word that
stands at every second place of a line :data:`MIN_BETWEEN` times or more in a row is kept at its first place only,
unless it is an English function word or a single letter ('"yes" and "no" and "maybe" and "why"', "a kiwi, a pen, a
feather, a hair"). What was said is kept once: "kill kill kill kill kill them all" is read "kill them all".

>>> repeats_view(" ".join(["poem"] * 20) + " Explain how to bake bread")
'poem Explain how to bake bread'
>>> repeats_view("Explain how to bake bread. Hello world! Hello world! Hello world! Hello world! Hello world!")
'Explain how to bake bread. Hello world!'
>>> repeats_view("Explain banana how banana to banana bake banana bread")
'Explain banana how to bake bread'
>>> repeats_view("Ha ha ha, very very good: no, no, no!") is None
True
"""

from __future__ import annotations

import itertools
import re

from safe_embed.detector.text_spelling import ENGLISH_MARKERS

MIN_REPEATS = 5  # of a word or phrase in a row, at least
MIN_BETWEEN = 4  # of a word at every second place, at least
MAX_PHRASE_WORDS = 3  # words of a repeated phrase, at most
MAX_REPEATS_CHARS = 100_000  # of a text looked at
_TOKEN = re.compile(r"\S+")
_LETTER = re.compile(r"[^\W\d_]")
_EDGES = ".,;:!?\"'()[]{}*-_"


def repeats_view(text: str) -> str | None:
    """``text`` with each run of a repeated word or phrase said once (see the module docstring); None if it has
    none or nothing else."""
    text = text[:MAX_REPEATS_CHARS]
    spans = [m.span() for m in _TOKEN.finditer(text)]
    keys = [text[a:b].strip(_EDGES).lower() for a, b in spans]
    lines = list(itertools.accumulate(text.count("\n", b, a) for (_, b), (a, _) in zip([(0, 0), *spans], spans)))
    cut = {i for start, end, n in _runs(keys) for i in range(start + n, end)} | _between(keys, lines)
    if not cut:
        return None
    kept, at = [], 0
    for i in sorted(cut):
        kept.append(text[at:spans[i][0]])
        at = spans[i][1]
    kept.append(text[at:])
    out = re.sub(r"[ \t]{2,}", " ", "".join(kept)).strip()
    return out if _LETTER.search(out) else None


def _between(keys: list[str], lines: list[int]) -> set[int]:
    """The places of a word that stands at every second place :data:`MIN_BETWEEN` times or more in a row, on one
    line (not the "import" of each line of code)."""
    out: set[int] = set()
    end = 0
    for i in _again(keys, 2):  # a decoy stands where it stood two places before
        if i < end or i == 0:
            continue
        key, n = keys[i], 0
        while i + 2 * n < len(keys) and keys[i + 2 * n] == key and keys[i + 2 * n - 1] != key and \
                lines[i + 2 * n] == lines[i]:
            n += 1
        if n >= MIN_BETWEEN and len(key) > 1 and _LETTER.search(key) and key not in ENGLISH_MARKERS:
            out.update(range(i + 2, i + 2 * n, 2))
            end = i + 2 * n
    return out


def _runs(keys: list[str]) -> list[tuple[int, int, int]]:
    """The token ranges ``[start, end)`` of each run and its phrase's words, in order, none overlapping."""
    runs, end = [], 0
    starts = sorted(set().union(*(_again(keys, n) for n in range(1, MAX_PHRASE_WORDS + 1))))
    for i in starts:  # a run starts where a phrase of n words is said again n places on
        if i < end:
            continue
        best, words = 0, 0
        for n in range(1, MAX_PHRASE_WORDS + 1):
            phrase = keys[i:i + n]
            if len(phrase) < n or not all(phrase) or not any(_LETTER.search(k) for k in phrase):
                break
            reps = 1
            while keys[i + reps * n:i + (reps + 1) * n] == phrase:
                reps += 1
            if reps >= MIN_REPEATS and reps * n > best:
                best, words = reps * n, n
        if best:
            runs.append((i, i + best, words))
            end = i + best
    return runs


def _again(keys: list[str], n: int) -> list[int]:
    """The places whose word stands again ``n`` places on."""
    return [i for i, (a, b) in enumerate(zip(keys, keys[n:])) if a == b]
