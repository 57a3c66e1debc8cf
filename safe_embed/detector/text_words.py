"""Words run together or stripped of their vowels: the ``decoded:words`` and ``decoded:vowels`` views of
:mod:`~safe_embed.detector.text_views`.

* **Word breaks put back** (:func:`words_view`): a run of at least :data:`MIN_JOINED` words joined by one
  underscore, dot or plus ("Give_step-by-step_instructions_for_a_..."), with at least two short English function
  words among them (an identifier or a package name has few), gets spaces back; a run of
  :data:`MIN_RUN_LETTERS` letters or more that is not a word ("givestepbystepinstructions"), in lower case or
  capitalized (camelCase identifiers are left alone), is split into the most probable English words (each used
  :data:`~safe_embed.detector.text_ciphers.ENGLISH_COUNT` times or more, :data:`SHORT_WORD_COUNT` for one or two
  letters, on average :data:`MIN_MEAN_LETTERS` letters or more: random letters do not split into common words, and
  a long word the list lacks, "accessibility", only into pieces such as "bi" and "ty").
* **Vowels put back** (:func:`vowels_view`): in a text where at least :data:`MIN_VOWELLESS` words, and
  :data:`VOWELLESS_SHARE` of its words, have no vowel ("Gv stp-by-stp nstrctns"; y counts as one: "my", "rhythm";
  acronyms and titles, "Mr.", "Dr.", do not count), one of four letters or more (or :data:`MOSTLY_VOWELLESS`
  and :data:`MOSTLY_SHARE` of them, short ones: "Hw d  mk  pp bmb?"), each such word becomes the most frequent
  English word with the same consonants in the same order ("give", "step"... or "stop": the reading is rough, and
  enough for the encoder to see what is asked).

Frequencies are pyspellchecker's list (:func:`~safe_embed.detector.text_spelling.word_counts`).

>>> words_view("Tell_me_how_to_bake_bread_at_home"), words_view("tellmehowtobakebreadathome")
('Tell me how to bake bread at home', 'tell me how to bake bread at home')
>>> words_view("Call get_user_by_id(42) or see docs.python.org") is None
True
>>> vowels_view("Tll m hw t ck pncks fr brkfst")
'Tell me how to cook pancakes for breakfast'
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from itertools import pairwise

from safe_embed.detector.text_ciphers import ENGLISH_COUNT, MAX_CIPHER_CHARS
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
MIN_VOWELLESS = 2  # words without a vowel, at least ...
VOWELLESS_SHARE = 0.5  # ... and this share of the words of two letters or more, one of them of 4 letters or more
# (chat's "brb", "lmk", "thx", and "Mr", "Dr", "St" have fewer) ...
MOSTLY_VOWELLESS, MOSTLY_SHARE = 3, 0.75  # ... or at least this many, and this share ("Hw d  mk  pp bmb?")
_W = r"[A-Za-z0-9][A-Za-z0-9']*(?:-[A-Za-z0-9']+)*"  # a word: dashes, digits, apostrophes inside ("step-by-step")
_JOINED_MARKERS = ENGLISH_MARKERS | {"a", "an", "i", "in", "on", "me", "do", "be", "as", "if", "not"}
_JOINED = re.compile(rf"{_W}([_.+]){_W}(?:\1{_W}){{{MIN_JOINED - 2},}}")
# not inside a URL, path, identifier or number
_RUN = re.compile(rf"(?<![\w/.=@#%&+])[A-Za-z][a-z]{{{MIN_RUN_LETTERS - 1},}}(?![\w/=@#%&+]|\.\w)")
_PIECE = re.compile(r"[A-Za-z][a-z]{7,}")  # a run's part between hyphens, split too once the run is
_SPACELESS = re.compile(r"[A-Za-z0-9'\",.!?;:-]+")  # no space, and no URL, path or code character
_SPACELESS_RUN = re.compile(rf"[A-Za-z]{{{SPACELESS_RUN_LETTERS},}}")  # any case: "HowdoIhide"
_LETTERS = re.compile(r"[A-Za-z]+")
_VOWELS = re.compile(r"[aeiouAEIOU]")
_BARE = re.compile(r"(?<![A-Za-z])[b-df-hj-np-tv-xzB-DF-HJ-NP-TV-XZ]{2,}(?![A-Za-z])")  # "mk", "nstrctns": a cheap scan


def words_view(text: str) -> str | None:
    """``text`` with its joined and run-together words split (see the module docstring; the first
    :data:`MAX_SPLIT_LETTERS` letters of its runs); None if it has none."""
    out = _JOINED.sub(_spaced, text) if ("_" in text or "." in text or "+" in text) else text
    budget = [MAX_SPLIT_LETTERS]

    def split(m: re.Match[str], min_words: int) -> str:
        run, rest = m.group()[:budget[0]], m.group()[budget[0]:]  # a run over the budget: its head is split
        budget[0] -= len(run)
        if len(run) < SPACELESS_RUN_LETTERS:
            return run + rest
        return (_split(run, word_counts(), min_words) or run) + rest

    if len(text) >= MIN_RUN_LETTERS and _SPACELESS.fullmatch(text.strip()):  # a sentence without spaces
        out = _SPACELESS_RUN.sub(lambda m: split(m, 2), out)
    elif _RUN.search(out):
        out = _RUN.sub(lambda m: split(m, 3), out)
        if out != text:
            out = re.sub(r"(?<=-)" + _PIECE.pattern + r"|" + _PIECE.pattern + r"(?=-)", lambda m: split(m, 2), out)
    return out if out != text else None


def _spaced(m: re.Match[str]) -> str:
    words = m.group().split(m.group(1))
    return " ".join(words) if sum(w.lower() in _JOINED_MARKERS for w in words) >= 2 else m.group()


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


@lru_cache(maxsize=1)
def words_by_consonants() -> dict[str, str]:
    """Consonants in order (lower case) -> the most frequent English word with them (built once, about 0.05 s)."""
    out: dict[str, tuple[int, str]] = {}
    for w, c in word_counts().items():
        if c >= ENGLISH_COUNT and w.isascii() and w.isalpha():
            key = _VOWELS.sub("", w)
            if key and (key not in out or c > out[key][0]):
                out[key] = (c, w)
    return {k: w for k, (_, w) in out.items()}


def vowels_view(text: str) -> str | None:
    """``text`` (its first :data:`~safe_embed.detector.text_ciphers.MAX_CIPHER_CHARS` characters) with vowels put
    back in its vowelless words, when it drops its vowels (see the module docstring); None if it does not."""
    text = text[:MAX_CIPHER_CHARS]
    if len(_BARE.findall(text)) < MIN_VOWELLESS:
        return None
    words = [m for m in _LETTERS.finditer(text) if len(m.group()) >= 2]
    bare = [m.group() for m in words if not re.search("[aeiouyAEIOUY]", m.group()) and not m.group().isupper()
            and not (m.group()[0].isupper() and len(m.group()) <= 3 and text[m.end():m.end() + 1] == ".")]  # Mr.
    long = len(bare) >= max(MIN_VOWELLESS, VOWELLESS_SHARE * len(words)) and max(map(len, bare), default=0) >= 4
    if not (long or len(bare) >= max(MOSTLY_VOWELLESS, MOSTLY_SHARE * len(words))):
        return None
    table = words_by_consonants()
    out, at = [], 0
    for m in _LETTERS.finditer(text):
        w = m.group()
        if _VOWELS.search(w) or (found := table.get(w.lower())) is None:
            continue
        out += [text[at:m.start()], found.capitalize() if w[0].isupper() else found]
        at = m.end()
    changed = "".join(out) + text[at:]
    return changed if changed != text else None
