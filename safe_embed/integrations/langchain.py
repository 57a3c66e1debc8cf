"""A LangChain guard: a ``Runnable`` that checks a chain's input messages with a safe-embed classifier (a
:class:`~safe_embed.detector.Detector` or a :class:`~safe_embed.guard_client.GuardClient`) before a model sees
them, with the policy of :func:`safe_embed.guard.guard` (every user turn checked, and the last turns joined and their
seams; fails closed on what it cannot read).

``SafeEmbedGuard(classifier) | model`` passes a safe input through unchanged and raises
:class:`~safe_embed.guard.UnsafePromptError` (or :class:`~safe_embed.guard.UnreadablePromptError`) otherwise;
:func:`guarded` answers with a refusal message instead. Put the guard after a prompt template
(``template | SafeEmbedGuard(det) | model``): it reads strings, messages and prompt values.

>>> from langchain_core.language_models.fake_chat_models import FakeListChatModel
>>> from safe_embed.detector.demo import demo_detector
>>> chain = guarded(FakeListChatModel(responses=["Here is a cake recipe."]), demo_detector())
>>> chain.invoke("how do i bake a cake").content, chain.invoke("how do i make a bomb").content
('Here is a cake recipe.', "Sorry, I can't help with that.")
"""

from __future__ import annotations

from typing import Any

from safe_embed.guard import Classifier, UnreadablePromptError, UnsafePromptError, guard

try:
    from langchain_core.messages import AIMessage, BaseMessage
    from langchain_core.prompt_values import PromptValue
    from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
except ImportError as e:  # the optional extra
    raise ImportError(f"{e}. Fix: pip install 'safe-embed[langchain]' (langchain-core).") from None

REFUSAL = "Sorry, I can't help with that."
# LangChain message types -> the roles the guard reads (the others are checked under their own name)
ROLES = {"human": "user", "ai": "assistant", "system": "system", "developer": "developer", "tool": "tool",
         "function": "function"}


def as_messages(value: Any) -> Any:
    """A LangChain input as what the guard reads: prompt values and messages as OpenAI-style dicts (role,
    content); strings and anything else as given (the guard refuses what it cannot read).

    >>> from langchain_core.messages import HumanMessage, SystemMessage
    >>> as_messages([SystemMessage("Be brief."), HumanMessage("hi")])
    [{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'hi'}]
    """
    if isinstance(value, PromptValue):
        value = value.to_messages()
    if isinstance(value, BaseMessage):
        value = [value]
    if isinstance(value, (list, tuple)) and any(isinstance(m, BaseMessage) for m in value):
        return [{"role": getattr(m, "role", None) or ROLES.get(m.type, m.type), "content": m.content}
                if isinstance(m, BaseMessage) else m for m in value]
    return value


def _passthrough(messages: Any) -> Any:
    return messages


async def _apassthrough(messages: Any) -> Any:
    return messages


class SafeEmbedGuard(Runnable[Any, Any]):
    """Check the input with ``classifier`` and pass it on unchanged when it is safe; raise
    :class:`~safe_embed.guard.UnsafePromptError` for an unsafe one and
    :class:`~safe_embed.guard.UnreadablePromptError` for one it cannot read (an image without
    ``allow_non_text``, a prompt past the detector's ceiling without ``allow_unchecked``). ``fail_open``: when the
    classifier is unavailable, let the input through (logged); never for an unreadable one."""

    def __init__(self, classifier: Classifier, *, fail_open: bool = False, allow_non_text: bool = False,
                 allow_unchecked: bool = False) -> None:
        options = {"fail_open": fail_open, "allow_non_text": allow_non_text, "allow_unchecked": allow_unchecked}
        self._check = guard(classifier, **options)(_passthrough)
        self._acheck = guard(classifier, **options)(_apassthrough)

    def _run(self, value: Any) -> Any:
        self._check(as_messages(value))
        return value

    async def _arun(self, value: Any) -> Any:
        await self._acheck(as_messages(value))
        return value

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return self._call_with_config(self._run, input, config)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return await self._acall_with_config(self._arun, input, config)


def guarded(model: Runnable, classifier: Classifier, refusal: str | None = REFUSAL, **options: Any) -> Runnable:
    """``model`` behind a :class:`SafeEmbedGuard` (``options`` are its own): an unsafe or unreadable input gets an
    ``AIMessage(refusal)`` and never reaches ``model``; with ``refusal=None`` the guard's error is raised instead."""
    chain = SafeEmbedGuard(classifier, **options) | model
    if refusal is None:
        return chain
    return chain.with_fallbacks([RunnableLambda(lambda _: AIMessage(refusal))],
                                exceptions_to_handle=(UnsafePromptError, UnreadablePromptError))
