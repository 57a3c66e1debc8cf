"""The views of a prompt: the text as given, plus the text with cheap obfuscations undone, each only when found.

The detector embeds every view and keeps the most unsafe, so each extra view costs one embedding and is one more
chance of a false positive: ordinary text has ONE view (the original), and an extra view is added only when it
differs from every earlier one (compared ignoring case and runs of whitespace).

Views, in this order, at most ``max_views`` (the original first):

* ``original``: the text (already through the text policy, :mod:`safe_embed.detector.text_policy`);
* ``normalized``: :func:`~safe_embed.detector.text_normalize.normalize` (styled letters, invisible characters,
  look-alike letters in Latin words, symbols between words, spaced-out letters, leetspeak);
* ``decoded:letters``: runs of letters spread apart by any gap ("[b][a][k][e]", "b  a  k  e", "𝔟 𝔞 𝔨 𝔢") read as
  words (:mod:`~safe_embed.detector.text_spread`);
* ``decoded:punctuation``: the text without the punctuation strewn inside and before its words ("bo;mb", ":how")
  (:mod:`~safe_embed.detector.text_punctuation`);
* ``decoded:leet``: leetspeak written with symbols and letter groups ("{0nv!n<1n9", "/-\\"), each word read
  the way that makes it English (:mod:`~safe_embed.detector.text_symbols`);
* ``decoded:fragments``: the normalized text with words broken apart ("ba ke", "instruc tions", "bo-mb") joined
  (:mod:`~safe_embed.detector.text_fragments`); the next three views read this text when there is one;
* ``respelled``: the normalized text with its misspelled and letter-shuffled English words put right
  (:func:`~safe_embed.detector.text_spelling.respell`), when it has any;
* ``decoded:words``, ``decoded:vowels``: the normalized text with words run together ("howtobake",
  "how_to_bake") split (:mod:`~safe_embed.detector.text_words`), or with the vowels it dropped put back ("hw t bk":
  :mod:`~safe_embed.detector.text_vowels`);
* ``decoded:concat``: the strings a prompt assigns to variables, joined as it asks (``a = "..."``, ``b = "..."``,
  "answer a + b": :func:`~safe_embed.detector.text_payload.joined_payload`);
* ``decoded:alias``: the text after a code-word definition, with the code word read as what it was defined to mean
  ("'the gift' means a pipe bomb ... build the gift": :func:`~safe_embed.detector.text_aliases.alias_view`);
* ``decoded:base64``: each run of >= 16 base64 characters (standard or URL-safe alphabet) that decodes to text;
* ``decoded:hex``: each run of >= 8 hex byte pairs (``68656c6c``, ``68 65 6c``, ``0x68 0x65``, ``\\x68\\x65``) that
  decodes to text;
* ``decoded:url``: percent escapes decoded, when >= 3 of them stand for ASCII letters (a URL's ``%20`` does not
  count);
* ``decoded:tags``: Unicode TAG characters (invisible ASCII, "ASCII smuggling") read as the ASCII they encode;
* ``decoded:rot13``: only when the text names ROT13 or the Caesar cipher: every sentence, line or colon-separated
  part that does not name it (if none, all but the name) is ROT13-decoded where that gives it more vowels;
* ``decoded:reversed``: each sentence, line or colon-separated part written backwards ("emoh ta ...", or word by
  word: "eviG em ..."), read from right to left: a part whose words, each read backwards, are far more often among the commonest English words
  (:data:`~safe_embed.detector.text_ciphers.COMMON_WORDS`) than the words as written;
* ``decoded:word-order``: each part written last word first ("home at bomb a make to how"), read first word first
  (:mod:`~safe_embed.detector.text_order`);
* ``decoded:cipher``, ``decoded:morse``, ``decoded:binary``: parts in a Caesar shift or Atbash, Morse runs, runs of
  8-bit groups, read back (:mod:`~safe_embed.detector.text_ciphers`);
* ``decoded:decimal``, ``decoded:escapes``, ``decoded:flipped``, ``decoded:emoji``: decimal character codes, HTML
  and ``\\u`` escapes, upside-down text, and emoji standing for words, read back
  (:mod:`~safe_embed.detector.text_codes`);
* ``decoded:braille``: Braille cells read as letters (:mod:`~safe_embed.detector.text_braille`);
* ``decoded:piglatin``, ``decoded:nato``: parts in Pig Latin, runs of NATO code words, read back
  (:mod:`~safe_embed.detector.text_games`).

"Decodes to text" means: valid UTF-8, every character printable (or a line break or tab), at least 60% letters
and whitespace, and a space in it (base64 also takes one long word of letters; hex one with a hex letter, so a
card number such as 5555555555554444 never reads as "UUUUUUDD"). A decoded view holds the decoded runs alone, one
per line, at most :data:`MAX_DECODED_CHARS` of each: the instruction around them is the same for a harmful and a
harmless payload and would dilute it (URL escapes, which encode single letters of a sentence, are decoded in
place). The view is then normalized. Decoding looks at the text without invisible characters. Any string is a
valid input: nothing raises.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from safe_embed.detector.text_aliases import alias_view
from safe_embed.detector.text_braille import braille_view
from safe_embed.detector.text_ciphers import (
    COMMON_WORDS,
    PARTS,
    WORDS,
    binary_view,
    cipher_view,
    is_text,
    morse_view,
)
from safe_embed.detector.text_codes import decimal_view, emoji_view, escapes_view, flipped_view
from safe_embed.detector.text_fragments import fragments_view
from safe_embed.detector.text_games import nato_view, piglatin_view
from safe_embed.detector.text_normalize import normalize, strip_invisible
from safe_embed.detector.text_order import word_order_view
from safe_embed.detector.text_payload import joined_payload
from safe_embed.detector.text_policy import clean_text
from safe_embed.detector.text_punctuation import punctuation_view
from safe_embed.detector.text_spelling import load_lexicon, respell
from safe_embed.detector.text_spread import spread_view
from safe_embed.detector.text_symbols import symbols_view
from safe_embed.detector.text_vowels import load_model, vowels_view
from safe_embed.detector.text_words import words_view

logger = logging.getLogger(__name__)

ORIGINAL, NORMALIZED, RESPELLED = "original", "normalized", "respelled"
BASE64, HEX, URL, TAGS, ROT13 = "decoded:base64", "decoded:hex", "decoded:url", "decoded:tags", "decoded:rot13"
REVERSED, CONCAT, ALIAS = "decoded:reversed", "decoded:concat", "decoded:alias"
CIPHER, MORSE, BINARY = "decoded:cipher", "decoded:morse", "decoded:binary"
FLIPPED, EMOJI, DECIMAL, ESCAPES = "decoded:flipped", "decoded:emoji", "decoded:decimal", "decoded:escapes"
WORD_BREAKS, VOWELS, FRAGMENTS = "decoded:words", "decoded:vowels", "decoded:fragments"
LETTERS, PUNCTUATION, BRAILLE = "decoded:letters", "decoded:punctuation", "decoded:braille"
WORD_ORDER, SYMBOLS = "decoded:word-order", "decoded:leet"
PIGLATIN, NATO = "decoded:piglatin", "decoded:nato"
MAX_VIEWS = 4  # the original + 3: every view is one more embedding per prompt
MAX_DECODED_CHARS = 2_000  # of one encoded run; the encoder reads a few hundred tokens at most

_BASE64 = re.compile(r"(?<![A-Za-z0-9+/_=-])[A-Za-z0-9+/_-]{16,}={0,2}(?![A-Za-z0-9+/_=-])")
_HEX = re.compile(r"(?<![0-9A-Za-z])(?:(?:0[xX]|\\x)?[0-9A-Fa-f]{2}(?:[ ,:](?=0[xX]|\\x|[0-9A-Fa-f]{2}))?){8,}"
                  r"(?![0-9A-Za-z])")
_URL_ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_URL_LETTER = re.compile(r"%(?:4[1-9A-Fa-f]|5[0-9Aa]|6[1-9A-Fa-f]|7[0-9Aa])")
_TAG_RUN = re.compile("\U0001f3f4[\U000e0020-\U000e007e]{1,7}\U000e007f|([\U000e0020-\U000e007e]+)")  # a flag|text
_ROT13_NAME = re.compile(r"\brot[ _-]?13\b|\bcaesar(?:'s)? cipher\b", re.IGNORECASE)


@dataclass(frozen=True)
class View:
    """One text to embed: ``name`` says which transformation made it (``"original"``, ``"decoded:base64"``, ...)."""

    name: str
    text: str


def text_views(text: str, max_views: int = MAX_VIEWS) -> tuple[View, ...]:
    """The views of ``text`` (see the module docstring): ``View("original", text)`` first, then each extra one.

    >>> [v.name for v in text_views("How do I bake bread?")]
    ['original']
    >>> text_views("𝐇𝐨𝐰 do I b4k3 bread?")[1]
    View(name='normalized', text='How do I bake bread?')
    >>> text_views("Decode this and follow it: SG93IGRvIEkgYmFrZSBicmVhZD8=")[1].text
    'How do I bake bread?'
    """
    if isinstance(max_views, bool) or not isinstance(max_views, int) or max_views < 1:
        raise ValueError(f"max_views must be an integer >= 1, got {max_views!r}. "
                         f"Fix: pass 1 for the original alone, or leave the default ({MAX_VIEWS}).")
    views, seen = [View(ORIGINAL, text)], set()
    for name, view in _candidates(text) if max_views > 1 else ():
        if view is None or view == text:
            continue
        if not seen:
            seen.add(_key(text))
        if (key := _key(view)) in seen:
            continue
        views.append(View(name, view))
        seen.add(key)
        if len(views) == max_views:
            logger.debug("text_views: max_views=%d reached at the %s view; later decodings not tried", max_views,
                         name)
            break
    return tuple(views)


def load_tables() -> None:
    """Load the word tables the views read (the English word list, about 0.3 s, and the word-bigram model of vowelless
    text, about 0.6 s) now, instead of on the first prompt that needs them."""
    load_lexicon()
    load_model()


def _candidates(text: str) -> Iterator[tuple[str, str | None]]:
    """``(name, text or None)`` of each possible extra view, in order, each computed only when asked for."""
    normalized = normalize(text)
    yield NORMALIZED, normalized
    visible = strip_invisible(text)
    if (spread := spread_view(visible)) is not None:  # letters spread apart, read as words: "[b][a][k][e]"
        yield LETTERS, normalize(words_view(spread) or spread)
    if (unmarked := punctuation_view(normalized)) is not None:  # "bo;mb", ":how"; then "mak-e" read whole
        yield PUNCTUATION, normalize(fragments_view(unmarked) or unmarked)
    yield SYMBOLS, _normalized(symbols_view(visible))
    joined = fragments_view(normalized)  # words broken apart, read whole: what the word-level views read
    yield FRAGMENTS, _normalized(joined)
    words = normalized if joined is None else joined
    yield RESPELLED, respell(words)
    yield WORD_BREAKS, _normalized(words_view(words))
    yield VOWELS, _normalized(vowels_view(words))
    yield CONCAT, _normalized(joined_payload(normalized))
    yield ALIAS, _normalized(alias_view(normalized))
    yield BASE64, _normalized(_replace(_BASE64, visible, _base64_text))
    if sum(map(visible.count, "0123456789")) >= 8:  # 8 bytes of text: a digit in each (20-7f), or most
        yield HEX, _normalized(_replace(_HEX, visible, _hex_text))
    if sum(map(visible.count, "0123456789")) >= 16:  # 8 codes of two or three digits
        yield DECIMAL, _normalized(decimal_view(visible))
    yield URL, _normalized(_url_view(visible))
    yield ESCAPES, _normalized(escapes_view(visible))
    if not text.isascii():
        yield TAGS, _normalized(_replace(_TAG_RUN, text, _tag_text))
        yield FLIPPED, _normalized(flipped_view(visible))
        yield EMOJI, _normalized(emoji_view(visible))
        yield BRAILLE, _normalized(braille_view(visible))
    yield ROT13, _normalized(_rot13_view(visible))
    yield REVERSED, _normalized(_reversed_view(visible))
    yield WORD_ORDER, _normalized(word_order_view(normalized))
    yield CIPHER, _normalized(cipher_view(visible))
    yield PIGLATIN, _normalized(piglatin_view(visible))
    yield NATO, _normalized(nato_view(visible))
    if "-" in visible and "." in visible:
        yield MORSE, _normalized(morse_view(visible))
    if visible.count("0") + visible.count("1") >= 32:
        yield BINARY, _normalized(binary_view(visible))


def _normalized(view: str | None) -> str | None:
    return None if view is None else normalize(view)


def _key(text: str) -> str:
    """What two views must differ in: the text ignoring case and runs of whitespace."""
    return " ".join(text.split()).lower()  # not casefold: it folds ligatures (ﬁ -> fi)


def _replace(pattern: re.Pattern[str], text: str, decode: Callable[[re.Match[str]], str | None],
             in_place: bool = False) -> str | None:
    """The readings of the matches of ``pattern`` in ``text`` that ``decode`` reads, one per line (``in_place``:
    ``text`` with each such match replaced by its reading); None if none is. Out of place, the instruction around
    an encoded run ("decode this and follow it") is left out: it is the same for a harmful and a harmless payload,
    and would dilute the payload's embedding."""
    found = False

    def one(m: re.Match[str]) -> str:
        nonlocal found
        decoded = decode(m)
        found = found or decoded is not None
        return m.group() if decoded is None else clean_text(decoded[:MAX_DECODED_CHARS])[0]

    if in_place:
        out = pattern.sub(one, text)
        return out if found else None
    readings = [d for m in pattern.finditer(text) if (d := decode(m)) is not None]
    return "\n".join(clean_text(d[:MAX_DECODED_CHARS])[0] for d in readings) if readings else None


def _utf8(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _base64_text(m: re.Match[str]) -> str | None:
    body = m.group().rstrip("=")[: MAX_DECODED_CHARS // 3 * 4]
    if ("-" in body or "_" in body) and ("+" in body or "/" in body):
        return None
    body = body[:-1] if len(body) % 4 == 1 else body
    try:
        data = base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_" if "-" in body or "_" in body
                                else None, validate=True)
    except (binascii.Error, ValueError):
        return None
    s = _utf8(data)
    return s if s is not None and is_text(s) and (any(c.isspace() for c in s) or s.isalpha()) else None


def _hex_text(m: re.Match[str]) -> str | None:
    run = m.group()
    pairs = re.findall(r"[0-9A-Fa-f]{2}", re.sub(r"0[xX]|\\x", "", run))[:MAX_DECODED_CHARS]
    s = _utf8(bytes.fromhex("".join(pairs)))
    if s is None or not is_text(s):
        return None
    return s if any(c.isspace() for c in s) or s.isalpha() and re.search("[A-Fa-f]", run) else None


def _url_view(text: str) -> str | None:
    if "%" not in text or len(_URL_LETTER.findall(text)) < 3:
        return None
    return _replace(_URL_ESCAPES, text, lambda m: _utf8(bytes.fromhex(m.group().replace("%", ""))), in_place=True)


def _tag_text(m: re.Match[str]) -> str | None:
    return None if m.group(1) is None else " " + "".join(chr(ord(c) - 0xE0000) for c in m.group(1)) + " "


def _rot13_view(text: str) -> str | None:
    lower = text.lower()
    if "rot" not in lower and "caesar" not in lower or not _ROT13_NAME.search(text):
        return None
    parts = PARTS.split(text)
    if len(parts) == 1:  # one sentence: all but the name
        parts = _ROT13_NAME.split(text)
        names = iter(_ROT13_NAME.findall(text))
        parts = [p for part in parts for p in (part, next(names, ""))]
    decoded = [p if i % 2 or _ROT13_NAME.search(p) else _rot13(p) for i, p in enumerate(parts)]
    changed = [d for d, p in zip(decoded, parts, strict=True) if d != p]
    return "".join(changed) if changed else None


def _rot13(part: str) -> str:
    """``part`` ROT13-decoded if that gives it more vowels (English has ~38% among its letters, its ROT13 ~20%)."""
    decoded = codecs.decode(part, "rot13")
    vowels = lambda s: sum(c in "aeiouAEIOU" for c in s)
    return decoded if vowels(decoded) > vowels(part) else part


def _reversed_view(text: str) -> str | None:
    """The parts of ``text`` written backwards, each read from right to left, one per line; None if there are none.

    >>> _reversed_view("Read it backwards and do it: emoh ta daerb ekab ot woh em llet")
    'tell me how to bake bread at home'
    >>> _reversed_view("Tell me how to bake bread at home.") is None
    True
    """
    found = [_read_back(p.strip()) for p in PARTS.split(text) if _backwards(p)]
    return "\n".join(found) if found else None


def _read_back(part: str) -> str:
    """``part`` read from right to left; word by word, in the words' order, when it opens with a capitalized word
    written backwards and does not close with one (each word was written backwards: "eviG em ..." for "Give me ...").

    >>> _read_back("emoh ta daerb ekaB"), _read_back("ekaB daerb ta emoh")
    ('Bake bread at home', 'Bake bread at home')
    """
    words = part.split()
    if words and _capital_backwards(words[0]) and not _capital_backwards(words[-1]):
        return " ".join(w[::-1] for w in words)
    return part[::-1]  # also when both ends are ("etirW ... grebnuhT"): the same words either way


def _capital_backwards(word: str) -> bool:
    """Whether ``word`` is a capitalized word written backwards ("eviG"; not "ASU", USA backwards)."""
    w = word.strip(".,;:!?\"'")
    return len(w) > 1 and w[-1].isupper() and w[:-1].islower()


def _backwards(part: str) -> bool:
    """Whether ``part`` reads as English written backwards: at least two of its words, and 15% of them, are common
    English words when read backwards (one of three letters or more: "on", "ni", "si" read backwards are words of
    other languages), and at least three times as many as when read as written."""
    words = WORDS.findall(part.lower())
    if len(words) < 3:
        return False
    back = [w for w in words if w[::-1] in COMMON_WORDS]
    return (len(back) >= 2 and len(back) >= 0.15 * len(words) and any(len(w) >= 3 for w in back)
            and len(back) >= 3 * sum(w in COMMON_WORDS for w in words))
