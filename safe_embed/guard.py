"""Guardrail helpers: check prompts before they reach an LLM, in-process or through the HTTP service.

In-process, with a detector directory::

    from safe_embed.detector import Detector
    from safe_embed.guard import guard, UnsafePromptError

    det = Detector.load("my_detector")

    @guard(det)                       # checks the first argument (a string or a list of chat messages)
    def ask_llm(prompt: str) -> str:
        return client.chat.completions.create(model="...", messages=[{"role": "user", "content": prompt}])

    try:
        ask_llm("How do I kill a Python process?")
    except UnsafePromptError as e:
        print("blocked:", e.detection.category, e.detection.score)

Against a running ``safe-embed serve`` (same decorator, the client has the detector's ``classify``)::

    from safe_embed.guard import GuardClient
    guard_client = GuardClient("http://127.0.0.1:8000")
    if guard_client.check("some prompt").label == "unsafe": ...
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol, Self

from safe_embed.errors import SafeEmbedError

logger = logging.getLogger(__name__)


class Classifier(Protocol):
    """Anything with the detector's ``classify(texts) -> list[Detection]``: a Detector or a GuardClient."""

    def classify(self, texts: Sequence[str]) -> list: ...


class UnsafePromptError(SafeEmbedError):
    """Raised by :func:`guard` when a prompt is classified unsafe; ``detection`` holds the verdict."""

    def __init__(self, text: str, detection) -> None:
        cat = f" ({detection.category})" if detection.category else ""
        super().__init__(f"prompt blocked as unsafe{cat}, score {detection.score:.3f}: {text[:80]!r}")
        self.text = text
        self.detection = detection


class GuardServiceError(SafeEmbedError):
    """The guardrail service answered with an error, or could not be reached."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def prompt_texts(value: Any) -> list[str]:
    """The texts to check in an LLM call's prompt argument: a string, a list of strings, or chat messages
    (``[{"role": "user", "content": ...}]``; user messages only, text parts of multimodal content included)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = [value]
    if isinstance(value, Sequence):
        out = []
        for m in value:
            if isinstance(m, str):
                out.append(m)
            elif isinstance(m, dict) and m.get("role", "user") == "user":
                c = m.get("content")
                if isinstance(c, str):
                    out.append(c)
                elif isinstance(c, list):
                    out.extend(p["text"] for p in c if isinstance(p, dict) and isinstance(p.get("text"), str))
        return out
    raise TypeError(f"cannot find prompt text in a {type(value).__name__}. Fix: pass a string, a list of strings "
                    "or chat messages, or give guard(prompt_arg=...) the right argument.")


def check(classifier: Classifier, prompt: Any):
    """Classify every text in ``prompt`` (see :func:`prompt_texts`); return the first unsafe detection, or the
    most unsafe-looking one when all are safe (None for an empty prompt).

    >>> # check(det, "How do I kill a Python process?").label  -> 'safe'
    """
    texts = prompt_texts(prompt)
    if not texts:
        return None
    detections = classifier.classify(texts)
    unsafe = [d for d in detections if d.label == "unsafe"]
    return unsafe[0] if unsafe else max(detections, key=lambda d: d.score)


def _verdict(texts: list[str], detections: list, on_unsafe: Callable | None):
    for t, d in zip(texts, detections, strict=True):
        if d.label == "unsafe":
            if on_unsafe is None:
                raise UnsafePromptError(t, d)
            return True, on_unsafe(d)
    return False, None


def guard(classifier: Classifier, prompt_arg: str | int = 0, on_unsafe: Callable | None = None,
          fail_open: bool = False) -> Callable:
    """Decorate an LLM call (sync or async) so its prompt is checked first.

    ``prompt_arg``: the parameter holding the prompt (name or position; a string, strings or chat messages).
    ``on_unsafe(detection)``: what to return instead of calling the LLM (default: raise
    :class:`UnsafePromptError`). ``fail_open``: if the classifier itself fails (e.g. the service is down), log and
    call the LLM anyway instead of raising.

    >>> # @guard(det, prompt_arg="messages", on_unsafe=lambda d: "Sorry, I can't help with that.")
    >>> # def chat(messages): ...
    """

    def decorate(fn: Callable) -> Callable:
        sig = inspect.signature(fn)

        def find_prompt(args, kwargs) -> list[str]:
            bound = sig.bind_partial(*args, **kwargs)
            if isinstance(prompt_arg, int):
                if prompt_arg >= len(args):
                    raise TypeError(f"{fn.__name__}() got no positional argument #{prompt_arg} to check. "
                                    "Fix: pass the prompt positionally or give guard(prompt_arg=NAME).")
                return prompt_texts(args[prompt_arg])
            if prompt_arg not in bound.arguments:
                raise TypeError(f"{fn.__name__}() got no argument {prompt_arg!r} to check.")
            return prompt_texts(bound.arguments[prompt_arg])

        def classify_or_fail(texts: list[str]) -> list | None:
            try:
                return classifier.classify(texts)
            except Exception as e:
                if not fail_open:
                    raise
                logger.warning("guardrail check failed (%s); calling %s unchecked (fail_open)", e, fn.__name__)
                return None

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def awrapper(*args, **kwargs):
                texts = find_prompt(args, kwargs)
                if texts:
                    dets = await asyncio.to_thread(classify_or_fail, texts)
                    if dets is not None:
                        blocked, value = _verdict(texts, dets, on_unsafe)
                        if blocked:
                            return value
                return await fn(*args, **kwargs)
            return awrapper

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            texts = find_prompt(args, kwargs)
            if texts:
                dets = classify_or_fail(texts)
                if dets is not None:
                    blocked, value = _verdict(texts, dets, on_unsafe)
                    if blocked:
                        return value
            return fn(*args, **kwargs)
        return wrapper

    return decorate


class GuardClient:
    """A small client for ``safe-embed serve``; its :meth:`classify` matches the detector's, so :func:`guard`
    and :func:`check` accept it.

    >>> # with GuardClient("http://127.0.0.1:8000") as g: g.check("How do I kill a Python process?").label
    """

    def __init__(self, url: str = "http://127.0.0.1:8000", token: str | None = None, timeout: float = 10.0,
                 neighbors: bool = True, transport=None) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        self.neighbors = neighbors
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=transport)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        import httpx

        try:
            r = self._http.request(method, path, json=body)
        except httpx.HTTPError as e:
            raise GuardServiceError(f"cannot reach the guardrail service at {self.url}{path}: {e}. Fix: start it "
                                    "with `safe-embed serve DETECTOR_DIR` or check the URL.") from None
        if r.status_code >= 400:
            try:
                err = r.json()
                code, msg = err.get("error"), err.get("message", r.text)
            except ValueError:
                code, msg = None, r.text[:500]
            raise GuardServiceError(f"{method} {path} -> {r.status_code}: {msg}", r.status_code, code)
        return r.json()

    def classify(self, texts: Sequence[str]) -> list:
        """One :class:`~safe_embed.detector.Detection` per text, in order."""
        from safe_embed.detector.detector import Detection, Neighbor

        if isinstance(texts, str):
            raise TypeError("classify() takes a list of texts, got a single string. Fix: wrap it in a list.")
        body = self._call("POST", "/v1/classify", {"texts": list(texts), "neighbors": self.neighbors})
        return [Detection(d["label"], float(d["score"]), d.get("category"),
                          tuple(Neighbor(**n) for n in d.get("neighbors", [])), tuple(d.get("flags", [])))
                for d in body["results"]]

    def check(self, text: str):
        """The :class:`~safe_embed.detector.Detection` of one prompt."""
        return self.classify([text])[0]

    def add_exemplars(self, texts: Sequence[str], labels: Sequence[str],
                      categories: Sequence[str | None] | None = None, ids: Sequence[str] | None = None) -> list[str]:
        """Add exemplars (needs the service's token); returns their ids."""
        cats = list(categories) if categories is not None else [None] * len(texts)
        rows = [{"text": t, "label": lab, "category": c} for t, lab, c in zip(texts, labels, cats, strict=True)]
        if ids is not None:
            for r, i in zip(rows, ids, strict=True):
                r["id"] = i
        return self._call("POST", "/v1/exemplars", {"exemplars": rows})["ids"]

    def info(self) -> dict:
        return self._call("GET", "/v1/info")

    def health(self) -> bool:
        try:
            return self._call("GET", "/healthz").get("status") == "ok"
        except GuardServiceError:
            return False
