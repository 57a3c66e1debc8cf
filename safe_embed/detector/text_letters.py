"""Letters written twice, as flags, enclosed or split, words parted by symbols: steps of the "normalized" view
(:func:`~safe_embed.detector.text_normalize.normalize`).

* **Regional indicators** (🇦 ... 🇿, the letters flags are made of) read as the letters they name, when the text
  spells with them: a run of an odd number of them (three or more: no flag), or :data:`MIN_INDICATORS` in all. A
  flag or two (🇫🇷, 🇺🇸🇬🇧) stays.
* **Doubled letters** ("GGiivvee  sstteepp"): each word whose every character is written two or three times in a
  row is written once, when at least :data:`MIN_DOUBLED_WORDS` words of four characters or more are, and they are
  at least half the words of two or more. Ordinary text has a doubled letter here and there ("bookkeeper",
  "aardvark"), never a word of doubled letters only, let alone three.
* **Symbols between words** ("Explain 🙂 how 🙂 to 🙂 make", "how✨to✨make"): in a run of at least
  :data:`MIN_SEPARATED_WORDS` words each parted from the next by symbols (emoji, pictographs, arrows, bullets:
  non-ASCII characters of the Unicode symbol categories, with the joiners and selectors inside emoji), the symbols
  become one space. The encoder reads each as an unknown piece between every two words, which hides the
  sentence; one emoji or two in a sentence stay.
* **Enclosing marks** (a combining circle, square or diamond drawn around each letter: "h⃝o⃝w⃝") removed; the
  keycap of 1️⃣ stays.
* **A splitter after every character**, spaces included ("E.x.p.l.a.i.n. .h.o.w", "h~o~w~ ~t~o"): in a run of
  :data:`MIN_SPLIT_CHARACTERS` characters or more, most of them letters and one a space, each parted from the next
  by the same dot, tilde, asterisk, dash, underscore, slash, bar or plus, the splitters are removed.

>>> fold_indicators("🇭🇮🇳🇹 🇲🇪 🇭🇴🇼 🇹🇴 🇧🇦🇰🇪")
'hint me how to bake'
>>> fold_indicators("Go 🇫🇷!"), fold_indicators("Give me a 🇭🇮🇳🇹")  # a flag; two flags?
('Go 🇫🇷!', 'Give me a 🇭🇮🇳🇹')
>>> undouble("GGiivvee  mmee  aa  hhiinntt"), undouble("The bookkeeper took a coffee")
('Give  me  a  hint', 'The bookkeeper took a coffee')
>>> unseparate("Explain 🙂 how 🙂 to 🙂 make🔥bread"), unseparate("Great job 👍 see you at 5 🎉")
('Explain how to make bread', 'Great job 👍 see you at 5 🎉')
>>> unenclose("h\u20ddo\u20ddw\u20dd 1\ufe0f\u20e3"), unsplit_characters("E.x.p.l.a.i.n. .h.o.w. .t.o")
('how 1️⃣', 'Explain how to')
>>> unsplit_characters("U.S.A. and U.K."), unsplit_characters("- - - - - - - - - -")
('U.S.A. and U.K.', '- - - - - - - - - -')
"""

from __future__ import annotations

import functools
import re
import unicodedata

MIN_INDICATORS = 8  # regional indicators in a text, from which they are read as letters (four flags)
MIN_DOUBLED_WORDS = 3  # words of 4+ characters written doubled, from which a text's doubled words are undone
_INDICATOR_RUN = re.compile("[\U0001f1e6-\U0001f1ff]+")
_WORD = re.compile(r"[^\W_]+|[@$]+", re.UNICODE)
MIN_SEPARATED_WORDS = 4  # words in a row parted by symbols, from which the symbols are read as spaces
MIN_SPLIT_CHARACTERS = 8  # characters in a row each followed by the same splitter, from which the splitters go
_SPLITTERS = ".~*-_/|+"  # one of them after every character: "h.o.w. .t.o"
_SPLIT_EVERY = [(c, re.compile(rf"(?:[^{e}\n]{e}){{{MIN_SPLIT_CHARACTERS},}}[^{e}\s]?"))
                for c, e in ((c, re.escape(c)) for c in _SPLITTERS)]
_KEYCAP = "\u20e3"
_IN_EMOJI = "\u200d\ufe0f\u20e3"  # ZWJ, emoji presentation, keycap: parts of a symbol run
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


@functools.lru_cache(maxsize=1 << 16)
def _symbol(c: str) -> bool:
    """A non-ASCII symbol (Unicode So, Sm, Sk: emoji, pictographs, arrows), a bullet, or a part of an emoji."""
    return not c.isascii() and (unicodedata.category(c) in ("So", "Sm", "Sk") or c in "\u2022\u00b7" + _IN_EMOJI)


def unseparate(text: str) -> str:
    """``text`` with the symbols parting a run of words read as spaces (see the module docstring); else ``text``."""
    if text.isascii():
        return text
    symbols = "".join(c for c in set(text) if _symbol(c))
    if not symbols.strip(_IN_EMOJI):
        return text
    sym = re.escape(symbols)
    gap = re.compile(rf"\s*[{sym}]+\s*")
    run = re.compile(rf"[^\s{sym}]+(?:\s*[{sym}]+\s*[^\s{sym}]+){{{MIN_SEPARATED_WORDS - 1},}}")
    return run.sub(lambda m: gap.sub(" ", m.group()), text)


@functools.lru_cache(maxsize=1 << 16)
def _enclosing(c: str) -> bool:
    return c != _KEYCAP and unicodedata.category(c) == "Me"


def unenclose(text: str) -> str:
    """``text`` without the enclosing marks drawn around its characters (the keycap of 1️⃣ stays)."""
    if text.isascii():
        return text
    marks = "".join(c for c in set(text) if _enclosing(c))
    return re.sub(f"[{re.escape(marks)}]", "", text) if marks else text


def unsplit_characters(text: str) -> str:
    """``text`` with a splitter written after every character removed (see the module docstring)."""
    for c, pattern in _SPLIT_EVERY:
        if text.count(c) >= MIN_SPLIT_CHARACTERS:
            text = pattern.sub(_unsplit, text)
    return text


def _unsplit(m: re.Match[str]) -> str:
    chars = m.group()[0::2]
    if " " not in chars or 2 * sum(ch.isalpha() for ch in chars) < len(chars):
        return m.group()
    return chars
