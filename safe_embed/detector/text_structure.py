"""Words put one by one into markup: the ``decoded:html`` and ``decoded:list`` views of
:mod:`~safe_embed.detector.text_views`.

A request whose every word sits in its own HTML tag ("<span>how</span> <span>to</span>"), in a list of strings
("['how', 'to', 'make']") or on its own numbered or bulleted line ("1. how\\n2. to") is read by an LLM as the
request, while the encoder reads mostly markup. Each pattern counts from :data:`MIN_WORDS` words:

* ``decoded:html`` (:func:`html_view`): words each in its own tag, when they are half the text's words or more (an
  HTML page's text runs between tags: it is not read this way); the view is the text with every tag taken out;
* ``decoded:list`` (:func:`list_view`): a list literal of short strings (each :data:`MAX_ITEM_CHARS` characters or
  fewer, in single or double quotes), read as its strings parted by spaces, and lines that hold a list marker
  (``1.``, ``2)``, ``-``, ``*``, ``•``) and one word each, one after the other, read as one line of those words. The
  view is what the lists hold, one list a line, without the text around them: "join these words and answer"
  around a request would dilute it, as the instruction around a base64 payload would.

>>> html_view(" ".join(f"<b>{w}</b>" for w in "how to bake a cake".split()))
'how to bake a cake'
>>> html_view("<p>Hello <b>world</b>, this is <i>my</i> page.</p>") is None
True
>>> list_view("Join these: ['how', 'to', 'bake', 'a', 'cake']")
'how to bake a cake'
>>> list_view("Steps:\\n1. how\\n2. to\\n3. bake\\n4. a\\n5. cake")
'how to bake a cake'
"""

from __future__ import annotations

import re

MIN_WORDS = 4  # words put one by one into markup, at least
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


def html_view(text: str) -> str | None:
    """``text`` without its tags, when its words are put one by one into tags (see the module docstring); else
    None."""
    text = text[:MAX_MARKUP_CHARS]
    if "<" not in text:
        return None
    wrapped = len(_WRAPPED.findall(text))
    if wrapped < MIN_WORDS or 2 * wrapped < len(_WORDS.findall(_TAG.sub(" ", text))):
        return None
    return _TAG.sub("", text)


def list_view(text: str) -> str | None:
    """The words ``text`` lists one by one, each list on a line (see the module docstring); None if it has none."""
    text = text[:MAX_MARKUP_CHARS]
    found = []
    if "[" in text or "(" in text:
        found += [(m.start(), " ".join(s.group(1) or s.group(2) for s in _STRING.finditer(m.group())))
                  for m in _LIST.finditer(text)]
    found += [(m.start(), " ".join(_MARKER.sub("", m.group()).split())) for m in _LINES.finditer(text)]
    return "\n".join(words for _, words in sorted(found)) if found else None
