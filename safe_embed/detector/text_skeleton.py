"""Words written in look-alike characters, read by their TR39 skeleton: the ``decoded:skeleton`` view of
:mod:`~safe_embed.detector.text_views`.

Unicode TR39 gives each character that looks like another a prototype: Cyrillic е and ⅇ are e, ⍺ is a, the Telugu
sign ం is o, Cherokee Ꮃ is W, capital I and the digit 1 are l, and m is "rn". Two strings with the same *skeleton*
(each character replaced by its prototype, :func:`skeleton`; format characters such as the direction marks
around right-to-left look-alikes dropped) look alike. Red-teaming tools replace each letter
of a request with a random look-alike from any script ("Ꮃrⅰtе ⍺ cంnvincing ... ernail"), many of them marks,
symbols or letters pairs that the normalized view's letter-for-letter mapping cannot read. Here each word that is
not English as written is read as the most used English word with its skeleton (the word list's words used
:data:`~safe_embed.detector.text_ciphers.ENGLISH_COUNT` times or more), when the text holds at least
:data:`MIN_LOOKALIKES` characters whose prototype is an ASCII letter and at least half of its words that are not
English read so (:data:`MIN_READ` or more): a Russian or Greek text's words seldom share a skeleton with an
English word.

The prototypes are ``confusable-homoglyphs``' copy of TR39's data; the skeletons of the English words are built
on the first text that needs them (about 0.2 s), or by :func:`load_skeletons` at start-up.

>>> skeleton("ernail") == skeleton("email"), skeleton("steaIs")
(True, 'steals')
>>> skeleton_view("Ꮃrⅰtе ⍺ cంnvincing ernail")
'Write a convincing email'
>>> skeleton_view("Как приготовить борщ дома?") is None
True
"""

from __future__ import annotations

import functools
import re
import unicodedata

from safe_embed.detector.text_ciphers import ENGLISH_COUNT
from safe_embed.detector.text_spelling import word_counts

MIN_LOOKALIKES = 3  # non-ASCII characters with an ASCII letter for prototype, in a text read by skeleton
MIN_READ = 2  # words read as English words by their skeleton, at least
MAX_SKELETON_CHARS = 20_000  # of a text read
_LRM = "\u200e"
_EDGE = ".,;:!?\"'`ˈ"  # punctuation a word's last look-alike may stand for ("ꛫ" ?), not part of the word
_WORD = re.compile(r"[^\s.,;:!?\"'()\[\]{}]+")


@functools.cache
def _prototypes() -> dict[str, str]:
    """Character -> its TR39 prototype, for every character that has one other than itself."""
    from confusable_homoglyphs import confusables

    data = confusables.confusables_data
    out = {}
    for c, entries in data.items():
        if len(entries) == 1 and (p := entries[0]["c"]) != c and c in {e["c"] for e in data.get(p, ())}:
            out[c] = p.replace(_LRM, "")  # right-to-left prototypes carry direction marks: the letters are it
    for p, entries in data.items():  # the look-alikes listed under an ASCII prototype only ("\u200eﻩ\u200e" o)
        if p.isascii() and p.isalpha():
            for e in entries:
                if len(c := e["c"].replace(_LRM, "")) == 1 and not c.isascii():
                    out.setdefault(c, p)
    return out


def skeleton(text: str) -> str:
    """``text`` with each character replaced by its TR39 prototype, combining marks and format characters then
    dropped, in lower case, without punctuation at its ends."""
    protos = _prototypes()
    mapped = "".join(protos.get(c, c) for c in unicodedata.normalize("NFD", text))
    kept = "".join(c for c in unicodedata.normalize("NFD", mapped) if unicodedata.category(c)[0] != "M"
                   and unicodedata.category(c) != "Cf")
    return kept.lower().strip(_EDGE)


@functools.cache
def _english_by_skeleton() -> dict[str, str]:
    """Skeleton -> the most used English word with it."""
    out: dict[str, str] = {}
    for word, count in sorted(word_counts().items(), key=lambda wc: wc[1]):
        if count >= ENGLISH_COUNT and word.isalpha():
            out[skeleton(word)] = word  # the most used last
    for word in ("i", "a"):  # capital I's skeleton is l's
        out.setdefault(skeleton(word.upper()), word.upper())
    return out


def load_skeletons() -> None:
    """Build the prototypes and the English words' skeletons now instead of on the first text that needs them."""
    _english_by_skeleton()


def _lookalike(c: str) -> bool:
    p = _prototypes().get(c, "")
    return not c.isascii() and p.isascii() and p.isalpha()


def skeleton_view(text: str) -> str | None:
    """``text`` with its words of look-alike characters read by their skeleton (see the module docstring); None if
    it has none."""
    text = text[:MAX_SKELETON_CHARS]
    if text.isascii() or sum(_lookalike(c) for c in set(text)) < 1 or sum(map(_lookalike, text)) < MIN_LOOKALIKES:
        return None
    counts, english = word_counts(), _english_by_skeleton()
    unknown = [m for m in _WORD.finditer(text) if counts.get(m.group().lower(), 0) < ENGLISH_COUNT]
    read = {}
    for m in unknown:
        if word := english.get(skeleton(w := m.group())):
            read[m.start()] = word.capitalize() if _upper(w[0]) else word
    if len(read) < MIN_READ or 2 * len(read) < len(unknown):
        return None
    return _WORD.sub(lambda m: read.get(m.start(), m.group()), text)


def _upper(c: str) -> bool:
    """Whether ``c`` or its prototype is a capital."""
    return c.isupper() or _prototypes().get(c, "")[:1].isupper()
