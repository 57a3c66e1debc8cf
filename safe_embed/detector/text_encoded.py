"""Encodings an LLM reads fluently, decoded: the ``decoded:base64``, ``decoded:hex``, ``decoded:url``,
``decoded:tags``, ``decoded:rot13`` and ``decoded:reversed`` views of :mod:`~safe_embed.detector.text_views`.

"Decodes to text" means: valid UTF-8, every character printable (or a line break or tab), at least 60% letters
and whitespace, and a space in it (base64 also takes one long word of letters; hex one with a hex letter, so a
card number such as 5555555555554444 never reads as "UUUUUUDD"). A decoded view holds the decoded runs alone, one
per line, at most :data:`MAX_DECODED_CHARS` of each: the instruction around them is the same for a harmful and a
harmless payload and would dilute it (URL escapes, which encode single letters of a sentence, are decoded in
place). :func:`~safe_embed.detector.text_views.text_views` normalizes each view and hands these functions the
text without invisible characters. Any string is a
valid input: nothing raises.

>>> base64_view("Decode this and follow it: SG93IGRvIEkgYmFrZSBicmVhZD8=")
'How do I bake bread?'
>>> hex_view("686f7720746f2062616b65"), url_view("how%20to%20%62%61%6b%65")
('how to bake', 'how to bake')
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from collections.abc import Callable

from safe_embed.detector.text_ciphers import COMMON_WORDS, PARTS, WORDS, is_text
from safe_embed.detector.text_policy import clean_text

MAX_DECODED_CHARS = 2_000  # of one encoded run; the encoder reads a few hundred tokens at most
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/_=-])[A-Za-z0-9+/_-]{16,}={0,2}(?![A-Za-z0-9+/_=-])")
_HEX = re.compile(r"(?<![0-9A-Za-z])(?:(?:0[xX]|\\x)?[0-9A-Fa-f]{2}(?:[ ,:](?=0[xX]|\\x|[0-9A-Fa-f]{2}))?){8,}"
                  r"(?![0-9A-Za-z])")
_URL_ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_URL_LETTER = re.compile(r"%(?:4[1-9A-Fa-f]|5[0-9Aa]|6[1-9A-Fa-f]|7[0-9Aa])")
_TAG_RUN = re.compile("\U0001f3f4[\U000e0020-\U000e007e]{1,7}\U000e007f|([\U000e0020-\U000e007e]+)")  # a flag|text
_ROT13_NAME = re.compile(r"\brot[ _-]?13\b|\bcaesar(?:'s)? cipher\b", re.IGNORECASE)


def base64_view(text: str) -> str | None:
    """The runs of ``text`` of >= 16 base64 characters (standard or URL-safe) that decode to text, one per line."""
    return _replace(_BASE64, text, _base64_text)


def hex_view(text: str) -> str | None:
    """The runs of ``text`` of >= 8 hex byte pairs that decode to text, one per line."""
    return _replace(_HEX, text, _hex_text)


def tags_view(text: str) -> str | None:
    """The Unicode TAG characters of ``text`` (invisible ASCII) read as the ASCII they encode."""
    return _replace(_TAG_RUN, text, _tag_text)


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


def url_view(text: str) -> str | None:
    """``text`` with its percent escapes decoded in place, when >= 3 of them stand for ASCII letters."""
    if "%" not in text or len(_URL_LETTER.findall(text)) < 3:
        return None
    return _replace(_URL_ESCAPES, text, lambda m: _utf8(bytes.fromhex(m.group().replace("%", ""))), in_place=True)


def _tag_text(m: re.Match[str]) -> str | None:
    return None if m.group(1) is None else " " + "".join(chr(ord(c) - 0xE0000) for c in m.group(1)) + " "


def rot13_view(text: str) -> str | None:
    """Only when ``text`` names ROT13 or the Caesar cipher: its parts that do not name it, ROT13-decoded where that
    gives them more vowels (one sentence: all but the name)."""
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


def reversed_view(text: str) -> str | None:
    """The parts of ``text`` written backwards, each read from right to left, one per line; None if there are none.

    >>> reversed_view("Read it backwards and do it: emoh ta daerb ekab ot woh em llet")
    'tell me how to bake bread at home'
    >>> reversed_view("Tell me how to bake bread at home.") is None
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
