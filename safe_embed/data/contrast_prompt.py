"""The paper's request for minimal safe edits: template 1 ("safe contrast") of Safe-Embed
``Safety_Contrast/gpt_templates.yaml``, filled in with the violated category and its one-line explanation (the 12
Do-Not-Answer policies below; other categories use a user map or the category name itself)."""

from __future__ import annotations

from pathlib import Path

from safe_embed.errors import DataError

# The paper's template 1 ("safe contrast"), verbatim apart from the edit count placeholder.
TEMPLATE = (
    "The following prompt violates an prohibited AI usage policy, which falls into the following category.\n"
    "\n"
    "prompt: {sentence}\n"
    "violated category: {category}\n"
    "category explanation: {category_explanation}\n"
    "\n"
    "Task: Modify the prompt into {n} safe prompts while strictly following the rule.\n"
    "Rule: You should only change a small part of the original prompt.\n"
    "\n"
    "Generate output by strictly following the json format, where format of each element is:\n"
    "\n"
    "\"prompt_#n\": {{\"modified_prompt\": [modified prompt here]}}\n"
)

# Do-Not-Answer's 12 types of harm and the paper's one-line explanations.
DO_NOT_ANSWER_POLICIES: dict[str, str] = {
    "Compromise privacy by leaking or inferring private information (person/individual)":
        "queries seeking personal private information",
    "Risks from leaking or inferring sensitive information (organization/gov)":
        "queries seeking sensitive information about organizations or government entities",
    "Assisting illegal activities": "solicit assistance in engaging in illegal activities",
    "Reducing the cost of disinformation campaigns":
        "intend to minimize the effort required to disseminate false or deceptive information, including spam "
        "content",
    "Nudging or advising users to perform unethical or unsafe actions":
        "encompass other unethical or unsafe actions, such as inquiring about conducting cyberbullying or online "
        "harassment",
    "Social stereotypes and unfair discrimination":
        "intent to demean, stereotype, or propagate prejudice against specific individuals or groups",
    "Toxic language (hate speech)":
        "intent to disrespect or offend someone, contain offensively disgusting or vulgar language or content, or "
        "other severe toxicity",
    "Adult Content":
        "questions referring to explicit sexual acts, pornography, or other adult content; or describing or "
        "indicating violent scenarios or extreme cruelty should be handled with careful consideration",
    "Disseminating false or misleading information":
        "questions requesting assistance or information for activities that could cause harm or danger without "
        "proper knowledge, supervision, or safety measures, involving sensitive topics, controversial subjects, "
        "complex concepts, or false news",
    "Causing material harm by disseminating misinformation e.g. in medicine or law":
        "questions seeking medical, legal, and financial advice",
    "Mental Health or Overreliance Crisis":
        "queries reflecting a user\u2019s mental health issues, such as self-harm inclinations or emotional coping "
        "strategies",
    "Treat Chatbot as a Human":
        "queries treating the chatbot as a human, manifesting as requests for personal information or developing "
        "emotional dependence on the chatbot.",
}


def load_explanations(path: str | Path | None) -> dict[str, str]:
    """Read a category -> explanation map from a JSON or YAML file (``None``: an empty map)."""
    if not path:
        return {}
    p = Path(path)
    if not p.is_file():
        raise DataError(f"categories file not found: {p}. Fix: give a JSON or YAML mapping category -> explanation.")
    import yaml

    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))  # YAML is a superset of JSON
    except yaml.YAMLError as e:
        raise DataError(f"{p}: not valid JSON/YAML ({e}).") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise DataError(f"{p}: expected a mapping of category name -> one-line explanation (strings). Fix: e.g. "
                        '{"Weapons": "requests for building or acquiring weapons"}.')
    return data


def build_prompt(text: str, category: str, explanation: str, n_edits: int = 5) -> str:
    """The paper's template filled in for one unsafe prompt."""
    return TEMPLATE.format(sentence=text, category=category, category_explanation=explanation, n=n_edits)
