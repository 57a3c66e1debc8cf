"""Words put one by one into markup: the ``decoded:markup`` view of :mod:`~safe_embed.detector.text_views`.

A request whose every word sits in its own HTML tag ("<span>how</span> <span>to</span>"), in a list of strings
("['how', 'to', 'make']") or on its own numbered or bulleted line ("1. how\\n2. to") is read by an LLM as the
request, while the encoder reads mostly markup. Three patterns, each of :data:`MIN_WORDS` words or more:

* words each in its own tag, when they are half the text's words or more (an HTML page's text runs between tags:
  it is not read this way): every tag is taken out;
* a list literal of short strings (each :data:`MAX_ITEM_CHARS` characters or fewer, in single or double quotes):
  read as its strings parted by spaces;
* lines that hold a list marker (``1.``, ``2)``, ``-``, ``*``, ``•``) and one word each, one after the other: read as
  one line of those words.

>>> markup_view(" ".join(f"<b>{w}</b>" for w in "how to bake a cake".split()))
'how to bake a cake'
>>> markup_view("Join these: ['how', 'to', 'bake', 'a', 'cake']")
'Join these: how to bake a cake'
>>> markup_view("Steps:\\n1. how\\n2. to\\n3. bake\\n4. a\\n5. cake")
'Steps:\\nhow to bake a cake'
>>> markup_view("<p>Hello <b>world</b>, this is <i>my</i> page.</p>") is None
True
"""

from __future__ import annotations

import re

MIN_WORDS = 5  # words put one by one into markup, at least
MAX_ITEM_CHARS = 30  # of a string in a list literal
MAX_MARKUP_CHARS = 100_000  # of a text looked at
_TAG = re.compile(r"</?[A-Za-z][\w-]{0,20}(?:\s[^<>]{0,80})?/?>")
_WRAPPED = re.compile(r"<([A-Za-z][\w-]{0,20})(?:\s[^<>]{0,80})?>\s*[^<>\s]+\s*</\1>")
_ITEM = rf"(?:'[^'\n]{{1,{MAX_ITEM_CHARS}}}'|\"[^\"\n]{{1,{MAX_ITEM_CHARS}}}\")"
_LIST = re.compile(rf"[\[(]\s*(?:{_ITEM}\s*,\s*){{{MIN_WORDS - 1},}}{_ITEM}\s*,?\s*[\])]")
_STRING = re.compile(rf"'([^'\n]{{1,{MAX_ITEM_CHARS}}})'|\"([^\"\n]{{1,{MAX_ITEM_CHARS}}})\"")
_LINES = re.compile(rf"(?:^[ \t]*(?:\d{{1,3}}[.)]|[-*•])[ \t]+[^\s]+[ \t]*(?:\n|$)){{{MIN_WORDS},}}", re.MULTILINE)
_MARKER = re.compile(r"^[ \t]*(?:\d{1,3}[.)]|[-*•])[ \t]+", re.MULTILINE)
_WORDS = re.compile(r"[^\W\d_]+")


def markup_view(text: str) -> str | None:
    """``text`` with the words put one by one into markup read as plain words (see the module docstring); None if
    it has none."""
    text = text[:MAX_MARKUP_CHARS]
    out = text
    if "<" in out:
        wrapped = len(_WRAPPED.findall(out))
        if wrapped >= MIN_WORDS and 2 * wrapped >= len(_WORDS.findall(_TAG.sub(" ", out))):
            out = _TAG.sub("", out)
    if "[" in out or "(" in out:
        out = _LIST.sub(lambda m: " ".join(s.group(1) or s.group(2) for s in _STRING.finditer(m.group())), out)
    out = _LINES.sub(lambda m: " ".join(_MARKER.sub("", m.group()).split()) + ("\n" if m.group().endswith("\n")
                                                                                   else ""), out)
    return out.rstrip("\n") if out != text else None
