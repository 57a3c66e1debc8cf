"""The one text policy at the detector's boundary: any Python string is a valid prompt.

Every text that is classified, added as an exemplar or served is first normalized:

* lone surrogates (``"\\ud800"``, valid in JSON, not encodable as UTF-8) are replaced by U+FFFD; a high/low pair
  written as two escapes becomes the character it encodes;
* NUL characters are removed;
* the text is put in Unicode NFC form (so composed and decomposed accents are the same prompt).

A text changed by the first two steps carries the flag ``"repaired"`` in its detection; NFC alone is not flagged
(it changes no character's meaning).
"""

from __future__ import annotations

import re
import unicodedata

REPAIRED = "repaired"
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> tuple[str, bool]:
    """``(normalized text, repaired)`` for one string (see the module docstring).

    >>> clean_text("caf\\u0065\\u0301")
    ('café', False)
    >>> clean_text("bad \\ud800 and nul\\x00")
    ('bad \\ufffd and nul', True)
    >>> clean_text("\\ud83d\\ude00")[0] == "\\U0001F600"
    True
    """
    repaired = False
    if "\x00" in text:
        text = text.replace("\x00", "")
        repaired = True
    if not text.isascii():
        if _SURROGATE.search(text):
            text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
            repaired = True
        if not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
    return text, repaired


def clean_json(obj):
    """``obj`` with every string (keys included) passed through :func:`clean_text`, so it always encodes as UTF-8.

    >>> clean_json({"id": "\\udfff", "n": [1, "ok"]})
    {'id': '\ufffd', 'n': [1, 'ok']}
    """
    if isinstance(obj, str):
        return clean_text(obj)[0]
    if isinstance(obj, dict):
        return {clean_json(k): clean_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean_json(v) for v in obj]
    return obj
