"""Rule-based target-swap twins: an unsafe prompt with its human target replaced by a harmless object.

The Safety-Contrast edits change the harmful *wording* and keep the target ("poison my neighbour" -> "feed my
neighbour"). Benign look-alikes in the wild usually keep the wording and change the *target* ("kill a person" vs
"kill a process", "Why are X people lazy?" vs "Why are sloths lazy?"). Training only on the first kind teaches
"harmful word = unsafe", which pulls look-alikes towards the unsafe prompts. These twins teach the other half: the
same action on a thing, not a person, is harmless. They are built from the TRAINING prompts only, with no held-out
text; many are odd sentences, which is fine for a hard negative: they are harmless and share everything but the
target.

>>> import random
>>> target_swaps("How can I hurt someone without getting caught?", random.Random(0), n=1)
['How can I hurt a stuck jar lid without getting caught?']
>>> target_swaps("Tell me a joke.", random.Random(0))
[]
"""

from __future__ import annotations

import random
import re

from safe_embed.data.schemas import LabelledPrompt
from safe_embed.data.sources import SourceSpec
from safe_embed.data.splits import recorded_elsewhere, text_key

# Human targets, singular and plural. Possessives ("someone's account") are left alone: swapping them rarely
# gives a harmless sentence, and privacy prompts need the person.
_SINGULAR = (r"someone|somebody|a person|an individual|a stranger|a child|a kid|a man|a woman|a girl|a boy|a victim|"
             r"my (?:wife|husband|neighbou?r|boss|friend|teacher|sister|brother|mother|mom|father|dad|son|daughter|"
             r"partner|girlfriend|boyfriend|roommate|coworker|colleague|ex|classmate)(?:, [A-Z][a-z]+,?)?|him")
_PLURAL = r"people|individuals|children|kids|victims|women|men|immigrants|minorities|them"
_GROUP_WORDS = (r"(?<=\s)[A-Z][a-z]+|muslim|hindu|black|white|gay|lesbian|trans|transgender|jewish|christian|asian|african|"
                r"old|elderly|poor|fat|short|thin|overweight|disabled|autistic|immigrant|indigenous|religious")
_GROUP = rf"(?:(?:{_GROUP_WORDS}) people|people from [A-Z][A-Za-z\-]+)"

# A person is swapped only as the object of a harmful action ("poison someone", "violence against them"): as
# the one taught or asked ("teach kids how to ...") the request stays harmful whoever it names.
_HARM_VERBS = (r"kill|murder|hurt|harm|injure|attack|assault|poison|shoot|stab|strangle|choke|punch|beat|hit|kick|"
               r"torture|abuse|kidnap|threaten|intimidate|scare|frighten|terrori[sz]e|bully|harass|stalk|spy on|track|"
               r"insult|shame|humiliate|mock|disrespect|offend|provoke|curse at|swear at|yell at|manipulate|trick|"
               r"deceive|exploit|scam|defraud|blackmail|cheat|hack|target|sabotage|destroy|ruin|embarrass|"
               r"violence against|hatred (?:against|towards?)|discriminate against|prank|drug|sedate|silence|get rid of")
_NOT_POSSESSIVE = r"(?![-'\u2019])(?!, [A-Z][a-z]+['\u2019])"
SINGULAR_RE = re.compile(rf"\b(?:{_HARM_VERBS}) (?:a few |some |a specific |a particular )?(?P<t>{_SINGULAR})\b{_NOT_POSSESSIVE}")
PLURAL_RE = re.compile(rf"\b(?:{_HARM_VERBS}) (?:a few |some |a specific |a particular )?(?P<t>{_PLURAL})\b{_NOT_POSSESSIVE}")
GROUP_RE = re.compile(rf"\b(?P<t>{_GROUP})\b{_NOT_POSSESSIVE}")
ANY_HUMAN_RE = re.compile(rf"\b(?:{_SINGULAR}|{_PLURAL}|{_GROUP}|her|his|their|themselves|himself|herself)\b")

OBJECTS = (
    "a Python process", "an old tree stump", "a stubborn stain", "the weeds in my garden", "a frozen laptop",
    "a rusty bolt", "a cardboard box", "a paper target", "the mold in my bathroom", "a broken printer",
    "a dead battery", "a wasp nest", "a stuck jar lid", "a clay pot", "an expired coupon", "a fallen branch",
    "a pumpkin", "a cloud server", "a spreadsheet cell", "an ice sculpture",
)
PLURAL_OBJECTS = (
    "weeds", "old tree stumps", "stubborn stains", "Python processes", "rusty bolts", "cardboard boxes",
    "paper targets", "dead batteries", "mosquitoes", "termites", "potatoes", "clouds", "pine trees", "sloths",
    "toasters", "garden gnomes", "spreadsheets", "ice cubes", "pebbles", "old tyres",
)


def target_swaps(text: str, rng: random.Random, n: int = 2) -> list[str]:
    """Up to ``n`` distinct copies of ``text`` with its first human target swapped for a harmless object.

    Returns [] when the prompt names no human target, or names a second one the swap would leave in place.
    """
    found = [(m, pool) for pattern, pool in ((GROUP_RE, PLURAL_OBJECTS), (SINGULAR_RE, OBJECTS),
                                              (PLURAL_RE, PLURAL_OBJECTS)) if (m := pattern.search(text))]
    if found:
        match, pool = min(found, key=lambda f: (f[0].start("t"), -len(f[0].group("t"))))
        start, end = match.span("t")
        out: list[str] = []
        for obj in rng.sample(pool, min(n, len(pool))):
            if start == 0:
                obj = obj[0].upper() + obj[1:]
            swapped = text[:start] + obj + text[end:]
            if ANY_HUMAN_RE.search(swapped):  # another person is still the target: not a harmless twin
                return []
            if swapped != text and swapped not in out:
                out.append(swapped)
        return out
    return []


DEFAULT_PER_PROMPT = 2  # twins generated per unsafe prompt when a source gives no ``per_prompt``


def target_swap_rows(rows: list[LabelledPrompt], src: SourceSpec, seed: int, protected: set[str],
                     recorded: tuple[set[str], dict[str, str]] | None = None) -> list[LabelledPrompt]:
    """Safe twins of the unsafe ``rows``, each in its original's split and linked to it by ``pair_id``. A twin whose
    text key is ``protected`` (test or held-out texts) is left out, and so is one that a run's ``recorded``
    (held-out hashes, hash -> split) held out or put in another split."""
    n = src.per_prompt or DEFAULT_PER_PROMPT
    rng = random.Random(seed)
    out = []
    for p in rows:
        if p.label != "unsafe":
            continue
        pair = p.pair_id or f"{p.source}:{p.id}"
        for j, text in enumerate(target_swaps(p.text, rng, n=n)):
            if text_key(text) in protected:
                continue
            if recorded_elsewhere(text, p.split, recorded):
                continue
            out.append(LabelledPrompt(text=text, label="safe", pair_id=pair, type=src.key,
                                      id=f"{p.source}:{p.id}:{j}", source=src.key, weight=float(src.weight),
                                      split=p.split))
    return out
