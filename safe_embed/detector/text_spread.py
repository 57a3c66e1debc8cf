"""Letters spread apart: the ``decoded:letters`` view of :mod:`~safe_embed.detector.text_views`.

A run of single characters (letters, or digits and ``@ $`` standing for them), each parted from the next by a short
gap of other characters on one line, is read back as words: the gap the run uses most parts the letters of a word,
any other gap parts two words. This one reading undoes the ways of spreading letters that the normalized view's
fixed patterns do not know, whatever the gap is made of:

* two spaces between letters and five between words ("E  x  p  l  a  i  n     h  o  w");
* each letter in brackets or markdown bold ("[E][x][p] [h][o][w]", "**E****x****p** **h****o****w**");
* styled letters spread out, which touch no Latin letter and so stay styled in the normalized view
  ("E 𝔵 𝔭 𝔩 𝔞 𝔦 𝔫   𝔥 𝔬 𝔴"), and superscript letters with a dot after each ("ᵉ.x.ᵖ. .ʰ.ᵒ.ʷ").

A run counts from :data:`MIN_LETTERS` characters: at least two thirds of them letters or digits that stand for
letters in leetspeak, a third at least letters, four different ones at least (not "x x x x"); and its commonest gap
must part at least half of its characters. Ordinary text has words of several letters between its single ones
("a", "I", "x = 1"), and so seldom holds such a run; where it does (a list such as "a, b, c, d"), the view only
adds a reading beside the text as given, which still decides.

>>> spread_view("[E][x][p][l][a][i][n] [h][o][w] [t][o] [b][a][k][e][?]")
'Explain how to bake?'
>>> spread_view("Please: b  a  k  e     b  r  e  a  d   now")
'Please: bake bread   now'
>>> spread_view("Take x = 1, y = 2 and z = 3.") is None, spread_view("a a a a a a a a") is None
(True, True)
"""

from __future__ import annotations

import re
from collections import Counter

from safe_embed.detector.text_leet import LEET_CHARS

MIN_LETTERS = 6  # single characters in a run, at least
MAX_GAP = 8  # characters between two letters of a run, at most
_LETTER = r"[^\W_]"  # a letter or digit (any script, styled letters included)
_GAP = rf"(?:[^\w\n]|_){{1,{MAX_GAP}}}"  # what parts two of them: no letter, digit or line break
# a run of single characters, each parted from the next by a gap; never more than one character between gaps
_RUN = re.compile(rf"(?<![\w@$]){_LETTER}(?:{_GAP}{_LETTER}){{{MIN_LETTERS - 1},}}(?![\w@$])")
_PARTS = re.compile(rf"({_LETTER})")
_MARKS = frozenset(".,;:!?'")  # a mark wrapped as the letters are, read as the mark


def spread_view(text: str) -> str | None:
    """``text`` with each run of spread letters read as words (see the module docstring); None if it has none."""
    out, at = [], 0
    for m in _RUN.finditer(text):
        start, end, reading = _read(m)
        if start >= at:
            out += [text[at:start], reading]
            at = end
    out.append(text[at:])
    joined = "".join(out)
    return joined if joined != text else None


def _read(m: re.Match[str]) -> tuple[int, int, str]:
    """The span the run takes, with the wrapper around its first and last letter, and its reading (the run as it
    is where it is not spread letters)."""
    run = m.group()
    parts = _PARTS.split(run)[1:-1]  # letter, gap, letter, ..., letter
    letters, gaps = parts[0::2], parts[1::2]
    gap, used = Counter(gaps).most_common(1)[0]
    alpha = sum(c.isalpha() for c in letters)
    if (3 * alpha < len(letters) or 3 * (alpha + sum(c in LEET_CHARS for c in letters)) < 2 * len(letters)
            or len({c.lower() for c in letters}) < 4 or 2 * used < len(gaps)):
        return m.start(), m.end(), run
    closer, opener = _wrapper(gap)
    words, word = [], [letters[0]]
    for g, c in zip(gaps, letters[1:], strict=True):
        if closer and g.startswith(closer + opener) and g[len(closer + opener):][:1] in _MARKS and \
                g[len(closer + opener) + 1:].startswith(closer):  # a mark wrapped as a letter: "[I][']", "[y][.] ["
            word.append(g[len(closer + opener)])
            g = g[len(closer + opener) + 1:]
        if g != gap:
            words.append("".join(word))
            word = []
        word.append(c)
    words.append("".join(word))
    if len(words) == len(letters):  # every gap differs from the commonest: the commonest parts words, not letters
        return m.start(), m.end(), run
    start, end, text, tail = m.start(), m.end(), m.string, ""
    if closer:
        if text[:start].endswith(opener):
            start -= len(opener)
        while (mark := text[end + len(closer + opener):][:1]) in _MARKS and mark and \
                text.startswith(closer + opener + mark + closer, end):  # "[n][.]": the mark after the last letter
            tail += mark
            end += len(closer + opener + mark)
        if text.startswith(closer, end):
            end += len(closer)
    return start, end, " ".join(words) + tail


def _wrapper(gap: str) -> tuple[str, str]:
    """What closes a letter and what opens the next, when the gap is the two ("][" and "**" + "**"); else ("", "")."""
    half = len(gap) // 2
    if not gap.strip() or len(gap) % 2 or gap[:half] == gap[half:] and len(set(gap)) == 1 and half < 2:
        return "", ""
    return gap[:half], gap[half:]
