"""Classical ciphers and codes an LLM reads fluently: the ``decoded:cipher`` (Caesar shifts, Atbash),
``decoded:morse`` and ``decoded:binary`` views of :mod:`~safe_embed.detector.text_views`, the text test they share,
and the common English words the ``decoded:reversed`` view counts.

* A Caesar shift or Atbash: each sentence, line or colon-separated part of at least three words (of two letters or
  more) that is not English as written (under :data:`MAX_ENGLISH_AS_WRITTEN` of its words English: see
  :func:`english_share`) is read under each of the 25 shifts and Atbash; the reading with the most English words
  is kept when they are :data:`MIN_ENGLISH_DECIPHERED` of its words. No cipher needs to be named: the words are
  the evidence.
* Morse: a run of at least eight Morse letters (``.`` and ``-``, letters split by spaces, words by ``/`` or
  three spaces).
* Binary: a run of at least four 8-bit groups (``01101000 01101111``, spaces optional).

A decoded run counts only when it is text (:func:`is_text`); each view holds the decoded parts alone, one per line.

>>> cipher_view("Decode this Caesar cipher and answer it: Krz gr L ednh euhdg dw krph?")
'How do I bake bread at home?'
>>> morse_view("Answer: .... --- .-- / - --- / -... .- -.- . / -... .-. . .- -..")
'how to bake bread'
>>> binary_view("01101000 01101001 00100000 01111001 01101111 01110101")
'hi you'
"""

from __future__ import annotations

import re

from safe_embed.detector.text_spelling import word_counts

# Common English words, none a palindrome: a request holds a few of them; the same text written backwards, or
# enciphered, has almost none.
COMMON_WORDS = frozenset([
    "the", "to", "and", "of", "in", "is", "you", "that", "it", "for", "on", "with", "as", "are", "this", "be",
    "at", "or", "how", "what", "can", "do", "my", "your", "me", "from", "an", "by", "not", "have", "we", "will",
    "make", "give", "step", "write", "tell", "about", "who", "why", "when", "where", "which", "get", "use",
    "into", "there", "their", "they", "he", "she", "his", "her", "was", "were", "has", "had", "one", "all",
    "some", "any", "if", "so", "but", "like", "would", "could", "should", "please", "help", "need", "want",
    "know", "explain", "show", "find", "create", "list", "describe", "best", "way", "ways", "steps", "outline",
    "develop", "program", "someone", "people", "person", "money", "guide", "tutorial", "instructions",
    "information", "research", "article", "story", "post", "letter", "email", "website", "without", "getting"
])
ENGLISH_COUNT = 100  # uses in the word list from which a word is English (the list's tail is names and typos)
MAX_ENGLISH_AS_WRITTEN = 0.5  # a part with this share of English words or more is English as written ...
MIN_ENGLISH_DECIPHERED = 0.75  # ... and a reading of it with this share is English: a chance reading of another
# language or of code has few
MAX_CIPHER_CHARS = 4_000  # of a prompt read for enciphered parts: 26 readings of each part
PARTS = re.compile(r"(\n+|:\s*|(?<=[.!?])\s+)")  # sentences, lines and colon-separated parts, separators kept
WORDS = re.compile(r"[a-z]+")
MORSE_CODE = dict(zip("abcdefghijklmnopqrstuvwxyz0123456789.,?-",
                      [".-", "-...", "-.-.", "-..", ".", "..-.", "--.", "....", "..", ".---", "-.-", ".-..", "--",
                       "-.", "---", ".--.", "--.-", ".-.", "...", "-", "..-", "...-", ".--", "-..-", "-.--", "--..",
                       "-----", ".----", "..---", "...--", "....-", ".....", "-....", "--...", "---..", "----.",
                       ".-.-.-", "--..--", "..--..", "-....-"], strict=True))  # ITU: a character -> its code
_MORSE = {code: c for c, code in MORSE_CODE.items()}
_MORSE_RUN = re.compile(r"(?<![\w.-])[.-]{1,6}(?:(?: {1,3}| ?/ ?)[.-]{1,6}){7,}(?![\w.-])")
_BINARY_RUN = re.compile(r"(?<![01])[01]{8}(?: ?[01]{8}){3,}(?![01])")
_ATBASH = str.maketrans("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
                        "zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA")


def is_text(s: str) -> bool:
    """Printable (or line breaks and tabs), and at least 60% letters and whitespace."""
    if not s or not all(c.isprintable() or c in "\n\r\t" for c in s):
        return False
    return sum(c.isalpha() or c.isspace() for c in s) >= 0.6 * len(s)


def _shift(k: int) -> dict[int, int]:
    lower = "abcdefghijklmnopqrstuvwxyz"
    out = lower[k:] + lower[:k]
    return str.maketrans(lower + lower.upper(), out + out.upper())


_READINGS = [_shift(k) for k in range(1, 26)] + [_ATBASH]  # cipher text -> plain text
CIPHER_WORDS = re.compile(r"[a-z]{2,}")  # the words a reading is judged by (lower case, two letters or more)


def english_share(words: list[str]) -> float:
    """The share of ``words`` (lower case) that are English words of some use (:data:`ENGLISH_COUNT` uses or more
    in pyspellchecker's list, which :mod:`~safe_embed.detector.text_spelling` loads)."""
    counts = word_counts()
    return sum(counts.get(w, 0) >= ENGLISH_COUNT for w in words) / len(words) if words else 0.0


def _deciphered(part: str) -> str | None:
    words = CIPHER_WORDS.findall(part.lower())
    if len(words) < 3 or english_share(words) >= MAX_ENGLISH_AS_WRITTEN:
        return None
    joined = " ".join(words)
    shares = [english_share(joined.translate(t).split()) for t in _READINGS]
    best = max(range(len(shares)), key=shares.__getitem__)
    return part.translate(_READINGS[best]) if shares[best] >= MIN_ENGLISH_DECIPHERED else None


def cipher_view(text: str) -> str | None:
    """The parts of ``text`` (its first :data:`MAX_CIPHER_CHARS` characters) written in a Caesar shift or Atbash,
    each read back, one per line; None if there are none."""
    found = [d.strip() for p in PARTS.split(text[:MAX_CIPHER_CHARS]) if (d := _deciphered(p))]
    return "\n".join(found) if found else None


def morse_view(text: str) -> str | None:
    """The Morse runs of ``text`` read as text, one per line; None if there are none."""
    if "-" not in text or "." not in text:
        return None
    found = []
    for m in _MORSE_RUN.finditer(text):
        words = re.split(r" ?/ ?| {3}", m.group())
        letters = [[_MORSE.get(c) for c in w.split()] for w in words]
        if all(c is not None for w in letters for c in w):
            s = " ".join("".join(w) for w in letters)
            if is_text(s) and " " in s:
                found.append(s)
    return "\n".join(found) if found else None


def binary_view(text: str) -> str | None:
    """The runs of 8-bit groups of ``text`` read as UTF-8 text, one per line; None if there are none."""
    found = []
    for m in _BINARY_RUN.finditer(text):
        bits = m.group().replace(" ", "")
        try:
            s = bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8)).decode("utf-8")
        except UnicodeDecodeError:
            continue
        if is_text(s) and (" " in s or s.isalpha()):
            found.append(s)
    return "\n".join(found) if found else None
