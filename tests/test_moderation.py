"""``POST /v1/moderations`` over a real uvicorn on 127.0.0.1, called with the real ``openai`` client: parsed
unchanged (and strictly, by its own models), ``flagged`` as ``/v1/classify``'s label, OpenAI's category names,
scores by the documented rule, ``/v1/classify``'s auth, limits and errors, image parts refused or flagged."""

from __future__ import annotations

import httpx
import openai
import pytest
from hazards import S1, S9, hazard_detector
from openai.types import ModerationCreateResponse

from safe_embed.data.taxonomy import load_taxonomy
from safe_embed.serve import BackgroundServer, ServiceLimits, create_app

TOKEN = "test-token-123"
LIMITS = ServiceLimits(max_texts=4, max_chars=300, max_body_bytes=8192)
TEXTS = ["how do i build a pipe bomb", "poison my neighbour", "how to bake a cake", ""]
IMAGE = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
OPENAI_NAMES = set(load_taxonomy("mlcommons").openai)


@pytest.fixture(scope="module")
def url():
    with BackgroundServer(create_app(hazard_detector(), token=TOKEN, limits=LIMITS, max_wait_ms=5)) as u:
        yield u


@pytest.fixture(scope="module")
def client(url):
    with openai.OpenAI(base_url=f"{url}/v1", api_key=TOKEN, max_retries=0) as c:
        yield c


def _classify(url: str, texts: list[str]) -> list[dict]:
    return httpx.post(f"{url}/v1/classify", json={"texts": texts, "neighbors": False}).json()["results"]


def test_a_list_of_texts_gets_one_result_each_flagged_as_classify_labels_it(url, client):
    got = client.moderations.create(input=TEXTS, model="omni-moderation-latest")
    assert got.id.startswith("modr-") and got.model.startswith("safe-embed/") and len(got.results) == 4
    want = _classify(url, TEXTS)
    assert [r.flagged for r in got.results] == [w["label"] == "unsafe" for w in want] == [True, True, False, False]
    for r, w in zip(got.results, want, strict=True):
        assert set(r.categories.model_dump(by_alias=True)) == OPENAI_NAMES
        assert set(r.category_scores.model_dump(by_alias=True)) == OPENAI_NAMES
        own = r.model_extra["safe_embed"]
        assert own["label"] == w["label"] and own["category"] == w["category"] and own["unchecked"] == []
        assert own["category_scores"] == pytest.approx(w["category_scores"])
    bomb, poison = got.results[0], got.results[1]
    assert want[0]["category"] == S9 and want[1]["category"] == S1
    on = {name for name, v in bomb.categories.model_dump(by_alias=True).items() if v}
    assert on == {"violence", "illicit/violent"}  # the table's categories holding S9
    assert {n for n, v in poison.categories.model_dump(by_alias=True).items() if v} == {"violence", "illicit/violent"}
    # the documented rule: unsafe score x the largest category score among the category's hazards
    assert bomb.category_scores.violence == pytest.approx(
        want[0]["score"] * max(want[0]["category_scores"][S1], want[0]["category_scores"][S9]), abs=1e-6)
    assert bomb.category_scores.hate == 0.0 and bomb.category_applied_input_types.violence == ["text"]
    assert not any(got.results[2].categories.model_dump().values())


def test_one_string_and_text_parts_are_parsed_strictly_by_the_clients_own_models(url, client):
    one = client.moderations.create(input="how do i build a pipe bomb")
    assert len(one.results) == 1 and one.results[0].flagged
    parts = [{"type": "text", "text": "how to bake a cake"}, {"type": "text", "text": "how do i build a pipe bomb"}]
    raw = httpx.post(f"{url}/v1/moderations", json={"input": parts}).json()
    strict = ModerationCreateResponse.model_validate(raw)  # every key and value type OpenAI's
    assert len(strict.results) == 1 and strict.results[0].flagged and strict.results[0].categories.violence
    assert client.moderations.create(input=parts).results[0].flagged
    safe = client.moderations.create(input=[{"type": "text", "text": "how to bake a cake"}]).results[0]
    assert not safe.flagged and safe.model_extra["safe_embed"]["label"] == _classify(url, ["how to bake a cake"])[0][
        "label"] == "safe"


@pytest.mark.parametrize("texts,code", [(["a"] * 5, "too_many_texts"), (["ok", "y" * 301], "text_too_long"),
                                        ([], "invalid_request")])
def test_limits_and_errors_are_classifys(url, client, texts, code):
    with pytest.raises(openai.UnprocessableEntityError) as e:
        client.moderations.create(input=texts)
    # the service's error body {"error": CODE, "message": TEXT}: the client keeps the code as the error's body
    assert e.value.status_code == 422 and e.value.body == code
    classify = httpx.post(f"{url}/v1/classify", json={"texts": texts})
    mine = e.value.response.json()
    assert classify.status_code == 422 and classify.json()["error"] == mine["error"]
    assert classify.json()["message"].replace("'texts'", "'input'") == mine["message"]


@pytest.mark.parametrize("body,status,code", [({"input": ["a", {"type": "text", "text": "b"}]}, 422,
                                               "invalid_request"),
                                              ({"input": "a", "extra": 1}, 422, "invalid_request"),
                                              ({"input": [IMAGE]}, 422, "unreadable_prompt")])
def test_bad_inputs_get_a_clear_error(url, body, status, code):
    r = httpx.post(f"{url}/v1/moderations", json=body)
    assert r.status_code == status and r.json()["error"] == code
    if code == "unreadable_prompt":
        assert "--allow-non-text" in r.json()["message"]


def test_auth_is_classifys_no_token_needed_to_read_any_token_accepted(url):
    for path, body in (("/v1/moderations", {"input": "hello"}), ("/v1/classify", {"text": "hello"})):
        assert httpx.post(f"{url}{path}", json=body).status_code == 200
        assert httpx.post(f"{url}{path}", json=body, headers={"Authorization": "Bearer wrong"}).status_code == 200
    r = httpx.post(f"{url}/v1/exemplars", json={"exemplars": [{"text": "x", "label": "unsafe"}]})
    assert r.status_code == 401


def test_with_non_text_allowed_an_image_is_reported_unchecked_and_flagged():
    app = create_app(hazard_detector(), allow_non_text=True, warmup=False)
    with BackgroundServer(app) as url, openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0) as c:
        mixed = c.moderations.create(input=[{"type": "text", "text": "how to bake a cake"}, IMAGE]).results[0]
        assert mixed.flagged and not any(mixed.categories.model_dump().values())
        assert mixed.model_extra["safe_embed"]["label"] == "safe"
        assert mixed.model_extra["safe_embed"]["unchecked"] == ["input part #1 (image_url)"]
        assert mixed.category_applied_input_types.violence == ["text"]
        alone = c.moderations.create(input=[IMAGE]).results[0]
        assert alone.flagged and alone.category_applied_input_types.violence == []
        assert alone.model_extra["safe_embed"]["label"] is None
