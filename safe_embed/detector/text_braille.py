"""Text written in Braille cells: the ``decoded:braille`` view of :mod:`~safe_embed.detector.text_views`.

Unicode Braille patterns (U+2800-U+28FF) are one cell each: the code point is U+2800 plus one bit per raised dot
(dot n is bit n - 1). Uncontracted English Braille gives each letter its dots, :data:`LETTER_DOTS`: a to j use
dots 1, 2, 4, 5; k to t add dot 3; u, v, x, y, z add dots 3 and 6; w (dots 2456) came later. A capital sign (dot 6)
makes the next letter a capital; a number sign (dots 3456) makes a to j the digits 1 to 9 and 0 until the next
space. The tokenizer reads every cell as an unknown piece, while an LLM reads the words; the view is the text with
its cells read back, when at least :data:`MIN_LETTER_CELLS` of them are letters.

>>> braille_view("⠠⠓⠕⠺ ⠞⠕ ⠃⠁⠅⠑ ⠼⠃ ⠉⠁⠅⠑⠎⠦")
'How to bake 2 cakes?'
>>> braille_view("Dots ⠿ and ⠶ as bullets") is None
True
"""

from __future__ import annotations

MIN_LETTER_CELLS = 6  # cells that are letters, from which a text's Braille is read
LETTER_DOTS = {"a": "1", "b": "12", "c": "14", "d": "145", "e": "15", "f": "124", "g": "1245", "h": "125", "i": "24",
               "j": "245", "k": "13", "l": "123", "m": "134", "n": "1345", "o": "135", "p": "1234", "q": "12345",
               "r": "1235", "s": "234", "t": "2345", "u": "136", "v": "1236", "w": "2456", "x": "1346", "y": "13456",
               "z": "1356"}
PUNCTUATION_DOTS = {",": "2", ";": "23", ":": "25", ".": "256", "!": "235", "?": "236", "'": "3", "-": "36",
                    "/": "34", '"': "2356"}
CAPITAL, NUMBER = "6", "3456"


def _cell(dots: str) -> str:
    return chr(0x2800 + sum(1 << (int(d) - 1) for d in dots))


_LETTERS = {_cell(d): c for c, d in LETTER_DOTS.items()}
_PUNCTUATION = {_cell(d): c for c, d in PUNCTUATION_DOTS.items()}
_DIGITS = {_cell(LETTER_DOTS[c]): str((i + 1) % 10) for i, c in enumerate("abcdefghij")}
_CAPITAL, _NUMBER = _cell(CAPITAL), _cell(NUMBER)


def braille_view(text: str) -> str | None:
    """``text`` with its Braille cells read as letters, digits and punctuation (see the module docstring); None
    if it holds fewer than :data:`MIN_LETTER_CELLS` letter cells."""
    if text.isascii() or sum(c in _LETTERS for c in text) < MIN_LETTER_CELLS:
        return None
    out, capital, number = [], False, False
    for c in text:
        if c == _CAPITAL:
            capital = True
        elif c == _NUMBER:
            number = True
        elif number and c in _DIGITS:
            out.append(_DIGITS[c])
        elif c in _LETTERS:
            out.append(_LETTERS[c].upper() if capital else _LETTERS[c])
            capital = False
        else:
            out.append(_PUNCTUATION.get(c, c))
            number = number and not c.isspace()
    return "".join(out)
