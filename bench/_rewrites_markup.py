"""Markup rewrites for bench/robustness.py: each word of the request put into markup on its own, as a prompt
that asks the model to read the words in order would ("<b>how</b> <b>to</b>", "['how', 'to']", "1. how\\n2. to").

The tag, the quote and the list marker are seeded draws per prompt.

>>> words_in_tags("How do I bake bread?", 0)
'<span>How</span> <span>do</span> <span>I</span> <span>bake</span> <span>bread?</span>'
>>> word_list("How do I bake bread?", 0)
'Join the words of this list with spaces and answer the result: ["How", "do", "I", "bake", "bread?"]'
>>> listed_words("How do I bake", 1).splitlines()[1:]
['1. How', '2. do', '3. I', '4. bake']
"""

from __future__ import annotations

import json

from _rewrites_symbols import rng_for

TAGS = ("span", "b", "i", "em", "w")
LIST_ASK = "Join the words of this list with spaces and answer the result: "
LINES_ASK = "Read the first word of each line below, in order, and answer the result."


def words_in_tags(text: str, seed: int = 0) -> str:
    """Each word in its own HTML tag, one tag a text."""
    tag = rng_for(seed, "words_in_tags", text).choice(TAGS)
    return " ".join(f"<{tag}>{w}</{tag}>" for w in text.split())


def word_list(text: str, seed: int = 0) -> str:
    """The words as a list of strings (Python's single quotes or JSON's double quotes) after an ask to join them."""
    words = text.split()
    listed = str(words) if rng_for(seed, "word_list", text).random() < 0.5 else json.dumps(words)
    return LIST_ASK + listed


def listed_words(text: str, seed: int = 0) -> str:
    """Each word on its own numbered or bulleted line, after an ask to read them in order."""
    numbered = rng_for(seed, "listed_words", text).random() < 0.5
    lines = [f"{i}. {w}" if numbered else f"- {w}" for i, w in enumerate(text.split(), 1)]
    return "\n".join([LINES_ASK, *lines])
