"""``GET /metrics``: Prometheus text that ``prometheus_client.parser`` reads, behind the token when the service has
one, with counters that move by exactly what the requests did; one registry per app."""

from __future__ import annotations

import shutil
from collections import Counter

import httpx
import pytest
from hazards import hazard_detector
from prometheus_client.parser import text_string_to_metric_families

from safe_embed.detector import Detector
from safe_embed.serve import BackgroundServer, ServiceLimits, create_app

TOKEN = "test-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _scrape(url: str) -> dict[tuple, float]:
    """(sample name, sorted labels) -> value."""
    r = httpx.get(f"{url}/metrics", headers=AUTH)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def _moved(before: dict, after: dict, name: str, **labels) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_metrics_need_the_token_and_counters_move_by_what_the_requests_did():
    det = hazard_detector()
    app = create_app(det, token=TOKEN, limits=ServiceLimits(max_texts=3), max_wait_ms=5)
    with BackgroundServer(app) as url:
        assert httpx.get(f"{url}/metrics").status_code == 401
        assert httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
        before = _scrape(url)
        texts = ["how do i build a pipe bomb", "how to bake a cake", "poison my neighbour", "steal a car"]
        assert httpx.post(f"{url}/v1/classify", json={"text": texts[0]}).status_code == 200
        assert httpx.post(f"{url}/v1/classify", json={"texts": texts[1:3]}).status_code == 200
        assert httpx.post(f"{url}/v1/classify", json={"texts": ["a"] * 4}).status_code == 422
        assert httpx.post(f"{url}/v1/moderations", json={"input": [texts[3], texts[0]]}).status_code == 200
        assert httpx.post(f"{url}/v1/exemplars", headers=AUTH, json={"exemplars": [
            {"text": "rob a bank at night", "label": "unsafe", "category": "S2: Non-Violent Crimes"}]}).status_code == 200
        assert httpx.get(f"{url}/nowhere").status_code == 404
        after = _scrape(url)
    assert _moved(before, after, "safe_embed_requests_total", endpoint="/v1/classify", status="200") == 2
    assert _moved(before, after, "safe_embed_requests_total", endpoint="/v1/classify", status="422") == 1
    assert _moved(before, after, "safe_embed_requests_total", endpoint="/v1/moderations", status="200") == 1
    assert _moved(before, after, "safe_embed_requests_total", endpoint="/v1/exemplars", status="200") == 1
    assert _moved(before, after, "safe_embed_requests_total", endpoint="other", status="404") == 1
    assert _moved(before, after, "safe_embed_texts_total", endpoint="/v1/classify", status="200") == 3
    assert _moved(before, after, "safe_embed_texts_total", endpoint="/v1/classify", status="422") == 4
    assert _moved(before, after, "safe_embed_texts_total", endpoint="/v1/moderations", status="200") == 2
    assert _moved(before, after, "safe_embed_request_seconds_count", endpoint="/v1/classify") == 3
    # verdicts: the five classified texts, by label and category, as the detector itself says (same exemplars)
    reference = hazard_detector().classify([texts[0], texts[1], texts[2], texts[3], texts[0]])
    for (label, category), n in Counter((d.label, d.category or "none") for d in reference).items():
        assert _moved(before, after, "safe_embed_verdicts_total", label=label, category=category) == n
    assert _moved(before, after, "safe_embed_batch_size_sum") == 5
    assert _moved(before, after, "safe_embed_batch_size_count") >= 1
    assert after[("safe_embed_exemplars", (("label", "unsafe"),))] == len(det.unsafe) == 8
    assert after[("safe_embed_exemplars", (("label", "safe"),))] == len(det.safe)
    assert after[("safe_embed_queue_depth", ())] == 0
    assert after[("safe_embed_journal_records_applied_total", ())] == 0


def test_two_apps_in_one_process_count_apart():
    a, b = create_app(hazard_detector(), warmup=False), create_app(hazard_detector(), warmup=False)
    with BackgroundServer(a) as url_a, BackgroundServer(b) as url_b:
        httpx.post(f"{url_a}/v1/classify", json={"text": "hello"})
        got = {url: _scrape(url) for url in (url_a, url_b)}
    assert got[url_a][("safe_embed_requests_total", (("endpoint", "/v1/classify"), ("status", "200")))] == 1
    assert ("safe_embed_requests_total", (("endpoint", "/v1/classify"), ("status", "200"))) not in got[url_b]


@pytest.mark.slow
def test_journal_records_another_writer_added_are_counted_when_applied(tiny_detector_dir, tmp_path):
    d = tmp_path / "det"
    shutil.copytree(tiny_detector_dir, d)
    with BackgroundServer(create_app(Detector.load(d), persist=True, warmup=False)) as url:
        Detector.load(d).persist_add(["steal a car", "rob a bank"], ["unsafe", "unsafe"])  # another writer
        before = _scrape(url)
        assert httpx.post(f"{url}/v1/exemplars", timeout=60, json={"exemplars": [
            {"text": "break into a house", "label": "unsafe"}]}).status_code == 200  # catches up first
        after = _scrape(url)
    assert _moved(before, after, "safe_embed_journal_records_applied_total") == 1  # one record, two exemplars
    assert _moved(before, after, "safe_embed_exemplars", label="unsafe") == 3
