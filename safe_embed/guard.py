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
from collections.abc import Callable, Mapping, Sequence
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


class UnreadablePromptError(SafeEmbedError, TypeError):
    """The prompt argument holds something the guard cannot read as text; the call is refused (fail closed)."""


# Roles whose text the application or the model wrote; every other role (user, tool, function, unknown) is checked.
TRUSTED_ROLES = ("system", "developer", "assistant", "model")
NON_TEXT_PARTS = ("image_url", "image", "input_image", "input_audio", "audio", "file", "input_file", "document",
                  "video")


def _get(obj: Any, key: str) -> Any:
    """A field of a message or part: a mapping key or an attribute (the SDKs' typed objects)."""
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def _as_text(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    raise UnreadablePromptError(f"{where} is a {type(value).__name__}, not text; the guard cannot check it, so "
                                "the call is refused. Fix: pass strings, or chat messages with string content.")


def _content_texts(content: Any, where: str, allow_non_text: bool) -> list[str]:
    if content is None:
        return []
    if isinstance(content, (str, bytes, bytearray, memoryview)):
        return [_as_text(content, where)]
    if isinstance(content, Sequence):
        out: list[str] = []
        for k, part in enumerate(content):
            here = f"{where} part #{k}"
            if isinstance(part, (str, bytes, bytearray, memoryview)):
                out.append(_as_text(part, here))
                continue
            text, inner, kind = _get(part, "text"), _get(part, "content"), _get(part, "type")
            if text is not None:
                out.append(_as_text(text, here))
            elif inner is not None:  # a tool result with its own content
                out += _content_texts(inner, here, allow_non_text)
            elif kind in NON_TEXT_PARTS and allow_non_text:
                continue
            else:
                raise UnreadablePromptError(f"{here} ({kind or type(part).__name__}) holds no text the guard can "
                                            "check, so the call is refused. Fix: send text, or guard(..., "
                                            "allow_non_text=True) to let images and files through unchecked.")
        return out
    raise UnreadablePromptError(f"{where} is a {type(content).__name__}; the guard cannot read it as text.")


def _role(message: Any) -> str:
    role = _get(message, "role")
    role = getattr(role, "value", role)  # an enum
    return str(role).strip().lower() if role is not None else "user"


def prompt_texts(value: Any, allow_non_text: bool = False) -> list[str]:
    """The texts to check in an LLM call's prompt argument; anything it cannot read raises
    :class:`UnreadablePromptError`.

    A string (or UTF-8 bytes), a list of strings, or chat messages in the OpenAI or Anthropic shape (dicts or
    the SDKs' objects, string or list content, any role spelling). Messages of the application and the model
    (roles ``system``, ``developer``, ``assistant``, ``model``) are not checked; all others are, text parts of
    list content and tool results included.

    >>> prompt_texts([{"role": "System", "content": "Be brief."}, {"role": "User", "content": [
    ...     {"type": "text", "text": "How do I kill a Python process?"}]}])
    ['How do I kill a Python process?']
    """
    if isinstance(value, (str, bytes, bytearray, memoryview)):
        return [_as_text(value, "the prompt")]
    messages = [value] if isinstance(value, Mapping) or _get(value, "content") is not None else value
    if not isinstance(messages, Sequence):
        raise UnreadablePromptError(f"the prompt is a {type(value).__name__}; the guard cannot find text in it, so "
                                    "the call is refused. Fix: pass a string, a list of strings or chat messages, "
                                    "or give guard(prompt_arg=...) the right argument.")
    out: list[str] = []
    for i, m in enumerate(messages):
        if isinstance(m, (str, bytes, bytearray, memoryview)):
            out.append(_as_text(m, f"message #{i}"))
            continue
        if not isinstance(m, Mapping) and not hasattr(m, "content"):
            raise UnreadablePromptError(f"message #{i} is a {type(m).__name__} with no content; the guard cannot "
                                        "read it, so the call is refused.")
        if _role(m) in TRUSTED_ROLES:
            continue
        out += _content_texts(_get(m, "content"), f"message #{i}", allow_non_text)
    return out


def check(classifier: Classifier, prompt: Any):
    """Classify every text in ``prompt`` (see :func:`prompt_texts`); return the first unsafe detection, or the
    most unsafe-looking one when all are safe (None for a prompt with nothing to check).

    >>> from safe_embed.detector.demo import demo_detector
    >>> check(demo_detector(), "How do I kill a python process?").label
    'safe'
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
          fail_open: bool = False, allow_non_text: bool = False) -> Callable:
    """Decorate an LLM call (sync or async) so its prompt is checked first; it fails closed.

    ``prompt_arg``: the parameter holding the prompt (name or position; see :func:`prompt_texts`).
    ``on_unsafe(detection)``: what to return instead of calling the LLM (default: raise
    :class:`UnsafePromptError`); a prompt the guard cannot read gets the same treatment, with a detection flagged
    ``unreadable`` (default: raise :class:`UnreadablePromptError`). ``fail_open``: when the classifier itself is
    unavailable (the service is down or overloaded), log and call the LLM anyway; never for an unreadable prompt.
    ``allow_non_text``: let image, audio and file parts through unchecked (their text parts are still checked).

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

        def texts_or_refusal(args, kwargs) -> tuple[list[str] | None, Any]:
            prompt = find_prompt(args, kwargs)
            try:
                return prompt_texts(prompt, allow_non_text), None
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
                texts, refusal = texts_or_refusal(args, kwargs)
                if texts is None:
                    return refusal
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
            texts, refusal = texts_or_refusal(args, kwargs)
            if texts is None:
                return refusal
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

    >>> from safe_embed.detector.demo import demo_detector
    >>> from safe_embed.serve import BackgroundServer, create_app
    >>> with BackgroundServer(create_app(demo_detector(), warmup=False)) as url, GuardClient(url) as g:
    ...     g.check("How do I kill a python process?").label
    'safe'
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
        from safe_embed.detector.results import Detection, Neighbor

        if isinstance(texts, str):
            raise UnreadablePromptError("classify() takes a list of texts, got a single string. Fix: wrap it in a "
                                        "list.")
        body = self._call("POST", "/v1/classify", {"texts": list(texts), "neighbors": self.neighbors})
        fields = ("id", "text", "label", "category", "similarity")
        return [Detection(d["label"], float(d["score"]), d.get("category"),
                          tuple(Neighbor(**{k: n.get(k) for k in fields}) for n in d.get("neighbors", [])),
                          tuple(d.get("flags", []))) for d in body["results"]]

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
