"""Build a Safety-Contrast set: ask an OpenAI-compatible chat model for minimal safe edits of unsafe prompts.

The prompt is the paper's template (Safe-Embed ``Safety_Contrast/gpt_templates.yaml``, template 1 "safe contrast")
with the violated category and its one-line explanation (the 12 Do-Not-Answer policies below; other categories use
a user map or the category name itself). Output: JSONL with the columns of ``contrast_parsed.jsonl`` (``id``,
``category``, ``original_prompt``, ``prompt_#1`` .. ``prompt_#5``), appended row by row so an interrupted run resumes
without repeating finished rows. Rows whose reply cannot be repaired are listed in ``<out>.skipped.jsonl``.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from safe_embed.data.contrast_parse import ContrastParseError, parse_edits
from safe_embed.data.schemas import LabelledPrompt
from safe_embed.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

__all__ = ["DO_NOT_ANSWER_POLICIES", "TEMPLATE", "ContrastGenerator", "ContrastParseError", "ContrastRunReport",
           "ContrastSource", "SkippedRow", "build_prompt", "contrast_sources", "finished_ids", "load_explanations",
           "parse_edits"]

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

UNCATEGORIZED = "Unsafe request"


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


@dataclass(frozen=True)
class ContrastSource:
    """One unsafe prompt to edit; ``id`` is the output row id (an int, as in ``contrast_parsed.jsonl``)."""

    id: int
    category: str
    text: str
    source_id: str | None = None


def contrast_sources(prompts: Sequence[LabelledPrompt]) -> list[ContrastSource]:
    """The unsafe prompts of a labelled set, with stable integer ids (the set's own ids when they are integers)."""
    unsafe = [p for p in prompts if p.label == "unsafe"]
    if not unsafe:
        raise DataError("the input holds no prompt labelled 'unsafe'. Fix: give a labelled set with unsafe prompts.")
    own = [p.id for p in unsafe]
    use_own = all(i is not None and re.fullmatch(r"-?\d+", i.strip()) for i in own) and len(set(own)) == len(own)
    out = []
    for j, p in enumerate(unsafe):
        rid = int(p.id) if use_own else j  # type: ignore[arg-type]
        out.append(ContrastSource(rid, p.category or p.type or UNCATEGORIZED, p.text,
                                  None if use_own or p.id is None else p.id))
    return out


@dataclass(frozen=True)
class SkippedRow:
    id: int
    reason: str


@dataclass
class ContrastRunReport:
    """What a run did: rows written now, rows found already done, rows skipped (with reasons), API calls made."""

    out: Path
    written: int = 0
    already_done: int = 0
    requests: int = 0
    skipped: list[SkippedRow] = field(default_factory=list)

    @property
    def skipped_path(self) -> Path:
        return skipped_path(self.out)


def skipped_path(out: Path) -> Path:
    return out.with_name(out.name + ".skipped.jsonl")


def finished_ids(out: Path) -> set[int]:
    """Ids already written to ``out``; a last line cut off by an interruption is removed from the file."""
    if not out.is_file():
        return set()
    raw = out.read_bytes()
    lines = raw.splitlines(keepends=True)
    done: set[int] = set()
    offset = 0
    for i, line in enumerate(lines):
        if line.strip():
            try:
                done.add(int(json.loads(line)["id"]))
            except (ValueError, KeyError, TypeError):
                if any(rest.strip() for rest in lines[i + 1:]):
                    raise DataError(f"{out}:{i + 1}: not a valid contrast row. Fix: delete that line (or the file) "
                                    "and rerun; finished rows are kept.") from None
                logger.warning("%s: dropping a last line cut off by an interruption", out)
                with open(out, "r+b") as f:
                    f.truncate(offset)
                return done
        offset += len(line)
    if raw and not raw.endswith(b"\n"):
        with open(out, "ab") as f:
            f.write(b"\n")
    return done


class ContrastGenerator:
    """Ask a chat model for ``n_edits`` minimally edited safe versions of each unsafe prompt.

    Example (needs ``OPENAI_API_KEY``, optionally ``OPENAI_BASE_URL``)::

        gen = ContrastGenerator(model="gpt-4o")
        report = gen.run(contrast_sources(load_labelled("do-not-answer")), Path("contrast.jsonl"))
    """

    def __init__(self, model: str = "gpt-4o", n_edits: int = 5, temperature: float = 0.0,
                 explanations: dict[str, str] | None = None, api_key: str | None = None,
                 base_url: str | None = None, max_attempts: int = 3, max_retries: int = 6,
                 backoff_base: float = 1.0, backoff_max: float = 60.0, timeout: float = 120.0,
                 seed: int | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        from safe_embed.openai_client import make_client

        if n_edits < 1:
            raise ConfigError(f"n_edits={n_edits} must be at least 1.")
        if max_attempts < 1:
            raise ConfigError(f"max_attempts={max_attempts} must be at least 1.")
        self.model = model
        self.n_edits = n_edits
        self.temperature = temperature
        self.explanations = {**DO_NOT_ANSWER_POLICIES, **(explanations or {})}
        self.max_attempts = max_attempts
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.seed = seed
        self.sleep = sleep
        self.requests = 0
        self._count_lock = threading.Lock()
        self._client = make_client(api_key, base_url, timeout)

    def explanation(self, category: str) -> str:
        return self.explanations.get(category, category)

    def _ask(self, prompt: str) -> str:
        from safe_embed.openai_client import TransientAPIError, call_with_retry

        def call() -> str:
            with self._count_lock:
                self.requests += 1
            kwargs = {"model": self.model, "temperature": self.temperature,
                      "messages": [{"role": "user", "content": prompt}]}
            if self.seed is not None:
                kwargs["seed"] = self.seed
            resp = self._client.chat.completions.create(**kwargs)
            try:
                content = resp.choices[0].message.content
            except (AttributeError, IndexError, TypeError):
                raise TransientAPIError("malformed chat reply (no choices[0].message.content)") from None
            return content or ""

        return call_with_retry(call, f"chat request to {self.model}", self.max_retries, self.backoff_base,
                               self.backoff_max, self.sleep)

    def generate(self, text: str, category: str) -> list[str]:
        """The edits for one prompt; retries unusable replies up to ``max_attempts`` times."""
        prompt = build_prompt(text, category, self.explanation(category), self.n_edits)
        last = ""
        for attempt in range(1, self.max_attempts + 1):
            reply = self._ask(prompt)
            try:
                return parse_edits(reply, self.n_edits, original=text)
            except ContrastParseError as e:
                last = str(e)
                logger.warning("unusable reply (attempt %d/%d): %s", attempt, self.max_attempts, e)
        raise ContrastParseError(last)

    def _attempt(self, s: ContrastSource) -> tuple[ContrastSource, list[str] | None, str | None]:
        try:
            return s, self.generate(s.text, s.category), None
        except ContrastParseError as e:
            return s, None, str(e)

    def run(self, sources: Sequence[ContrastSource], out: str | Path, limit: int | None = None,
            workers: int = 1, show_progress: bool = True) -> ContrastRunReport:
        """Generate rows for ``sources`` not yet in ``out``, appending each finished row at once (resumable).

        ``workers`` > 1 sends that many requests at a time; rows are still written in input order.
        """
        from concurrent.futures import ThreadPoolExecutor

        from tqdm.auto import tqdm

        if workers < 1:
            raise ConfigError(f"workers={workers} must be at least 1.")
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        done = finished_ids(out)
        report = ContrastRunReport(out=out, already_done=sum(s.id in done for s in sources))
        todo = [s for s in sources if s.id not in done][:limit]
        start_requests = self.requests
        pool = ThreadPoolExecutor(workers) if workers > 1 else None
        try:
            results = pool.map(self._attempt, todo) if pool else map(self._attempt, todo)
            with open(out, "a", encoding="utf-8") as f:
                for s, edits, reason in tqdm(results, total=len(todo), desc="make-contrast",
                                             disable=not show_progress):
                    if edits is None:
                        report.skipped.append(SkippedRow(s.id, reason or "unusable reply"))
                        continue
                    row: dict = {"id": s.id, "category": s.category, "original_prompt": s.text}
                    row.update({f"prompt_#{i}": e for i, e in enumerate(edits, 1)})
                    if s.source_id is not None:
                        row["source_id"] = s.source_id
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
                    f.flush()
                    report.written += 1
        finally:
            if pool:
                pool.shutdown(wait=True, cancel_futures=True)
            report.requests = self.requests - start_requests
            _write_skipped(report, {s.id: s for s in sources})
        return report


def _write_skipped(report: ContrastRunReport, by_id: dict[int, ContrastSource]) -> None:
    path = report.skipped_path
    if not report.skipped:
        if path.is_file():
            path.unlink()
        return
    with open(path, "w", encoding="utf-8") as f:
        for r in report.skipped:
            s = by_id[r.id]
            f.write(json.dumps({"id": r.id, "category": s.category, "original_prompt": s.text, "reason": r.reason},
                               ensure_ascii=False) + "\n")
