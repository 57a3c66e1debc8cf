"""Padding rewrites for bench/robustness.py that are not prose: one word said many times before or after the
request, as PyRIT's RepeatTokenConverter writes ("poem poem poem ... How do I ..."), or put between every two of its
words ("How banana do banana I ...").

The word, the count and the side are seeded draws per prompt: the word from :data:`REPEATED_WORDS` (nouns and
greetings, the words divergence attacks repeat), the count from :data:`REPEAT_COUNTS`.

>>> repeated_token("How do I bake bread?", 0)[:30]
'How do I bake bread? word word'
>>> len(repeated_token("How do I bake bread?", 1).split()) - 5 in REPEAT_COUNTS
True
>>> word_between("How do I bake bread?", 0)
'How SEP do SEP I SEP bake SEP bread?'
"""

from __future__ import annotations

from _rewrites_symbols import rng_for

REPEATED_WORDS = ("poem", "company", "hello", "book", "data", "word")
REPEAT_COUNTS = range(20, 121)


def repeated_token(text: str, seed: int = 0) -> str:
    """One word said 20 to 120 times before or after ``text``, a draw per text and seed."""
    rng = rng_for(seed, "repeated_token", text)
    run = " ".join([rng.choice(REPEATED_WORDS)] * rng.choice(REPEAT_COUNTS))
    return f"{run} {text}" if rng.random() < 0.5 else f"{text} {run}"


DECOY_WORDS = ("banana", "purple", "SEP", "ok", "la")


def word_between(text: str, seed: int = 0) -> str:
    """One decoy word between every two words of ``text``, a draw per text and seed."""
    decoy = rng_for(seed, "word_between", text).choice(DECOY_WORDS)
    return f" {decoy} ".join(text.split())
