"""Build a Safety-Contrast set: ask an OpenAI-compatible chat model for minimal safe edits of unsafe prompts.

The request is the paper's template (:mod:`safe_embed.data.contrast_prompt`), the reply is parsed and repaired by
:mod:`safe_embed.data.contrast_parse`, and each finished row is appended to a JSONL file with the columns of
``contrast_parsed.jsonl``, so an interrupted run resumes without repeating finished rows; rows whose reply cannot be
repaired are listed in ``<out>.skipped.jsonl`` (:mod:`safe_embed.data.contrast_rows`). The public names of those
modules are importable from here.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from safe_embed.data.contrast_parse import ContrastParseError, parse_edits
from safe_embed.data.contrast_prompt import DO_NOT_ANSWER_POLICIES, TEMPLATE, build_prompt, load_explanations
from safe_embed.data.contrast_rows import (
    ContrastRunReport,
    ContrastSource,
    SkippedRow,
    contrast_row,
    contrast_sources,
    finished_ids,
    write_skipped,
)
from safe_embed.errors import ConfigError

logger = logging.getLogger(__name__)

__all__ = ["DO_NOT_ANSWER_POLICIES", "TEMPLATE", "ContrastGenerator", "ContrastParseError", "ContrastRunReport",
           "ContrastSource", "SkippedRow", "build_prompt", "contrast_sources", "finished_ids", "load_explanations",
           "parse_edits"]


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
                    f.write(json.dumps(contrast_row(s, edits), ensure_ascii=False) + "\n")
                    f.flush()
                    report.written += 1
        finally:
            if pool:
                pool.shutdown(wait=True, cancel_futures=True)
            report.requests = self.requests - start_requests
            write_skipped(report, {s.id: s for s in sources})
        return report
