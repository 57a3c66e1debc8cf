"""The views of a prompt: the text as given, plus the text with cheap obfuscations undone, each only when found.

The detector embeds every view and keeps the most unsafe, so each extra view costs one embedding and is one more
chance of a false positive: ordinary text has ONE view (the original), and an extra view is added only when it
differs from every earlier one (compared ignoring case and runs of whitespace).

Views, in this order, at most ``max_views`` (the original first):

* ``original``: the text (already through the text policy, :mod:`safe_embed.detector.text_policy`);
* ``normalized``: :func:`~safe_embed.detector.text_normalize.normalize` (styled letters, invisible characters,
  look-alike letters in Latin words, symbols between words, spaced-out letters, leetspeak);
* ``decoded:repeats``: the normalized text with each run of a word or phrase said five times or more ("poem poem
  poem ...") said once, and a decoy at every second place kept once (:mod:`~safe_embed.detector.text_repeats`);
* ``decoded:html``, ``decoded:list``: words put one by one into HTML tags read without the tags ("<b>how</b>
  <b>to</b>"), and the words of a list of strings or of one-word list lines, alone ("['how', 'to']", "1. how\n2.
  to": :mod:`~safe_embed.detector.text_structure`);
* ``decoded:skeleton``: words of look-alike characters from any script read as the English word with their
  Unicode TR39 skeleton ("Ꮃrⅰtе ⍺ cంnvincing ernail": :mod:`~safe_embed.detector.text_skeleton`);
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
  word: "eviG em ..."), read from right to left: a part whose words, each read backwards, are far more often
  among the commonest English words (:data:`~safe_embed.detector.text_ciphers.COMMON_WORDS`) than the words as
  written (this view and the five above: :mod:`~safe_embed.detector.text_encoded`);
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

Each view is normalized. Decoding looks at the text without invisible characters. Any string is a valid input:
nothing raises.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from safe_embed.detector.text_aliases import alias_view
from safe_embed.detector.text_braille import braille_view
from safe_embed.detector.text_ciphers import (
    binary_view,
    cipher_view,
    morse_view,
)
from safe_embed.detector.text_codes import decimal_view, emoji_view, escapes_view, flipped_view
from safe_embed.detector.text_encoded import (
    base64_view,
    hex_view,
    reversed_view,
    rot13_view,
    tags_view,
    url_view,
)
from safe_embed.detector.text_fragments import fragments_view
from safe_embed.detector.text_games import nato_view, piglatin_view
from safe_embed.detector.text_normalize import normalize, strip_invisible
from safe_embed.detector.text_order import word_order_view
from safe_embed.detector.text_payload import joined_payload
from safe_embed.detector.text_punctuation import punctuation_view
from safe_embed.detector.text_repeats import repeats_view
from safe_embed.detector.text_skeleton import load_skeletons, skeleton_view
from safe_embed.detector.text_spelling import load_lexicon, respell
from safe_embed.detector.text_spread import spread_view
from safe_embed.detector.text_structure import html_view, list_view
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
WORD_ORDER, SYMBOLS, SKELETON = "decoded:word-order", "decoded:leet", "decoded:skeleton"
PIGLATIN, NATO, REPEATS = "decoded:piglatin", "decoded:nato", "decoded:repeats"
HTML, LISTED = "decoded:html", "decoded:list"
MAX_VIEWS = 4  # the original + 3: every view is one more embedding per prompt

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
    """Load the word tables the views read (the English word list, about 0.3 s, the skeletons of its words, about
    0.2 s, and the word-bigram model of vowelless text, about 0.6 s) now, instead of on the first prompt that needs
    them."""
    load_lexicon()
    load_skeletons()
    load_model()


def _candidates(text: str) -> Iterator[tuple[str, str | None]]:
    """``(name, text or None)`` of each possible extra view, in order, each computed only when asked for."""
    normalized = normalize(text)
    yield NORMALIZED, normalized
    yield REPEATS, repeats_view(normalized)
    visible = strip_invisible(text)
    yield HTML, _normalized(html_view(visible))
    yield LISTED, _normalized(list_view(visible))
    if not text.isascii():
        yield SKELETON, _normalized(skeleton_view(visible))
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
    yield BASE64, _normalized(base64_view(visible))
    if sum(map(visible.count, "0123456789")) >= 8:  # 8 bytes of text: a digit in each (20-7f), or most
        yield HEX, _normalized(hex_view(visible))
    if sum(map(visible.count, "0123456789")) >= 16:  # 8 codes of two or three digits
        yield DECIMAL, _normalized(decimal_view(visible))
    yield URL, _normalized(url_view(visible))
    yield ESCAPES, _normalized(escapes_view(visible))
    if not text.isascii():
        yield TAGS, _normalized(tags_view(text))
        yield FLIPPED, _normalized(flipped_view(visible))
        yield EMOJI, _normalized(emoji_view(visible))
        yield BRAILLE, _normalized(braille_view(visible))
    yield ROT13, _normalized(rot13_view(visible))
    yield REVERSED, _normalized(reversed_view(visible))
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
