"""Safe stretches of long ordinary text, as a detector reading a long prompt in windows sees them.

A detector scores a long prompt window by window and sentence by sentence, so every stretch of a long benign
document is scored on its own, out of context: a list of steps from a recipe, a paragraph of instructions, a
clause of a story. An encoder trained on whole prompts has seen few such pieces, and it reads an imperative stretch
of ordinary prose ("Step 1: Put away all the dishes.") the way it reads a request. Padded with a thousand tokens of
prose, a safe prompt gets eight such chances to be flagged. ``prose-windows`` is a generated source of these pieces,
all safe:

* a window: a 40-110 word stretch from a random word, as a detector window cuts it (:data:`WINDOW_WORDS`);
* or, for :data:`SENTENCE_SHARE` of the rows, one or two whole sentences, as the detector's sentence units read
  them.

Half the pieces (:data:`LONG_SHARE`, when there are any) are cut from the mix's own long safe prompts (at least
:data:`MIN_LONG_WORDS` words: Arena-Hard's documents and code, real chatbot traffic, role-play set-ups with a
harmless ask), the rest from ordinary prose: Alpaca's answers to the mix's Alpaca instructions, several run
together as one document. Pieces are cut from train-split texts only and sit in the train split: they teach the
encoder and become safe exemplars, while calibration and the val measures keep reading whole prompts.

>>> import random
>>> doc = "Preheat the oven. Mix the flour and the eggs. Bake for an hour. Let it cool before you slice it."
>>> piece(doc, random.Random(4), sentence=True)
'Mix the flour and the eggs. Bake for an hour.'
>>> len(piece(" ".join(["word"] * 300), random.Random(0)).split()) in range(40, 111)
True
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from safe_embed.data.frames import prose_paragraphs
from safe_embed.data.schemas import LabelledPrompt
from safe_embed.data.sources import SourceSpec
from safe_embed.data.splits import recorded_elsewhere, text_key
from safe_embed.sentences import sentence_bounds

WINDOW_WORDS = (40, 110)  # about one detector window
SENTENCE_SHARE = 0.3  # of the pieces that are one or two whole sentences rather than a window
LONG_SHARE = 0.5  # of the pieces cut from the mix's long safe prompts (when it has some) rather than from prose
MIN_LONG_WORDS = 80  # a safe prompt at least this long is a document a window cuts
MIN_SENTENCE_WORDS = 4  # a shorter sentence ("Step 1.") is not read alone
DOCUMENT_WORDS = 400  # prose paragraphs are run together until a document this long
DEFAULT_ROWS = 1200  # pieces when the source gives no ``sample``


def piece(text: str, rng: random.Random, sentence: bool = False) -> str:
    """A stretch of ``text``: one or two of its whole sentences of at least :data:`MIN_SENTENCE_WORDS` words
    (``sentence``; a window when it has none), or a :data:`WINDOW_WORDS` stretch from a random word (the whole
    text when it is shorter)."""
    if sentence:
        spans = [(a, b) for a, b in sentence_bounds(text) if len(text[a:b].split()) >= MIN_SENTENCE_WORDS]
        if spans:
            i = rng.randrange(len(spans))
            j = min(len(spans), i + rng.randint(1, 2))
            return " ".join(text[a:b].strip() for a, b in spans[i:j])
    words = text.split()
    k = rng.randint(*WINDOW_WORDS)
    start = rng.randint(0, max(0, len(words) - k))
    return " ".join(words[start:start + k])


def document(prose: Sequence[str], rng: random.Random) -> str:
    """Paragraphs of ``prose`` drawn in turn and run together, about :data:`DOCUMENT_WORDS` words: a long
    document of unrelated ordinary text."""
    out: list[str] = []
    words = 0
    while words < DOCUMENT_WORDS:
        out.append(rng.choice(prose))
        words += len(out[-1].split())
    return " ".join(out)


def prose_window_rows(rows: Sequence[LabelledPrompt], src: SourceSpec, seed: int, protected: set[str],
                      recorded: tuple[set[str], dict[str, str]] | None = None,
                      answers: Mapping[str, str] | None = None) -> list[LabelledPrompt]:
    """``src.sample`` safe pieces (default :data:`DEFAULT_ROWS`) of the train split's long safe ``rows`` and of
    its Alpaca rows' ``answers`` (Alpaca's answers by row id), distinct, each in the train split. A piece whose text
    key is ``protected`` (test or held-out texts), or that a run's ``recorded`` splits put elsewhere, is left
    out; [] when the train split has neither kind of text."""
    rng = random.Random(f"{seed}:{src.key}")
    train = [r for r in rows if r.split == "train" and r.label == "safe"]
    long = [r.text for r in train if len(r.text.split()) >= MIN_LONG_WORDS]
    prose = prose_paragraphs(train, answers)
    if not long and not prose:
        return []
    want = src.sample or DEFAULT_ROWS
    out: list[LabelledPrompt] = []
    seen: set[str] = set()
    for _ in range(4 * want):  # a few draws give a piece already drawn or protected
        if len(out) >= want:
            break
        from_long = bool(long) and (not prose or rng.random() < LONG_SHARE)
        text = rng.choice(long) if from_long else document(prose, rng)
        cut = piece(text, rng, sentence=rng.random() < SENTENCE_SHARE)
        key = text_key(cut)
        if not key or key in seen or key in protected or recorded_elsewhere(cut, "train", recorded):
            continue
        seen.add(key)
        out.append(LabelledPrompt(text=cut, label="safe", type=f"{src.key}:{'prompt' if from_long else 'prose'}",
                                  id=f"{src.key}:{len(out)}", source=src.key, weight=float(src.weight),
                                  split="train"))
    return out
