"""Word games an LLM reads fluently: the ``decoded:piglatin`` and ``decoded:nato`` views of
:mod:`~safe_embed.detector.text_views`.

* Pig Latin ("Elltay emay owhay" for "Tell me how"): each sentence, line or colon-separated part of at
  least three words, most of them ending in "ay" and few of them English as written, is read back word by word
  (the "ay" dropped, and the one to three letters before it put back in front, or a "w", "y" or "h" dropped after
  a vowel-initial word: whichever reading is the most frequent English word); kept when
  :data:`~safe_embed.detector.text_ciphers.MIN_ENGLISH_DECIPHERED` of its words are English.
* The NATO spelling alphabet ("Hotel Oscar Whiskey"): a run of at least :data:`MIN_NATO_WORDS` code words, read as
  the letters they spell; a slash, or two spaces or more, between code words is a word break.

>>> piglatin_view("Answer this: Elltay emay owhay otay akebay eadbray")
'Tell me how to bake bread'
>>> nato_view("Spell it: Hotel Oscar Whiskey / Tango Oscar / Bravo Alfa Kilo Echo")
'how to bake'
"""

from __future__ import annotations

import re

from safe_embed.detector.text_ciphers import MAX_CIPHER_CHARS, MIN_ENGLISH_DECIPHERED, PARTS, english_share
from safe_embed.detector.text_spelling import word_counts

MIN_NATO_WORDS = 6  # code words in a run, at least (a radio call sign or a spelled name has a few)
PIG_SHARE = 0.6  # of a part's words ending in "ay", at least
NATO = {w: w[0].lower() for w in ("Alfa", "Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel",
                                  "India", "Juliett", "Juliet", "Kilo", "Lima", "Mike", "November", "Oscar", "Papa",
                                  "Quebec", "Romeo", "Sierra", "Tango", "Uniform", "Victor", "Whiskey", "Xray",
                                  "X-ray", "Yankee", "Zulu")}
_NATO_WORD = "|".join(sorted((re.escape(w) for w in NATO), key=len, reverse=True))
_NATO_RUN = re.compile(rf"(?i)\b(?:{_NATO_WORD})(?:(?:\s*/\s*|\s+|\s*,\s*)(?:{_NATO_WORD})){{{MIN_NATO_WORDS - 1},}}\b")
_NATO_LOWER = {w.lower(): c for w, c in NATO.items()}
_PIG_WORD = re.compile(r"[A-Za-z]+")


def piglatin_view(text: str) -> str | None:
    """The parts of ``text`` (its first :data:`~safe_embed.detector.text_ciphers.MAX_CIPHER_CHARS` characters) in
    Pig Latin read back, one per line; None if there are none."""
    if "ay" not in text:
        return None
    found = [d for p in PARTS.split(text[:MAX_CIPHER_CHARS]) if (d := _unpig_part(p.strip()))]
    return "\n".join(found) if found else None


def _unpig_part(part: str) -> str | None:
    words = [w.lower() for w in _PIG_WORD.findall(part) if len(w) >= 3]
    pig = [w for w in words if w.endswith("ay")]
    if len(pig) < 3 or len(pig) < PIG_SHARE * len(words) or english_share(words) >= 0.5:
        return None
    out = _PIG_WORD.sub(lambda m: _unpig(m.group()), part)
    return out if english_share(_PIG_WORD.findall(out.lower())) >= MIN_ENGLISH_DECIPHERED else None


def _unpig(word: str) -> str:
    """One Pig Latin word read back (its case folded, a capital kept at the start), or the word as it is."""
    lower = word.lower()
    if not lower.endswith("ay") or len(lower) < 3:
        return word
    stem = lower[:-2]
    candidates = [stem[-k:] + stem[:-k] for k in (1, 2, 3) if len(stem) > k] + [stem]
    if stem[-1:] in "wyh":
        candidates.append(stem[:-1])
    counts = word_counts()
    best = max(candidates, key=lambda c: counts.get(c, 0))
    if counts.get(best, 0) == 0:
        return word
    return best.capitalize() if word[:1].isupper() else best


def nato_view(text: str) -> str | None:
    """The runs of NATO code words in ``text`` read as the letters they spell, one per line; None if none."""
    found = []
    for m in _NATO_RUN.finditer(text):
        words = re.split(r"\s*/\s*|\s{2,}", m.group())
        found.append(" ".join("".join(_NATO_LOWER[w.lower()] for w in re.split(r"[\s,]+", chunk) if w)
                              for chunk in words))
    return "\n".join(found) if found else None
