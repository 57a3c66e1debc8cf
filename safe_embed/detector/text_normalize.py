"""The "normalized" text view: cheap character-level obfuscations undone, ordinary text of any language left alone.

Steps, chained in this order (each a no-op on text it does not concern):

1. **Invisible characters** (:func:`strip_invisible`): format characters (Unicode category Cf: zero-width space,
   word joiner, BOM, soft hyphen, bidi controls, TAG characters) and variation selectors are removed between two
   visible characters (beside whitespace or at an end of the text they split no word, and stay). Kept where they
   carry meaning: ZWJ/ZWNJ and the LRM/RLM/ALM marks unless an ASCII letter or digit is beside them (emoji
   sequences, Persian, Indic), a variation selector unless it follows an ASCII character other than a keycap's
   0-9 # * (emoji presentation, CJK variants; after such an ASCII character it selects nothing and goes wherever
   it is, as after a styled letter folded: "h🅾️w"), and the TAG sequence of a subdivision flag (🏴 + tags + CANCEL
   TAG).
2. **Styled letters** folded to ASCII: a letter or symbol whose NFKC form is ASCII letters (fullwidth,
   mathematical bold/italic/Fraktur/script/double-struck/monospace, circled, squared, superscript and subscript,
   ligatures) or whose Unicode name is a Latin letter in another dress (small capitals, negative circled/squared,
   parenthesized); enclosing marks drawn around letters ("h⃝o⃝w⃝") removed. Only when a
   styled letter touches a Latin letter (ASCII or styled) somewhere in the text, and then every styled letter and
   digit is folded: a lone ℹ, Ⓜ, 🅿 or ℝ stays, and so does ℓ beside π; one before U+FE0F (emoji
   presentation: 🅿️, ℹ️) only in a text that has one inside a word ("h🅾️w"); ™, ℡, ㎏, ª, º stay (symbols of several letters, ordinals). The regional indicators flags are
   made of are read as letters first, when the text spells with them
   (:func:`~safe_embed.detector.text_letters.fold_indicators`: not a flag or two).
3. **Look-alike letters** (Unicode TR39 confusables, via ``confusable-homoglyphs``;
   :func:`~safe_embed.detector.text_lookalikes.map_lookalikes`): a word mixing ASCII letters with Cyrillic/Greek/...
   look-alikes, or letters of two other scripts or more, becomes Latin, if every letter of it then is Latin; whole
   Cyrillic words are mapped only when every Cyrillic letter of the text is a look-alike and the text has ASCII
   letters (an English prompt with Cyrillic а, е, о, р, с, х, і). Russian, Greek, Chinese words stay as they are.
4. **Symbols between words** read as spaces ("Explain 🙂 how 🙂 to 🙂 make"), in a run of words each parted from
   the next by emoji or other symbols (:func:`~safe_embed.detector.text_letters.unseparate`).
5. **A splitter after every character**, spaces included ("E.x.p.l.a.i.n. .h.o.w"), removed
   (:func:`~safe_embed.detector.text_letters.unsplit_characters`); then **spaced letters** joined ("h o w",
   "b.o.m.b", "k-i-l-l", "b*o*m*b"): a run of >= 3 single ASCII letters (or leet characters) split by one space,
   dot, dash, underscore, asterisk, slash, bar, plus, tilde or line break (a letter a line, written downwards),
   with at least two letters, at most twice as many digits, not one letter again and again (music's "C C C"), and
   not a dotted abbreviation (all capitals, or <= 3 letters then a dot: U.S.A., a.k.a.). Two or more spaces are a
   word break, kept as they are. Never across other characters (versions, IPs, UUIDs). Runs split by anything but
   a space are joined first, so that a one-letter word between two of them ("b-u-i-l-d a p-i-p-e") is not taken
   for a spaced run ("d a p"); in a text where such a run was joined, two-letter words split the same way are too
   ("t*o", not "A/B" or "I/O" in ordinary text).
6. **Doubled letters** undone: "GGiivvee" -> "Give", in a text that doubles its words
   (:func:`~safe_embed.detector.text_letters.undouble`).
7. **Leetspeak** undone (4 a, @ a, 3 e, 1 i, 0 o, 5 s, $ s, 7 t) in whitespace-delimited words made only of ASCII
   letters and those characters: a dot, slash, colon, dash or underscore inside makes a technical token (URLs,
   versions, times, COVID-19); a 2, 6, 8 or 9 (H264, Uint8Array, k8s), two different digits in a row (TKC80s; 00 and
   33 stand for letters), hex (``0x1f``, ``deadbeef``, ``b3d``), dimensions (``1x1x1``) or a numeronym (``i18n``)
   rule the word out. Only when the text holds a word with a leet character between letters (``b0mb``; an
   all-capitals or formula-shaped word such as ``W3C`` or ``Fe3O4`` needs a second one) is every candidate word
   converted, edge digits included (``t0`` -> ``to``); ``mp3`` or ``x1`` alone never are. Pure numbers are left
   alone, except in a text with two such words, where a number of 1-3 leet digits is read as a word ("70" to).

Steps 1-3 repeat until nothing changes (one can enable another: a look-alike mapped to ASCII makes the joiner
beside it removable), and run again when steps 4-5 changed the text (a splitter removed brings styled letters
together: "ᵇ.ᵒ.ᵐ.ᵇ"). Case is kept. The result is in NFC (the text policy's
:func:`~safe_embed.detector.text_policy.clean_text`), and ``normalize(normalize(t)) == normalize(t)``.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from safe_embed.detector.text_leet import LEET_CHARS, unleet
from safe_embed.detector.text_letters import (
    fold_indicators,
    undouble,
    unenclose,
    unseparate,
    unsplit_characters,
)
from safe_embed.detector.text_lookalikes import is_mark, map_lookalikes
from safe_embed.detector.text_policy import clean_text

_ROUNDS = 4  # of steps 1-3 (and NFC), until nothing changes: in practice one or two
_KEEP_NEAR_LETTERS = frozenset("\u200c\u200d\u200e\u200f\u061c")  # ZWNJ, ZWJ, LRM, RLM, ALM
_FLAG, _CANCEL_TAG = "\U0001f3f4", "\U000e007f"
_EMOJI_PRESENTATION = "\ufe0f"  # VS16: the character before it is an emoji (ℹ️, Ⓜ️, 🅿️), not a letter
_FANCY_NAME = re.compile(r"(?:NEGATIVE (?:CIRCLED|SQUARED) |PARENTHESIZED )?LATIN (?:CAPITAL |SMALL )?LETTER "
                         r"(?:SMALL CAPITAL )?([A-Z])")
_T = r"[A-Za-z013457@$]"
_SPLITTERS = "-_*/|+~"  # one of these between the letters of a word: "k-i-l-l", "b*o*m*b"
_GAP_CHARS = " .\n" + _SPLITTERS  # what splits the letters of a run
_GAPS = re.escape(_GAP_CHARS)
_SPACED_HINT = re.compile(rf"[{_GAPS}]{_T}[{_GAPS}]+{_T}(?![\w@$])")  # the middle of any run: one cheap scan


def _split_run(c: str) -> re.Pattern[str]:
    c = re.escape(c)
    return re.compile(rf"(?<![\w@${c}]){_T}(?:{c}{_T}){{2,}}(?![\w@$]|{c}[\w@$])")


def _split_pair(c: str) -> re.Pattern[str]:
    c = re.escape(c)
    return re.compile(rf"(?<![\w@${c}])[A-Za-z]{c}[A-Za-z](?![\w@${c}])")


# (a run, and a two-letter word split the same way, joined only in a text where runs were: "t*o" beside "b*o*m*b").
# Runs split by anything but a space come first, so that "g a p" of "b-u-i-l-d-i-n-g a p-i-p-e" is no spaced run.
_SPACED = [(_split_run("."), None), *((_split_run(c), _split_pair(c)) for c in _SPLITTERS),
           (re.compile(rf"(?<![\w@$])(?<![\w@$]\n){_T}(?:\n{_T}){{2,}}(?![\w@$]|\n[\w@$])"),  # a letter a line
            re.compile(r"(?<![\w@$])(?<![\w@$]\n)[A-Za-z]\n[A-Za-z](?![\w@$]|\n[\w@$])")),
           (re.compile(rf"(?<![\w@$]){_T}(?: +{_T}){{2,}}(?![\w@$])"), None)]


def normalize(text: str) -> str:
    """The "normalized" view of ``text`` (see the module docstring); ordinary text comes back unchanged.

    >>> normalize("Ｈｏｗ ｔｏ 𝔪𝔞𝔨𝔢 a b\\u200bo\\u200bm\\u200bb")
    'How to make a bomb'
    >>> normalize("h o w  t o  m4k3 a b.o.m.b"), normalize("Как приготовить борщ?")
    ('how  to  make a bomb', 'Как приготовить борщ?')
    """
    text = _letters(text)
    joined = _join_spaced(unsplit_characters(unseparate(text)))
    if joined != text:  # a splitter removed can bring styled letters together: "ᵇ.ᵒ.ᵐ.ᵇ"
        text = _letters(joined)
    return unleet(undouble(text))


def _letters(text: str) -> str:
    """Steps 1-3, until nothing changes."""
    for _ in range(_ROUNDS):  # one step can enable another (a mapped letter makes a neighbour's joiner removable)
        if text.isascii():
            break
        before, text = text, clean_text(map_lookalikes(_fold_styled(fold_indicators(unenclose(strip_invisible(
            clean_text(text)[0]))))))[0]
        if text == before:
            break
    return text


@functools.lru_cache(maxsize=1 << 16)
def _invisible(c: str) -> bool:
    """Is ``c`` a format character (Cf, TAG included) or a variation selector?"""
    return unicodedata.category(c) == "Cf" or _selector(c)


def _selector(c: str) -> bool:
    """Is ``c`` a variation selector (VS1-16, VS17-256)?"""
    return "\ufe00" <= c <= "\ufe0f" or "\U000e0100" <= c <= "\U000e01ef"


def strip_invisible(text: str) -> str:
    """``text`` without invisible characters, except where they carry meaning (step 1 of the module docstring).

    >>> strip_invisible("b\\u200bo\\u00adm\\u2060b\\ufeff!"), strip_invisible("ok 👍🏽 👨\\u200d👩\\u200d👧 ❤\\ufe0f")
    ('bomb!', 'ok 👍🏽 👨\\u200d👩\\u200d👧 ❤\\ufe0f')
    """
    if text.isascii():
        return text
    chars = "".join(c for c in set(text) if not c.isascii() and _invisible(c))
    if not chars:
        return text
    return re.sub(f"[{re.escape(chars)}]+", _strip_run, text)


def _strip_run(m: re.Match[str]) -> str:
    """What to keep of one run of invisible characters, judged by the visible characters around it."""
    text, (start, end), run = m.string, m.span(), m.group()
    before, after = text[start - 1 : start], text[end : end + 1]
    if before and _plain(before) and all(_selector(c) for c in run):
        return ""  # selectors after a plain ASCII character select nothing (left by a folded letter: "h🅾️w")
    if not before.strip() or not after.strip():
        return run  # beside whitespace or an end of the text it splits no word: nothing to undo
    kept = ""
    if before == _FLAG and _CANCEL_TAG in run:  # a subdivision flag: 🏴 + TAG letters + CANCEL TAG
        flag = run[: run.index(_CANCEL_TAG) + 1]
        if all("\U000e0020" <= c <= _CANCEL_TAG for c in flag):
            kept, run = flag, run[len(flag):]
    near_ascii = _ascii_alnum(before) or _ascii_alnum(after)
    for c in run:
        if c in _KEEP_NEAR_LETTERS and not near_ascii or _selector(c) and not _plain(before):
            kept += c
    return kept


def _ascii_alnum(c: str) -> bool:
    return c.isascii() and c.isalnum()


def _plain(c: str) -> bool:
    """A character no variation selector belongs after: ASCII, but for the keycaps 1️⃣ #️⃣ *️⃣."""
    return c.isascii() and c not in "0123456789#*"


def _ascii_letter(c: str) -> bool:
    return c.isascii() and c.isalpha()


@functools.lru_cache(maxsize=1 << 16)
def _fold(c: str) -> str:
    """The ASCII letters (or digit) a styled character stands for, "" if it is not one (step 2)."""
    if c.isascii():
        return ""
    category = unicodedata.category(c)
    if category in ("Lu", "Ll", "Lm", "So"):  # Lm: superscript and subscript letters (ᵖˡᵃⁱⁿ, ₐₑ)
        nfkc = unicodedata.normalize("NFKC", c)
        if nfkc != c and nfkc.isascii() and nfkc.isalpha() and (category != "So" or len(nfkc) == 1):
            return nfkc
        name = unicodedata.name(c, "")
        if m := _FANCY_NAME.fullmatch(name):
            return m.group(1).lower() if category == "Ll" or "SMALL LETTER" in name else m.group(1)
    elif category == "Nd":
        nfkc = unicodedata.normalize("NFKC", c)
        return nfkc if nfkc.isascii() else ""
    return ""


def _fold_styled(text: str) -> str:
    """Step 2: styled letters to ASCII, when one of them touches a Latin letter."""
    table = {c: f for c in set(text) if (f := _fold(c))}
    if not table:
        return text
    styled = re.compile(f"[{re.escape(''.join(table))}]")

    def letter(c: str) -> bool:  # a Latin letter: ASCII or styled (circled ones are symbols), or a mark on one
        return _ascii_letter(c) or table.get(c, "").isalpha() or c != "" and is_mark(c)

    def beside(m: re.Match[str]) -> bool:  # a letter before or after it (after its emoji presentation selector)
        after = m.end() + (text[m.end() : m.end() + 1] == _EMOJI_PRESENTATION)
        return letter(text[m.start() - 1 : m.start()]) or letter(text[after : after + 1])

    found = [m for m in styled.finditer(text) if table[m.group()].isalpha()]
    if not any(beside(m) for m in found):
        return text
    emoji = [m for m in found if text[m.end() : m.end() + 1] == _EMOJI_PRESENTATION]
    spelled = any(beside(m) for m in emoji)  # "h🅾️w": the text spells with them, lone ones too ("🅰️" a)
    return styled.sub(lambda m: m.group() if text[m.end() : m.end() + 1] == _EMOJI_PRESENTATION and not spelled
                      else table[m.group()], text)


def _join_spaced(text: str) -> str:
    """Step 5: "h o w  t o" -> "how to", "b.o.m.b" -> "bomb"; "t*o" too once "b*o*m*b" was joined."""
    if not _SPACED_HINT.search(text):
        return text
    for pattern, pair in _SPACED:
        joined = pattern.sub(_join_run, text)
        if joined != text and pair is not None:  # the text splits its words this way: two-letter words too
            joined = pair.sub(lambda m: m.group()[0] + m.group()[-1], joined)
        text = joined
    return text


def _join_run(m: re.Match[str]) -> str:
    run = m.group()
    letters = sum(c.isalpha() for c in run)
    if letters < 2 or 2 * letters < sum(c in LEET_CHARS for c in run) or len(set(run.lower()) - set(_GAP_CHARS)) == 1:
        return run  # too few letters, or one letter again and again (music's "C C C")
    if run[1] == "." and (run.isupper() or len(run) <= 5 and m.string[m.end() : m.end() + 1] == "."):
        return run  # an abbreviation: U.S.A., H.I.G., a.k.a.
    return re.sub(rf"(?<=\S)[{_GAPS}](?=\S)", "", run)
