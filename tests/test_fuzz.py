"""Fuzzing (Hypothesis, derandomized so CI is repeatable): random Unicode, JSON shapes and sizes sent to the
service and to ``Detector.classify`` always get a defined answer: JSON with a 2xx or 4xx status, or detections."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safe_embed.detector import Detector
from safe_embed.detector.demo import toy_detector
from safe_embed.errors import DataError
from safe_embed.serve import BackgroundServer, ServiceLimits, create_app

TOKEN = "fuzz-token"
FUZZ = settings(max_examples=120, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# every code point, lone surrogates and NUL included
ANY_TEXT = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=300)
JSON_LEAF = st.none() | st.booleans() | st.integers(-10**30, 10**30) | st.floats(allow_nan=False) | ANY_TEXT
JSON = st.recursive(JSON_LEAF, lambda inner: st.lists(inner, max_size=6) |
                    st.dictionaries(ANY_TEXT | st.sampled_from(["text", "texts", "label", "id", "neighbors",
                                                                "exemplars", "category"]), inner, max_size=6),
                    max_leaves=30)
CLASSIFY = st.fixed_dictionaries({}, optional={"texts": st.lists(ANY_TEXT, max_size=12) | JSON, "text": ANY_TEXT | JSON,
                                               "neighbors": JSON, "id": ANY_TEXT | JSON}) | JSON
EXEMPLAR = st.fixed_dictionaries({"text": ANY_TEXT | JSON, "label": st.sampled_from(["safe", "unsafe"]) | JSON},
                                 optional={"category": ANY_TEXT | JSON, "id": ANY_TEXT | JSON})
EXEMPLARS = st.fixed_dictionaries({"exemplars": st.lists(EXEMPLAR, max_size=5) | JSON}) | JSON


def _detector() -> Detector:
    return toy_detector([("make a bomb", "harm"), ("poison the water", "harm"), ("steal a car", "harm")],
                        ["bake a cake", "kill a process", "wash a car"],
                        [("build a bomb", "unsafe"), ("bake bread", "safe"), ("steal cars", "unsafe"),
                         ("wash dishes", "safe")], k=2, dim=32, k_neighbors=2, source="t")


@pytest.fixture(scope="module")
def fuzz_service():
    det = _detector()
    app = create_app(det, token=TOKEN, limits=ServiceLimits(max_texts=16, max_chars=2000, max_body_bytes=65536,
                                                            max_exemplars=8), warmup=False)
    with BackgroundServer(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client, det


def _check(r: httpx.Response) -> None:
    assert 200 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert isinstance(r.json(), dict)
    if r.status_code >= 400:
        assert set(r.json()) == {"error", "message"}


def _send(client, path: str, body, raw: bool) -> httpx.Response:
    data = json.dumps(body, ensure_ascii=True) if not raw else json.dumps(body, ensure_ascii=False).encode(
        "utf-8", "surrogatepass")  # raw: lone surrogates as invalid UTF-8 bytes
    return client.post(path, content=data, headers={"content-type": "application/json",
                                                    "Authorization": f"Bearer {TOKEN}"})


@FUZZ
@given(body=CLASSIFY, raw=st.booleans())
def test_classify_endpoint_answers_json_2xx_or_4xx(fuzz_service, body, raw):
    client, _ = fuzz_service
    r = _send(client, "/v1/classify", body, raw)
    _check(r)
    if r.status_code == 200:
        assert all(res["label"] in ("safe", "unsafe") for res in r.json()["results"])


@FUZZ
@given(body=EXEMPLARS, raw=st.booleans())
def test_exemplars_endpoint_answers_json_2xx_or_4xx(fuzz_service, body, raw):
    client, det = fuzz_service
    n = len(det.unsafe) + len(det.safe)
    r = _send(client, "/v1/exemplars", body, raw)
    _check(r)
    if r.status_code != 200:  # a refused request changes nothing
        assert len(det.unsafe) + len(det.safe) == n


@FUZZ
@given(texts=st.lists(ANY_TEXT | st.text(min_size=2000, max_size=30_000), max_size=8))
def test_detector_classify_takes_any_strings(texts):
    det = FUZZ_DETECTOR
    out = det.classify(texts)
    assert len(out) == len(texts) and all(0.0 <= d.score <= 1.0 for d in out)
    json.dumps([d.to_dict() for d in out])  # results always encode (no lone surrogates left)


@FUZZ
@given(value=JSON)
def test_detector_classify_refuses_non_lists_of_strings_clearly(value):
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return
    with pytest.raises(DataError):
        FUZZ_DETECTOR.classify(value)


FUZZ_DETECTOR = _detector()
