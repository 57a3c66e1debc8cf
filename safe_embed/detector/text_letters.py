"""Letters written twice or as flags: two steps of the "normalized" view
(:func:`~safe_embed.detector.text_normalize.normalize`).

* **Regional indicators** (🇦 ... 🇿, the letters flags are made of) read as the letters they name, when the text
  spells with them: a run of an odd number of them (three or more: no flag), or :data:`MIN_INDICATORS` in all. A
  flag or two (🇫🇷, 🇺🇸🇬🇧) stays.
* **Doubled letters** ("GGiivvee  sstteepp"): each word whose every character is written two or three times in a
  row is written once, when at least :data:`MIN_DOUBLED_WORDS` words of four characters or more are, and they are
  at least half the words of two or more. Ordinary text has a doubled letter here and there ("bookkeeper",
  "aardvark"), never a word of doubled letters only, let alone three.

>>> fold_indicators("🇭🇮🇳🇹 🇲🇪 🇭🇴🇼 🇹🇴 🇧🇦🇰🇪")
'hint me how to bake'
>>> fold_indicators("Go 🇫🇷!"), fold_indicators("Give me a 🇭🇮🇳🇹")  # a flag; two flags?
('Go 🇫🇷!', 'Give me a 🇭🇮🇳🇹')
>>> undouble("GGiivvee  mmee  aa  hhiinntt"), undouble("The bookkeeper took a coffee")
('Give  me  a  hint', 'The bookkeeper took a coffee')
"""

from __future__ import annotations

import re

MIN_INDICATORS = 8  # regional indicators in a text, from which they are read as letters (four flags)
MIN_DOUBLED_WORDS = 3  # words of 4+ characters written doubled, from which a text's doubled words are undone
_INDICATOR_RUN = re.compile("[\U0001f1e6-\U0001f1ff]+")
_WORD = re.compile(r"[^\W_]+|[@$]+", re.UNICODE)
_DOUBLED_HINT = re.compile(r"(?:([^\W_])\1\1?){3}")  # three letters doubled (or tripled) in a row: one cheap scan


def fold_indicators(text: str) -> str:
    """``text`` with its regional indicators as lower-case ASCII letters, when it spells with them (see the module
    docstring); else ``text``."""
    runs = _INDICATOR_RUN.findall(text)
    if not runs or not (any(len(r) % 2 and len(r) >= 3 for r in runs) or sum(map(len, runs)) >= MIN_INDICATORS):
        return text
    return _INDICATOR_RUN.sub(lambda m: "".join(chr(ord(c) - 0x1F1E6 + 97) for c in m.group()), text)


def _times(word: str) -> int:
    """2 or 3 when every character of ``word`` is written that many times in a row, else 1."""
    for k in (2, 3):
        if len(word) >= k and len(word) % k == 0 and all(word[i::k] == word[::k] for i in range(1, k)):
            return k
    return 1


def undouble(text: str) -> str:
    """``text`` with its doubled words written once, when it doubles its words (see the module docstring)."""
    if not _DOUBLED_HINT.search(text):
        return text
    words = [m for m in _WORD.finditer(text) if len(m.group()) >= 2]
    times = [_times(m.group()) for m in words]
    long = sum(k > 1 and len(m.group()) >= 4 for m, k in zip(words, times, strict=True))
    if long < MIN_DOUBLED_WORDS or 2 * sum(k > 1 for k in times) < len(words):
        return text
    out, at = [], 0
    for m, k in zip(words, times, strict=True):
        if k > 1:
            out += [text[at:m.start()], m.group()[::k]]
            at = m.end()
    return "".join(out) + text[at:]
