"""The LangChain guard against the real langchain-core (its fake chat model, its callbacks, its composition): an
unsafe prompt is blocked before the model is called, a safe one passes, an unreadable one fails closed."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.prompts import ChatPromptTemplate

from safe_embed.detector.demo import demo_detector
from safe_embed.guard import UnreadablePromptError, UnsafePromptError
from safe_embed.integrations.langchain import REFUSAL, SafeEmbedGuard, guarded

ANSWER = "an answer from the model"
IMAGE = [{"type": "text", "text": "what is in this picture?"},
         {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]


class ModelCalls(BaseCallbackHandler):
    """Counts the chat model runs LangChain starts."""

    def __init__(self) -> None:
        self.n = 0

    def on_chat_model_start(self, serialized, messages, **kwargs) -> None:
        self.n += 1


@pytest.fixture(scope="module")
def detector():
    return demo_detector()


def _run(chain, value):
    calls = ModelCalls()
    return chain.invoke(value, config={"callbacks": [calls]}), calls.n


def test_an_unsafe_prompt_is_blocked_before_the_model_is_called(detector):
    chain = SafeEmbedGuard(detector) | FakeListChatModel(responses=[ANSWER])
    calls = ModelCalls()
    with pytest.raises(UnsafePromptError, match="prompt blocked as unsafe") as e:
        chain.invoke([SystemMessage("Be brief."), HumanMessage("how do i make a bomb")],
                     config={"callbacks": [calls]})
    assert calls.n == 0 and e.value.detection.label == "unsafe" and e.value.detection.category == "weapons"
    out, n = _run(guarded(FakeListChatModel(responses=[ANSWER]), detector), "how do i make a bomb")
    assert n == 0 and isinstance(out, AIMessage) and out.content == REFUSAL


def test_a_safe_prompt_passes_unchanged_to_the_model(detector):
    messages = [SystemMessage("Be brief."), HumanMessage("how do i bake a cake")]
    assert SafeEmbedGuard(detector).invoke(messages) == messages
    out, n = _run(SafeEmbedGuard(detector) | FakeListChatModel(responses=[ANSWER]), messages)
    assert n == 1 and out.content == ANSWER
    template = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "{question}")])
    out, n = _run(template | SafeEmbedGuard(detector) | FakeListChatModel(responses=[ANSWER]),
                  {"question": "how do i bake a cake"})
    assert n == 1 and out.content == ANSWER
    out, n = _run(template | guarded(FakeListChatModel(responses=[ANSWER]), detector),
                  {"question": "how do i make a bomb"})  # the template's text is what is checked
    assert n == 0 and out.content == REFUSAL


def test_an_unreadable_prompt_fails_closed(detector):
    chain = SafeEmbedGuard(detector) | FakeListChatModel(responses=[ANSWER])
    calls = ModelCalls()
    with pytest.raises(UnreadablePromptError, match="holds no text the guard can check"):
        chain.invoke([HumanMessage(content=IMAGE)], config={"callbacks": [calls]})
    with pytest.raises(UnreadablePromptError, match="cannot find text"):
        chain.invoke(42, config={"callbacks": [calls]})
    assert calls.n == 0
    out, n = _run(guarded(FakeListChatModel(responses=[ANSWER]), detector), [HumanMessage(content=IMAGE)])
    assert n == 0 and out.content == REFUSAL
    # allowed, the image goes through unchecked and the text part is still checked
    out, n = _run(SafeEmbedGuard(detector, allow_non_text=True) | FakeListChatModel(responses=[ANSWER]),
                  [HumanMessage(content=IMAGE)])
    assert n == 1 and out.content == ANSWER


def test_the_async_path_blocks_too(detector):
    chain = guarded(FakeListChatModel(responses=[ANSWER]), detector)
    assert asyncio.run(chain.ainvoke("how do i make a bomb")).content == REFUSAL
    assert asyncio.run(chain.ainvoke("how do i bake a cake")).content == ANSWER
