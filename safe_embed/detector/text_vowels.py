"""Words stripped of their vowels read back: the ``decoded:vowels`` view of :mod:`~safe_embed.detector.text_views`.

In a text where at least :data:`MIN_VOWELLESS` words, and :data:`VOWELLESS_SHARE` of its words, have no vowel ("Gv
stp-by-stp nstrctns"; y counts as one in an English word, "my", "rhythm", not in "lwys"; acronyms and titles,
"Mr.", "Dr.", do not count), one of four letters or more (or :data:`MOSTLY_VOWELLESS` and :data:`MOSTLY_SHARE` of
them, short ones: "Hw d  mk  pp bmb?"), each vowelless word is read as one of the English words with the same
consonants in the same order, and each double space (where a word of vowels alone stood: "a", "I") as "a", "I" or
nothing. The reading is the most probable sequence under a word-bigram model (:func:`reading`, a Viterbi search
over at most :data:`MAX_CANDIDATES` words a gap): "fls nfrmtn bt th tcm f n lctn" is "false information about the
outcome of an election", where the most frequent word alone gave "feels information but the outcome of in
location".

The model is symspellpy's English unigram and bigram frequencies (Google Books n-grams, 82,765 words and 242,342
word pairs; MIT licence), loaded once (about 0.6 s; :func:`load_model`), each pair's probability mixed with the
word's own (:data:`BIGRAM_WEIGHT`), as :func:`~safe_embed.detector.text_views.load_tables` does at start-up.

>>> vowels_view("Tll m hw t ck pncks fr brkfst")
'Tell me how to cook pancakes for breakfast'
>>> vowels_view("Cn y tll m  stry bt  dg?")
'Can you tell me a story about a dog?'
>>> vowels_view("Thanks, see you at the BBC studio tmrw") is None  # one vowelless word
True
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from importlib import resources

MIN_VOWELLESS = 2  # words without a vowel, at least ...
VOWELLESS_SHARE = 0.5  # ... and this share of the words of two letters or more, one of them of 4 letters or more
# (chat's "brb", "lmk", "thx", and "Mr", "Dr", "St" have fewer) ...
MOSTLY_VOWELLESS, MOSTLY_SHARE = 3, 0.75  # ... or at least this many, and this share ("Hw d  mk  pp bmb?")
MAX_CANDIDATES = 8  # words a vowelless word may stand for, the most frequent first
MAX_VOWELLESS_CHARS = 2_000  # characters read (the search costs up to ~30 µs a character)
BIGRAM_WEIGHT = 0.5  # P(word | previous) = this * P_bigram + (1 - this) * P_unigram
EMPTY_GAP = math.log(0.001)  # log-probability that a double space holds no dropped word
UNSEEN = -30.0  # log-probability of a word the model lacks
_UNIGRAMS, _BIGRAMS = "frequency_dictionary_en_82_765.txt", "frequency_bigramdictionary_en_243_342.txt"
_VOWELS = re.compile(r"[aeiouAEIOU]")
_Y = re.compile(r"[yY]")
_LETTERS = re.compile(r"[A-Za-z]+")
_BARE = re.compile(r"(?<![A-Za-z])[b-df-hj-np-tv-xzB-DF-HJ-NP-TV-XZ]{2,}(?![A-Za-z])")  # "mk", "nstrctns": a cheap scan
_TOKENS = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|[^A-Za-z]+")  # words (an apostrophe's ending kept: "smn's")
_SENTENCE_END = re.compile(r"[.!?;:\n]")


def vowels_view(text: str) -> str | None:
    """``text`` (its first :data:`MAX_VOWELLESS_CHARS` characters) with vowels put back in its vowelless words, when
    it drops its vowels (see the module docstring); None if it does not."""
    text = text[:MAX_VOWELLESS_CHARS]
    if len(_BARE.findall(text)) < MIN_VOWELLESS:
        return None
    words = [m for m in _LETTERS.finditer(text) if len(m.group()) >= 2]
    bare = [m.group() for m in words if not _VOWELS.search(m.group()) and not m.group().isupper()
            and not (m.group()[0].isupper() and len(m.group()) <= 3 and text[m.end():m.end() + 1] == ".")]  # Mr.
    if any(_Y.search(w) for w in bare):  # "lwys" is vowelless, "my" and "rhythm" are not
        known = _model()[0]
        bare = [w for w in bare if not _Y.search(w) or w.lower() not in known]
    long = len(bare) >= max(MIN_VOWELLESS, VOWELLESS_SHARE * len(words)) and max(map(len, bare), default=0) >= 4
    if not (long or len(bare) >= max(MOSTLY_VOWELLESS, MOSTLY_SHARE * len(words))):
        return None
    changed = reading(text)
    return changed if changed != text else None


def load_model() -> None:
    """Load the word-bigram model now (about 0.6 s) instead of on the first vowelless prompt."""
    _model()


@lru_cache(maxsize=1)
def _model() -> tuple[dict[str, float], dict[str, float], dict[str, list[str]]]:
    """P(word), P(word | previous) keyed "previous word", and consonants -> the words with them, the most frequent
    first (at most :data:`MAX_CANDIDATES`)."""
    root = resources.files("symspellpy")
    counts = {}
    for line in (root / _UNIGRAMS).read_text(encoding="utf-8").splitlines():
        word, count = line.split()
        counts[word] = int(count)
    total = sum(counts.values())
    pairs = {}
    for line in (root / _BIGRAMS).read_text(encoding="utf-8").splitlines():
        first, second, count = line.split()
        if first in counts:
            pairs[f"{first} {second}"] = int(count) / counts[first]
    by_consonants: dict[str, list[str]] = {}
    for word in sorted(counts, key=counts.get, reverse=True):
        if word.isascii() and word.isalpha() and (key := _VOWELS.sub("", word)):
            found = by_consonants.setdefault(key, [])
            if len(found) < MAX_CANDIDATES:
                found.append(word)
    return {w: c / total for w, c in counts.items()}, pairs, by_consonants


def reading(text: str) -> str:
    """``text`` with each vowelless word (not an acronym) read as the word the bigram model finds most probable in
    its place, and each double space as "a", "I" or nothing; the case of a word's first letter kept.

    >>> reading("Wrt  shrt pm bt  ct")
    'Write a short poem about a cat'
    """
    items = tokens_with_words(text)
    chosen = iter(best_words(items))
    out = []
    for token, words in items:
        if words is None:
            out.append(token)
            continue
        word = next(chosen)
        if not token[0].isalpha():  # a gap: inside the text, or at its start
            word = "I" if word == "i" else word
            out.append(token if not word else token.replace("  ", f" {word} ", 1) if "  " in token else word + token)
        elif len(words) == 1 and words[0] == token.partition("'")[0].lower():  # kept
            out.append(token)
        else:
            rest = token.partition("'")
            out.append((word.capitalize() if token[0].isupper() else word) + rest[1] + rest[2])
    return "".join(out)


def tokens_with_words(text: str) -> list[tuple[str, list[str] | None]]:
    """``text`` as tokens, each with the words it may stand for (a vowelless word: those with its consonants; a
    double space: "a", "i" or "" for none; a word with vowels: itself) or None (kept as it is, not a word)."""
    by_consonants = _model()[2]
    items: list[tuple[str, list[str] | None]] = []
    for token in _TOKENS.findall(text):
        if token[0].isalpha():
            base = token.partition("'")[0]
            words = None if _VOWELS.search(base) or (len(base) > 1 and base.isupper()) else \
                by_consonants.get(base.lower())
            items.append((token, words or [base.lower()]))
        elif "  " in token or (not items and token.startswith(" ")):
            items.append((token, ["a", "i", ""]))
        else:
            items.append((token, None))
    return items


def unigram_words() -> dict[str, float]:
    """The model's words (lower case) -> P(word): a longer list than pyspellchecker's, with newer words ("malware",
    "phishing", "wifi")."""
    return _model()[0]


def log_p(previous: str, word: str) -> float:
    """log P(``word`` | ``previous``) under the model ("" for none: a sentence's first word)."""
    unigrams, pairs, _ = _model()
    p = BIGRAM_WEIGHT * pairs.get(f"{previous} {word}", 0.0) + (1 - BIGRAM_WEIGHT) * unigrams.get(word, 0.0)
    return math.log(p) if p > 0 else UNSEEN


def best_words(items: list[tuple[str, list[str] | None]]) -> tuple[str, ...]:
    """The most probable choice of one word per item with words (Viterbi: the state is the previous word; "" adds
    no word and costs :data:`EMPTY_GAP`; an item without words that ends a sentence resets the previous word)."""
    best: dict[str, tuple[float, tuple[str, ...]]] = {"": (0.0, ())}  # previous word -> (log-probability, words)
    for token, words in items:
        if words is None:
            if _SENTENCE_END.search(token):
                best = {"": max(best.values())}
            continue
        step: dict[str, tuple[float, tuple[str, ...]]] = {}
        for previous, (score, chosen) in best.items():
            for word in words:
                key, s = (previous, score + EMPTY_GAP) if word == "" else (word, score + log_p(previous, word))
                if key not in step or s > step[key][0]:
                    step[key] = (s, (*chosen, word))
        best = step
    return max(best.values())[1]
