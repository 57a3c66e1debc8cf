"""Text written in symbols an LLM reads fluently: the ``decoded:flipped``, ``decoded:emoji``, ``decoded:decimal`` and
``decoded:escapes`` views of :mod:`~safe_embed.detector.text_views`.

* Upside-down text ("ǝɯoɥ ʇɐ pɐǝɹq ǝʞɐq"): each sentence, line or colon-separated part with at least three turned
  letters (ɐ ǝ ɥ ᴉ ʇ ɹ ..., not the symbols ∀ ⊥ ∩ ¿ that stand for capitals and punctuation) is turned back,
  letter by letter (the plain letters that turn into each other, b/q, d/p and n/u, swap), and read in whichever
  order (as written, or from right to left, as flip-text generators write it) gives more English words; kept when
  :data:`~safe_embed.detector.text_ciphers.MIN_ENGLISH_DECIPHERED` of its
  words are English. IPA transcriptions, which share some of these letters, are not English either way.
* Emoji in a sentence ("how do I make a 💣 at home"): each emoji standing for a word (an article, possessive,
  preposition or "to" before it, or a preposition or conjunction after it: "make a 💣", "how to 🔪", "pipe 💣 at
  home") is read as its Unicode name ("bomb"), unless it shows a mood or marks up the text (faces,
  hands, hearts, stars, arrows, check marks: "Hello 👋 how are you? 😊" keeps one view) or is a joined sequence
  (a family, a profession: people); skin tones are left out.
* Decimal character codes ("71 105 118 101 ..."): a run of at least eight numbers 32-126, split by spaces or
  commas, read as ASCII text.
* Character escapes: HTML numeric entities (``&#71;`` ``&#x47;``) and ``\\u0047`` / ``\\U00000047`` escapes,
  when at least :data:`MIN_ESCAPES` of them stand for letters: a run of eight or more, a whole message, is read
  alone (the instruction around it would dilute it, as for the other encodings), and escapes inside words are
  decoded in place.

A decoded run counts only when it is text (:func:`~safe_embed.detector.text_ciphers.is_text`).

>>> flipped_view("ǝɯoɥ ʇɐ pɐǝɹq ǝʞɐq oʇ ʍoɥ ǝɯ llǝʇ")
'tell me how to bake bread at home'
>>> emoji_view("How do I bake a 🎂 for my mom? 😊")
'How do I bake a birthday cake for my mom? 😊'
>>> decimal_view("Decode: 104 111 119 32 116 111 32 98 97 107 101")
'how to bake'
>>> escapes_view("&#104;&#111;&#119; &#116;&#111; bake")
'how to bake'
"""

from __future__ import annotations

import re
import unicodedata

from safe_embed.detector.text_ciphers import (
    CIPHER_WORDS,
    MAX_CIPHER_CHARS,
    MIN_ENGLISH_DECIPHERED,
    PARTS,
    english_share,
    is_text,
)

MIN_ESCAPES = 3  # character escapes standing for letters, from which a text's escapes are decoded
# A turned letter -> the letter it is, as flip-text generators write them (each plain letter has one turned form;
# b, d, n, p, q, u turn into one another; l, o, s, x, z into themselves).
_TURNED = dict(zip("ɐqɔpǝɟƃɥᴉıɾʞꞁɯuodbɹsʇnʌʍxʎz∀ꓭƆᗡƎℲ⅁ſꓘ˥ꟽԀꓤ⊥∩Λ⅄¿¡˙",
                   "abcdefghiijklmnopqrstuvwxyzABCDEFGJKLMPRTUVY?!.", strict=True))
_TURNED_ONLY = frozenset(c for c in _TURNED if not c.isascii() and c.isalpha())  # ∀ ⊥ ∩ ¿ are not letters
_EMOJI = re.compile("(?:[\U0001f300-\U0001faff\u2600-\u27bf\u2b00-\u2bff][\ufe0f\u200d\U0001f3fb-\U0001f3ff]*)+")
_NAMES = {"HOCHO": "kitchen knife"}  # Unicode names an LLM would not read as the emoji's meaning
_NEAR = 32  # characters looked at on each side of an emoji
_NOUN_NEXT = re.compile(r"(?i)\b(?:a|an|the|some|my|your|his|her|their|our|this|that|of|to|with|for|into|at|on|"
                        r"in|by)$")
_NOUN_BEFORE = re.compile(r"(?i)(?:at|for|and|or|with|to|in|on|from|that|which)\b")
_MOOD = re.compile(r"FACE|HAND|HEART|THUMBS|SPARKLE|CLAPPING|PERSON|STAR\b|PARTY|CONFETTI|BALLOON|CHECK|CROSS MARK|"
                   r"ARROW|SIGN\b|SYMBOL|DIGIT|KEYCAP|WARNING|EXCLAMATION|QUESTION")  # mood and markup, not words
_DECIMAL_RUN = re.compile(r"(?<![\d.])(?:(?:3[2-9]|[4-9]\d|1[01]\d|12[0-6])(?:,\s*|\s+)){7,}"
                          r"(?:3[2-9]|[4-9]\d|1[01]\d|12[0-6])(?![\d.])")
_ESCAPE = re.compile(r"&#(\d{1,7});|&#[xX]([0-9A-Fa-f]{1,6});|\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_ESCAPE_RUN = re.compile(rf"(?:{_ESCAPE.pattern}){{8,}}")  # a whole message escaped: read alone


def flipped_view(text: str) -> str | None:
    """The upside-down parts of ``text`` (its first :data:`~safe_embed.detector.text_ciphers.MAX_CIPHER_CHARS`
    characters) turned back, one per line; None if there are none."""
    text = text[:MAX_CIPHER_CHARS]
    if text.isascii() or sum(c in _TURNED_ONLY for c in text) < 3:
        return None
    found = [d for p in PARTS.split(text) if (d := _turned_back(p.strip()))]
    return "\n".join(found) if found else None


def _turned_back(part: str) -> str | None:
    if sum(c in _TURNED_ONLY for c in part) < 3:
        return None
    upright = "".join(_TURNED.get(c, c) for c in part)
    readings = [upright[::-1], upright]
    shares = [english_share(CIPHER_WORDS.findall(r.lower())) for r in readings]
    best = max(range(2), key=shares.__getitem__)
    return readings[best] if shares[best] >= MIN_ENGLISH_DECIPHERED else None


def emoji_view(text: str) -> str | None:
    """``text`` with each emoji standing for a word read as its name; None if none is."""
    if text.isascii() or not _EMOJI.search(text):
        return None
    found = False

    def name(m: re.Match[str]) -> str:
        nonlocal found
        before = m.string[max(0, m.start() - _NEAR):m.start()].rstrip(" ")
        after = m.string[m.end():m.end() + _NEAR].lstrip(" ")
        if "\u200d" in m.group() or not (_NOUN_NEXT.search(before) or _NOUN_BEFORE.match(after)):
            return m.group()  # not for a word; or a joined sequence (families, professions: people)
        names = [_NAMES.get(n, n).lower() for c in m.group() if (n := unicodedata.name(c, ""))
                 and not ("\U0001f3fb" <= c <= "\U0001f3ff" or c in "\ufe0f\u200d" or _MOOD.search(n))]
        found = found or bool(names)
        return " ".join(names)

    out = _EMOJI.sub(name, text)
    return out.strip() if found else None


def decimal_view(text: str) -> str | None:
    """The runs of decimal character codes of ``text`` read as text, one per line; None if there are none."""
    found = []
    for m in _DECIMAL_RUN.finditer(text):
        s = "".join(chr(int(n)) for n in re.findall(r"\d+", m.group()))
        if is_text(s) and (" " in s or s.isalpha()):
            found.append(s)
    return "\n".join(found) if found else None


def escapes_view(text: str) -> str | None:
    """``text`` with its character escapes decoded, when at least :data:`MIN_ESCAPES` stand for letters; else
    None."""
    if "&#" not in text and "\\" not in text:
        return None
    codes = [_code(m) for m in _ESCAPE.finditer(text)]
    if sum(c is not None and chr(c).isalpha() for c in codes) < MIN_ESCAPES:
        return None
    runs = [d for m in _ESCAPE_RUN.finditer(text) if is_text(d := _unescape(m.group()))]
    return "\n".join(runs) if runs else _unescape(text)


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: m.group() if (c := _code(m)) is None else chr(c), text)


def _code(m: re.Match[str]) -> int | None:
    """The code point an escape stands for, if it is a printable character."""
    digits = next(g for g in m.groups() if g is not None)
    code = int(digits, 10 if m.group(1) else 16)
    return code if code <= 0x10FFFF and chr(code).isprintable() else None
