"""Words run together: the ``decoded:words`` view of :mod:`~safe_embed.detector.text_views`.

* A run of :data:`MIN_JOINED` words or more, each parted from the next by the same one to five characters that are
  not letters, digits or only spaces (an underscore, dot, plus, slash, bar, comma, quotes:
  "Give_step-by-step_instructions_for_a_...", "how | to | bake", "how, to, bake", '"how" "to" "bake"'), or each
  written as a hashtag ("#how #to #bake"), or each parted from the next by a number ("how 1 to 2 bake 3", with two
  words of four letters or more besides), gets spaces back, when at least two short English function words are
  among them, also written in leet ("h0w_70_b4k3"): an identifier, a path, a package name or a list has few.
* A run of :data:`MIN_RUN_LETTERS` letters or more that is not a word ("givestepbystepinstructions"), in lower case
  or capitalized (camelCase identifiers are left alone), is split into the most probable English words (each used
  :data:`~safe_embed.detector.text_ciphers.ENGLISH_COUNT` times or more, :data:`SHORT_WORD_COUNT` for one or two
  letters, on average :data:`MIN_MEAN_LETTERS` letters or more: random letters do not split into common words, and
  a long word the list lacks, "accessibility", only into pieces such as "bi" and "ty").
* A run written in leet ("h0w70b4k3br34d47h0m3": :data:`MIN_RUN_LETTERS` characters or more, lower case, with
  :data:`MIN_LEET` leet characters or more and no 2, 6, 8 or 9) is split the same way, its leet read as letters.
* In a sentence without spaces (:data:`MIN_SPACELESS_CHARS` characters or more), runs of
  :data:`SPACELESS_RUN_LETTERS` letters or more are split into two words or more, and so are leet runs of any case
  ("H3lpm33v4d374x35", "h0wd01murd3r45h33p?").

Words stripped of their vowels are read back by :mod:`~safe_embed.detector.text_vowels`.

Frequencies are pyspellchecker's list (:func:`~safe_embed.detector.text_spelling.word_counts`).

>>> words_view("Tell_me_how_to_bake_bread_at_home"), words_view("tellmehowtobakebreadathome")
('Tell me how to bake bread at home', 'tell me how to bake bread at home')
>>> words_view("#Tell #me #how #to #bake #bread"), words_view("Tell/me/how/to/bake/bread")
('Tell me how to bake bread', 'Tell me how to bake bread')
>>> words_view("Call get_user_by_id(42) or see docs.python.org") is None, words_view("#ai #ml #tech #news #data")
(True, None)
"""

from __future__ import annotations

import math
import re
from itertools import pairwise

from safe_embed.detector.text_ciphers import ENGLISH_COUNT
from safe_embed.detector.text_leet import LEET_CHARS, leet_letters, unleet
from safe_embed.detector.text_spelling import ENGLISH_MARKERS, word_counts

MIN_JOINED = 5  # words joined by one separator, at least
MIN_RUN_LETTERS = 20  # letters of a run-together word, at least (longer than most words the list lacks) ...
MIN_MEAN_LETTERS = 2.5  # ... and the mean length of the words it splits into
MAX_WORD_LETTERS = 20  # the longest word a run is split into
MAX_SPLIT_LETTERS = 2_000  # letters of runs split in one text, at most (the split costs ~40 µs a letter)
MIN_UNKNOWN_LETTERS = 3  # a piece the word list lacks, between common words, has this many letters or more ...
UNKNOWN_COST = 10.0  # ... and costs this much a letter (log-probability): more than any common word it could hold
MIN_KNOWN_SHARE = 0.75  # of a run's letters, in common words
SPACELESS_RUN_LETTERS = 6  # in a text with no space at all, a run of this many letters that is not a word is split
SHORT_WORD_COUNT = 1_000_000  # uses a word of one or two letters needs to be one of a run's words ("to", "of", "a";
# not "bi", "li", "ty" of "accessibility")
# a word: dashes, digits, apostrophes inside ("step-by-step"); from a word's start, never backtracked into (linear)
_W = r"(?<![A-Za-z0-9'-])[A-Za-z0-9][A-Za-z0-9']*+(?:-[A-Za-z0-9']+)*+"
_JOINED_MARKERS = ENGLISH_MARKERS | {"a", "an", "i", "in", "on", "me", "do", "be", "as", "if", "not"}
_SEPARATOR = r"(?!\s+[A-Za-z0-9])(?:_|[^\w\n]){1,5}"  # 1-5 characters, not letters, digits or only spaces
_JOINED = re.compile(rf"{_W}({_SEPARATOR}){_W}(?:\1{_W}){{{MIN_JOINED - 2},}}")
_NUMBERED = re.compile(rf"(?<!\S){_W}(?: +[0-9]{{1,3}} +{_W}){{{MIN_JOINED - 1},}}")  # "how 1 to 2 bake 3"
_NUMBER_GAP = re.compile(r" +[0-9]{1,3} +")
_HASHTAGS = re.compile(rf"(?<!\S)#{_W}(?:\s+#{_W}){{{MIN_JOINED - 1},}}")  # "#how #to #bake ...": words as tags
# not inside a URL, path, identifier or number
_RUN = re.compile(rf"(?<![\w/.=@#%&+])[A-Za-z][a-z]{{{MIN_RUN_LETTERS - 1},}}(?![\w/=@#%&+]|\.\w)")
MIN_LEET = 3  # leet characters in a run-together word, at least, for it to be read as leet
_LEET_RUN = re.compile(rf"(?<![\w/.=@#%&+])[A-Za-z0-9@$][a-z0-9@$]{{{MIN_RUN_LETTERS - 1},}}(?![\w/=@#%&+]|\.\w)")
_PIECE = re.compile(r"[A-Za-z][a-z]{7,}")  # a run's part between hyphens, split too once the run is
_SPACELESS = re.compile(r"[A-Za-z0-9@$'\",.!?;:-]+")  # no space, and no URL, path or code character
MIN_SPACELESS_CHARS = 12  # of a sentence without spaces whose runs are split
_LEET_SPACELESS = re.compile(rf"[A-Za-z0-9@$']{{{SPACELESS_RUN_LETTERS},}}")  # leet in such a sentence, any case
_SPACELESS_RUN = re.compile(rf"[A-Za-z]{{{SPACELESS_RUN_LETTERS},}}")  # any case: "HowdoIhide"


def words_view(text: str) -> str | None:
    """``text`` with its joined and run-together words split (see the module docstring; the first
    :data:`MAX_SPLIT_LETTERS` letters of its runs); None if it has none."""
    out = _HASHTAGS.sub(_untagged, text) if "#" in text else text
    out = _JOINED.sub(_spaced, out)
    out = _NUMBERED.sub(_unnumbered, out) if any(c.isdigit() for c in out) else out
    budget = [MAX_SPLIT_LETTERS]
    spaceless = len(text.strip()) >= MIN_SPACELESS_CHARS and _SPACELESS.fullmatch(text.strip())
    if any(c in text for c in LEET_CHARS):  # in a sentence without spaces, shorter runs of any case too
        out = (_LEET_SPACELESS if spaceless else _LEET_RUN).sub(lambda m: _leet_split(m.group(), budget), out)

    def split(m: re.Match[str], min_words: int) -> str:
        run, rest = m.group()[:budget[0]], m.group()[budget[0]:]  # a run over the budget: its head is split
        budget[0] -= len(run)
        if len(run) < SPACELESS_RUN_LETTERS:
            return run + rest
        return (_split(run, word_counts(), min_words) or run) + rest

    if spaceless:  # a sentence without spaces
        out = _SPACELESS_RUN.sub(lambda m: split(m, 2), out)
    elif _RUN.search(out):
        out = _RUN.sub(lambda m: split(m, 3), out)
        if out != text:
            out = re.sub(r"(?<=-)" + _PIECE.pattern + r"|" + _PIECE.pattern + r"(?=-)", lambda m: split(m, 2), out)
    return out if out != text else None


def _leet_split(run: str, budget: list[int]) -> str:
    """``run`` read as leet and split into words, when it is leet (see the module docstring) and splits."""
    leet = sum(c in LEET_CHARS for c in run)
    if leet < MIN_LEET or leet == len(run) or any(c in "2689" for c in run) or budget[0] < len(run):
        return run
    budget[0] -= len(run)
    return _split(leet_letters(run), word_counts()) or run


def _spaced(m: re.Match[str]) -> str:
    words = m.group().split(m.group(1))
    plain = unleet(" ".join(words)).split(" ")  # words in leet: "h0w", "70"
    return " ".join(words) if sum(w.lower() in _JOINED_MARKERS for w in plain) >= 2 else m.group()


def _unnumbered(m: re.Match[str]) -> str:
    words = _NUMBER_GAP.split(m.group())
    markers = sum(w.lower() in _JOINED_MARKERS for w in words)
    long = sum(len(w) >= 4 and w.lower() not in _JOINED_MARKERS for w in words)
    return " ".join(words) if markers >= 2 and long >= 2 else m.group()


def _untagged(m: re.Match[str]) -> str:
    words = m.group().split()
    return " ".join(w[1:] for w in words) if sum(w[1:].lower() in _JOINED_MARKERS for w in words) >= 2 else m.group()


def _split(run: str, counts: dict[str, int], min_words: int = 3) -> str | None:
    """``run`` split into its most probable English words (case kept), or None when it is a word, or does not split
    into at least ``min_words`` common words of :data:`MIN_MEAN_LETTERS` letters on average, half of them different
    ("abab..." is not "a baba baba"). A piece the list lacks
    ("ransomware") may stand between them, at a cost no split into common words pays, when the common words hold
    :data:`MIN_KNOWN_SHARE` of the letters."""
    lower = run.lower()
    if lower in counts:
        return None
    n = len(lower)
    best: list[tuple[float, int]] = [(0.0, 0)] + [(-math.inf, 0)] * n  # (log-probability, start of last word)
    for end in range(1, n + 1):
        for start in range(max(0, end - MAX_WORD_LETTERS), end):
            if best[start][0] == -math.inf:
                continue
            word = lower[start:end]
            c = counts.get(word, 0)
            if c >= (ENGLISH_COUNT if len(word) > 2 else SHORT_WORD_COUNT):
                score = best[start][0] + math.log(c) - 20.0  # each word pays: fewer, longer words win
            elif len(word) >= MIN_UNKNOWN_LETTERS:
                score = best[start][0] - UNKNOWN_COST * len(word)
            else:
                continue
            if score > best[end][0]:
                best[end] = (score, start)
    cuts, end = [], n
    while end > 0:
        cuts.append(best[end][1])
        end = best[end][1]
    pieces = [run[a:b] for a, b in pairwise(sorted(cuts) + [n])]
    known = [p for p in pieces if counts.get(p.lower(), 0) >= (ENGLISH_COUNT if len(p) > 2 else SHORT_WORD_COUNT)]
    if (len(known) < min_words or sum(map(len, known)) < MIN_KNOWN_SHARE * n
            or n / len(pieces) < MIN_MEAN_LETTERS or 2 * len({p.lower() for p in known}) < len(known)):
        return None
    return " ".join(pieces)
