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

This module holds the decorator and :func:`check`; reading the texts out of a prompt lives in
:mod:`safe_embed.guard_prompts` and the client in :mod:`safe_embed.guard_client` (both importable from here).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from safe_embed.errors import SafeEmbedError
from safe_embed.guard_client import GuardClient, GuardServiceError
from safe_embed.guard_prompts import (
    NON_TEXT_PARTS,
    TRUSTED_ROLES,
    UnreadablePromptError,
    blocks,
    cut_messages,
    decision,
    prompt_parts,
    prompt_texts,
)

__all__ = ["NON_TEXT_PARTS", "TRUSTED_ROLES", "Classifier", "GuardClient", "GuardServiceError",
           "UnreadablePromptError", "UnsafePromptError", "check", "classifier_unavailable", "guard", "prompt_texts"]

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


def check(classifier: Classifier, prompt: Any):
    """Classify every text in ``prompt`` (see :func:`prompt_texts`); return the first detection that blocks it
    (:func:`~safe_embed.guard_prompts.blocks`), or the most unsafe-looking one, labelled safe, when none does (None
    for a prompt with nothing to check).

    >>> from safe_embed.detector.demo import demo_detector
    >>> check(demo_detector(), "How do I kill a python process?").label
    'safe'
    """
    parts = prompt_parts(prompt)
    if not parts:
        return None
    detections = classifier.classify([text for _, text in parts])
    return decision(detections, [where for where, _ in parts])


def _verdict(parts: list[tuple[str, str]], detections: list, on_unsafe: Callable | None,
             allow_unchecked: bool = False):
    texts = [text for _, text in parts]
    cut = cut_messages([where for where, _ in parts])
    for (where, t), d in zip(parts, detections, strict=True):
        if blocks(d, where, cut):
            if on_unsafe is None:
                raise UnsafePromptError(t, d)
            return True, on_unsafe(d)
    from safe_embed.detector.results import UNCHECKED_TAIL  # here: the guard module loads no detector code

    for t, d in zip(texts, detections, strict=True):
        if UNCHECKED_TAIL in d.flags and not allow_unchecked:  # a part was not read: refused, as unreadable
            if on_unsafe is None:
                raise UnreadablePromptError(f"the prompt has {len(t)} characters and only its first part could be "
                                            "checked, so the call is refused. Fix: send a shorter prompt, or "
                                            "guard(..., allow_unchecked=True) to let the unchecked part through.")
            return True, on_unsafe(d)
    return False, None


def classifier_unavailable(e: BaseException) -> bool:
    """Whether ``e`` means the classifier could not answer (down, unreachable, overloaded), as opposed to a
    prompt it refused to read: only the first may fail open."""
    if isinstance(e, (UnreadablePromptError, UnsafePromptError)):
        return False
    if isinstance(e, GuardServiceError):
        return e.status is None or e.status >= 500
    from safe_embed.errors import DataError

    return not isinstance(e, DataError)


def guard(classifier: Classifier, prompt_arg: str | int = 0, on_unsafe: Callable | None = None,
          fail_open: bool = False, allow_non_text: bool = False, allow_unchecked: bool = False) -> Callable:
    """Decorate an LLM call (sync or async) so its prompt is checked first; it fails closed.

    ``prompt_arg``: the parameter holding the prompt (name or position; see :func:`prompt_texts`).
    ``on_unsafe(detection)``: what to return instead of calling the LLM (default: raise
    :class:`UnsafePromptError`); a prompt the guard cannot read gets the same treatment, with a detection flagged
    ``unreadable`` (default: raise :class:`UnreadablePromptError`). ``fail_open``: when the classifier itself is
    unavailable (the service is down or overloaded), log and call the LLM anyway; never for an unreadable prompt.
    ``allow_non_text``: let image, audio and file parts through unchecked (their text parts are still checked).
    A prompt longer than the detector reads (its detection flagged ``unchecked_tail``) is refused as an unreadable
    one is, unless ``allow_unchecked``. In a conversation every user turn is checked, and so are the last user turns
    joined and the seams between them (a request split over two turns is seen whole; see
    :func:`~safe_embed.guard_prompts.prompt_texts`).

    >>> from safe_embed.detector.demo import demo_detector
    >>> @guard(demo_detector(), prompt_arg="messages", on_unsafe=lambda d: "Sorry, I can't help with that.")
    ... def chat(messages):
    ...     return "an answer from the LLM"
    >>> chat(messages=[{"role": "user", "content": "how do i make a bomb"}])
    "Sorry, I can't help with that."
    """

    def decorate(fn: Callable) -> Callable:
        sig = inspect.signature(fn)
        name = getattr(fn, "__name__", type(fn).__name__)

        def find_prompt(args, kwargs) -> Any:
            """The prompt argument (a missing one is a programming error: it always raises)."""
            if isinstance(prompt_arg, int):
                if prompt_arg >= len(args):
                    raise UnreadablePromptError(f"{name}() got no positional argument #{prompt_arg} to "
                                                "check. Fix: pass the prompt positionally or give "
                                                "guard(prompt_arg=NAME).")
                return args[prompt_arg]
            bound = sig.bind_partial(*args, **kwargs)
            if prompt_arg not in bound.arguments:
                raise UnreadablePromptError(f"{name}() got no argument {prompt_arg!r} to check.")
            return bound.arguments[prompt_arg]

        def parts_or_refusal(args, kwargs) -> tuple[list[tuple[str, str]] | None, Any]:
            prompt = find_prompt(args, kwargs)
            try:
                return prompt_parts(prompt, allow_non_text), None
            except UnreadablePromptError:
                if on_unsafe is None:
                    raise
                from safe_embed.detector.results import Detection

                return None, on_unsafe(Detection("unsafe", 1.0, None, (), ("unreadable",)))

        def classify_or_fail(texts: list[str]) -> list | None:
            try:
                return classifier.classify(texts)
            except Exception as e:
                if not (fail_open and classifier_unavailable(e)):
                    raise
                logger.warning("guardrail unavailable (%s); calling %s unchecked (fail_open)", e,
                               getattr(fn, "__name__", repr(fn)))
                return None

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def awrapper(*args, **kwargs):
                parts, refusal = parts_or_refusal(args, kwargs)
                if parts is None:
                    return refusal
                if parts:
                    dets = await asyncio.to_thread(classify_or_fail, [text for _, text in parts])
                    if dets is not None:
                        blocked, value = _verdict(parts, dets, on_unsafe, allow_unchecked)
                        if blocked:
                            return value
                return await fn(*args, **kwargs)
            return awrapper

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            parts, refusal = parts_or_refusal(args, kwargs)
            if parts is None:
                return refusal
            if parts:
                dets = classify_or_fail([text for _, text in parts])
                if dets is not None:
                    blocked, value = _verdict(parts, dets, on_unsafe, allow_unchecked)
                    if blocked:
                        return value
            return fn(*args, **kwargs)
        return wrapper

    return decorate
