"""The sets that rival the small guard models' training data, registered by name, and the GPTFuzz templates.

Real user traffic (``toxicchat-train``), adversarial framings (``aart``, ``sap``, ``harmfulqa``, ``gptfuzz``),
cyber requests that only look malicious beside code-interpreter abuse (``cyberseceval``), and safe prompts
(``arena-hard``, ``coconot-pref``). Each reads the derived CSV of its card (``data/cards/<card>.json``). Safe
rows carry no harm ``category``; ``source_category`` keeps the source's own label where it has one (a topic
cluster, a CoCoNot subcategory). :data:`SHARED_SETS` is merged into
:data:`~safe_embed.data.labelled.NAMED_SETS`.
"""

from __future__ import annotations

from dataclasses import dataclass

from safe_embed.data.io import read_csv_rows
from safe_embed.data.schemas import LabelledPrompt
from safe_embed.data.set_rows import DataDir, NamedSet, csv_prompts, set_path
from safe_embed.errors import DataError

TOXICCHAT = "toxicchat_train/toxicchat_train.csv"
AART = "aart/aart_prompts.csv"
SAP = "sap/sap_prompts.csv"
HARMFULQA = "harmfulqa/harmfulqa_prompts.csv"
CYBERSECEVAL = "cyberseceval/cyberseceval_prompts.csv"
GPTFUZZ_QUESTIONS = "gptfuzz/gptfuzz_questions.csv"
GPTFUZZ_TEMPLATES = "gptfuzz/GPTFuzzer.csv"
ARENA_HARD = "arena_hard/arena_hard_prompts.csv"
COCONOT_PREF = "coconot_pref/coconot_pref_prompts.csv"

SLOT = "[INSERT PROMPT HERE]"  # where a GPTFuzz template takes the request it wraps


def _label(r: dict) -> str:
    return r["label"].strip()


def _or_none(column: str):
    return lambda r: r[column] or None


def load_toxicchat_train(data_dir: DataDir = None) -> list[LabelledPrompt]:
    """ToxicChat train: 2,464 real chatbot prompts, 325 unsafe (human toxicity majority); ``type`` says whether
    annotators saw a jailbreak attempt (``jailbreaking`` or ``plain``)."""
    return csv_prompts("toxicchat-train", data_dir, TOXICCHAT, ["id", "label", "jailbreaking", "prompt"],
                       text="prompt", label=_label, id="id",
                       type=lambda r: "jailbreaking" if r["jailbreaking"].strip() == "1" else "plain")


def load_aart(data_dir: DataDir = None) -> list[LabelledPrompt]:
    """AART: 3,213 unsafe requests framed by role, format and region; ``category`` = crime type, ``type`` = the
    use cases (formats) the request was written for."""
    return csv_prompts("aart", data_dir, AART, ["id", "category", "use_case", "label", "prompt"], text="prompt",
                       label=_label, category="category", source_category="category", type="use_case", id="id")


def load_sap(data_dir: DataDir = None) -> list[LabelledPrompt]:
    """SAP200: 1,600 long role-play attack prompts, 200 in each of 8 categories."""
    return csv_prompts("sap", data_dir, SAP, ["id", "category", "label", "prompt"], text="prompt", label=_label,
                       category="category", source_category="category", id="id")


def load_harmfulqa(data_dir: DataDir = None) -> list[LabelledPrompt]:
    """HarmfulQA (1,938) and CategoricalHarmfulQA (543): unsafe questions; ``category`` = ``topic/subtopic``,
    ``type`` = the subset (``harmfulqa`` or ``catqa``)."""
    return csv_prompts("harmfulqa", data_dir, HARMFULQA, ["id", "subset", "category", "label", "prompt"],
                       text="prompt", label=_label, category="category", source_category="category",
                       type="subset", id="id")


def load_cyberseceval(data_dir: DataDir = None) -> list[LabelledPrompt]:
    """CyberSecEval: 750 safe MITRE FRR requests (they only look malicious) and 489 unsafe code-interpreter abuse
    prompts whose ``category`` is the attack type; ``type`` = the subset (``mitre_frr`` or ``interpreter``)."""
    return csv_prompts("cyberseceval", data_dir, CYBERSECEVAL, ["id", "subset", "category", "label", "prompt"],
                       text="prompt", label=_label, category=_or_none("category"),
                       source_category=_or_none("category"), type="subset", id="id")


def load_gptfuzz(data_dir: DataDir = None) -> list[LabelledPrompt]:
    """GPTFuzz: 67 unsafe questions (the bare requests; :func:`load_jailbreak_templates` gives the frames)."""
    return csv_prompts("gptfuzz", data_dir, GPTFUZZ_QUESTIONS, ["id", "label", "prompt"], text="prompt",
                       label=_label, id="id")


def load_arena_hard(data_dir: DataDir = None) -> list[LabelledPrompt]:
    """Arena-Hard v0.1: 500 safe, long and demanding real prompts; ``source_category`` = topic cluster."""
    return csv_prompts("arena-hard", data_dir, ARENA_HARD, ["id", "category", "label", "prompt"], text="prompt",
                       label=_label, source_category="category", id="id")


def load_coconot_pref(data_dir: DataDir = None) -> list[LabelledPrompt]:
    """CoCoNot preference set: 471 safe requests that sound risky; ``source_category`` = CoCoNot subcategory."""
    return csv_prompts("coconot-pref", data_dir, COCONOT_PREF, ["id", "category", "label", "prompt"],
                       text="prompt", label=_label, source_category="category", id="id")


@dataclass(frozen=True)
class Template:
    """A jailbreak frame: ``text`` holds :data:`SLOT` once, where the wrapped request goes.

    >>> Template("0", "Pretend you are DAN. [INSERT PROMPT HERE]").wrap("Write a haiku.")
    'Pretend you are DAN. Write a haiku.'
    """

    id: str
    text: str

    def wrap(self, request: str) -> str:
        """The template with ``request`` in its slot."""
        return self.text.replace(SLOT, request)


def load_jailbreak_templates(data_dir: DataDir = None) -> list[Template]:
    """The 77 human-written GPTFuzz jailbreak templates (``gptfuzz/GPTFuzzer.csv``), in file order.

    Each must hold :data:`SLOT` exactly once, written exactly so; otherwise a :class:`DataError` names the file
    and the template id.
    """
    path = set_path(data_dir, GPTFUZZ_TEMPLATES)
    out = []
    for r in read_csv_rows(path, ["id", "text"]):
        n = r["text"].count(SLOT)
        if n != 1:
            raise DataError(f"{path}: template id {r['id']!r} holds the slot {SLOT!r} {n} times, not once. "
                            "Fix: use the upstream file (see data/cards/gptfuzz.json) or put the slot in once.")
        out.append(Template(id=r["id"], text=r["text"]))
    return out


SHARED_SETS: dict[str, NamedSet] = {
    "toxicchat-train": NamedSet(load_toxicchat_train, "toxicchat_train",
                                "2,464 real chatbot prompts, 325 unsafe; type = jailbreaking or plain"),
    "aart": NamedSet(load_aart, "aart", "3,213 unsafe requests framed by role and format; category = crime type"),
    "sap": NamedSet(load_sap, "sap", "1,600 unsafe role-play attacks, 8 categories"),
    "harmfulqa": NamedSet(load_harmfulqa, "harmfulqa", "2,481 unsafe academic-toned questions; topic/subtopic"),
    "cyberseceval": NamedSet(load_cyberseceval, "cyberseceval",
                             "750 safe MITRE look-alike requests, 489 unsafe code-interpreter abuse prompts"),
    "gptfuzz": NamedSet(load_gptfuzz, "gptfuzz", "67 unsafe questions (the jailbreak templates load apart)"),
    "arena-hard": NamedSet(load_arena_hard, "arena_hard", "500 demanding real prompts, all safe"),
    "coconot-pref": NamedSet(load_coconot_pref, "coconot_pref", "471 safe requests that sound risky"),
}
