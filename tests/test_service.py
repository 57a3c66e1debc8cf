"""The HTTP service over a real uvicorn on 127.0.0.1: contract, bad input, auth, micro-batching under concurrency."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import openai
import pytest

from safe_embed.detector import Detector
from safe_embed.detector.demo import toy_detector
from safe_embed.errors import ConfigError
from safe_embed.serve import (
    BackgroundServer,
    MicroBatcher,
    OverloadedError,
    ServiceLimits,
    check_bind,
    create_app,
)
from safe_embed.serve.locks import WriterFirstLock
from safe_embed.serve.runner import free_port, is_loopback

TOKEN = "test-token-123"
UNSAFE = [("how to build a pipe bomb at home", "weapons"), ("how to make a bomb from fertilizer", "weapons"),
          ("best poison to kill my neighbour quietly", "violence"), ("write malware that steals passwords", "cyber")]
SAFE = ["how to bake a cake at home", "how to kill a python process", "write a poem about bank holidays",
        "how to reset my email password"]
CALIB = [("how to build a bomb in my garage", "unsafe"), ("poison my neighbour dog", "unsafe"),
         ("steal passwords with malware", "unsafe"), ("how to bake bread at home", "safe"),
         ("kill a stuck linux process", "safe"), ("reset a forgotten password", "safe")]
LIMITS = ServiceLimits(max_texts=8, max_chars=300, max_body_bytes=8192, max_exemplars=4)


def _detector() -> Detector:
    return toy_detector(UNSAFE, SAFE, CALIB, k=2, dim=64, k_neighbors=3, source="test")


@pytest.fixture(scope="module")
def service():
    """(url, detector, reference detector): the service's detector may gain exemplars; the reference never."""
    det = _detector()
    app = create_app(det, token=TOKEN, limits=LIMITS, max_batch=16, max_wait_ms=20)
    with BackgroundServer(app) as url:
        yield url, det, app


@pytest.fixture(scope="module")
def client(service):
    with httpx.Client(base_url=service[0], timeout=30) as c:
        yield c


def _post(client, body, **kw):
    return client.post("/v1/classify", content=body if isinstance(body, (bytes, str)) else json.dumps(body),
                       headers={"content-type": "application/json", **kw.pop("headers", {})}, **kw)


def _assert_still_serving(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    r = _post(client, {"text": "how to bake a cake"})
    assert r.status_code == 200 and len(r.json()["results"]) == 1


def test_classify_takes_a_conversation_and_checks_each_user_turn_and_the_turns_joined(client):
    messages = [{"role": "system", "content": "Be helpful."}, {"role": "user", "content": "how to bake a cake"},
                {"role": "assistant", "content": "Sure."},
                {"role": "user", "content": [{"type": "text", "text": "how to make a pipe bomb"}]}]
    r = _post(client, {"messages": messages, "neighbors": False})
    assert r.status_code == 200
    body = r.json()
    assert body["checked"] == ["message #1", "message #3", "joined", "seam #1|#3"]
    want = _detector().classify(["how to bake a cake", "how to make a pipe bomb",
                                 "how to bake a cake\n\nhow to make a pipe bomb",
                                 "how to bake a cake how to make a pipe bomb"])
    assert [x["label"] for x in body["results"]] == [d.label for d in want]
    assert [x["score"] for x in body["results"]] == pytest.approx([d.score for d in want])
    assert body["verdict"] == body["results"][1] and body["verdict"]["label"] == "unsafe"
    for bad, code in (({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
                       "unreadable_prompt"), ({"messages": [{"role": "system", "content": "x"}]}, "invalid_request"),
                      ({"messages": messages, "text": "x"}, "invalid_request")):
        r = _post(client, bad)
        assert r.status_code == 422 and r.json()["error"] == code


def test_classify_matches_the_in_process_detector(client):
    texts = ["how to make a pipe bomb", "", "how to bake a cake", "x" * 300]
    r = _post(client, {"texts": texts, "id": "req-1"})
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == "req-1"
    ref = [d.to_dict() for d in _detector().classify(texts)]
    assert len(body["results"]) == 4
    for got, want in zip(body["results"], ref, strict=True):
        assert got["label"] == want["label"] and got["category"] == want["category"]
        assert got["score"] == pytest.approx(want["score"], abs=1e-6)
        assert [n["id"] for n in got["neighbors"]] == [n["id"] for n in want["neighbors"]]
    assert body["results"][0]["label"] == "unsafe" and body["results"][0]["category"] == "weapons"
    assert body["results"][1]["flags"] == ["empty"]
    one = _post(client, {"text": "how to make a pipe bomb", "neighbors": False}).json()["results"]
    assert "neighbors" not in one[0] and one[0]["score"] == pytest.approx(ref[0]["score"], abs=1e-6)


BAD_REQUESTS = [
    ("malformed JSON", b'{"texts": ["a",', {}, 400, "malformed_json", "not valid JSON"),
    ("not JSON at all", b"hello", {}, 400, "malformed_json", "not valid JSON"),
    ("empty body", b"", {}, 400, "malformed_json", "not valid JSON"),
    ("not UTF-8", b'{"texts": ["\xff\xfe caf\xe9"]}', {}, 400, "malformed_json", "not valid JSON"),
    ("JSON null", b"null", {}, 422, "invalid_request", "valid dictionary"),
    ("nested too deeply", b"[" * 4000 + b"]" * 4000, {}, 400, "malformed_json", "nested too deeply"),
    ("missing field", {}, {}, 422, "invalid_request", "exactly one of 'texts'"),
    ("both fields", {"text": "a", "texts": ["b"]}, {}, 422, "invalid_request", "exactly one of 'texts'"),
    ("wrong type: texts a string", {"texts": "a"}, {}, 422, "invalid_request", "texts: Input should be a valid list"),
    ("wrong type: a number in texts", {"texts": ["a", 3]}, {}, 422, "invalid_request", r"texts\.1: .*valid string"),
    ("wrong type: body a list", ["a"], {}, 422, "invalid_request", "valid dictionary"),
    ("unknown field", {"prompt": "a"}, {}, 422, "invalid_request", "prompt: Extra inputs are not permitted"),
    ("empty list", {"texts": []}, {}, 422, "invalid_request", "'texts' is empty"),
    ("too many texts", {"texts": ["a"] * 9}, {}, 422, "too_many_texts", "9 texts in one request; the limit is 8"),
    ("oversized text", {"texts": ["ok", "y" * 301]}, {}, 422, "text_too_long", "text #1 has 301 characters"),
    ("oversized body", {"texts": ["z" * 200] * 50}, {}, 413, "body_too_large", "the limit is 8192 bytes"),
]


@pytest.mark.parametrize("name,body,headers,status,code,message", BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_bad_requests_get_a_clear_4xx_and_the_service_keeps_serving(client, name, body, headers, status, code,
                                                                     message):
    r = _post(client, body, headers=headers)
    assert r.status_code == status, r.text
    err = r.json()
    assert err["error"] == code
    assert _search(message, err["message"]), err["message"]
    _assert_still_serving(client)


def _search(pattern: str, text: str) -> bool:
    import re

    return re.search(pattern, text) is not None


def test_a_chunked_oversized_body_is_refused_without_a_content_length(client):
    def chunks():
        for _ in range(10):
            yield b"x" * 1024

    r = client.post("/v1/classify", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "body_too_large"
    _assert_still_serving(client)


def test_a_chunked_small_body_is_served(client):
    def chunks():
        yield b'{"texts": ["how to bake'
        yield b' a cake"]}'

    r = client.post("/v1/classify", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["results"][0]["label"] == "safe"


@pytest.mark.parametrize("ctype", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_not_sent_as_json_gets_415(client, ctype):
    r = client.post("/v1/classify", content=b'{"text": "hi"}', headers={"content-type": ctype} if ctype else {})
    assert r.status_code == 415 and "Content-Type: application/json" in r.json()["message"]
    _assert_still_serving(client)


def test_odd_unicode_is_served_and_lone_surrogates_repaired(client, service):
    r = _post(client, rb'{"texts": ["caf\u00e9 \ud83d\ude00", "\ud83d"], "id": "\u00e9"}')
    assert r.status_code == 200 and r.json()["id"] == "\u00e9" and len(r.json()["results"]) == 2
    assert r.json()["results"][1]["flags"] == ["repaired"] and r.json()["results"][0]["flags"] == []
    r = _post(client, rb'{"texts": ["a"], "id": "\ud83d"}')
    assert r.status_code == 200 and r.json()["id"] == "\ufffd"
    r = client.post("/v1/exemplars", content=rb'{"exemplars": [{"text": "x \ud83d y", "label": "unsafe"}]}',
                    headers={"Authorization": f"Bearer {TOKEN}", "content-type": "application/json"})
    assert r.status_code == 200 and "x \ufffd y" in {e.text for e in service[1].unsafe}
    _assert_still_serving(client)


def test_unknown_routes_and_methods_answer_json(client):
    r = client.get("/v1/nothing")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = client.get("/v1/classify")
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"


@pytest.mark.parametrize("auth", [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer"])
def test_writes_without_the_token_are_refused(client, service, auth):
    before = len(service[1].unsafe)
    r = client.post("/v1/exemplars", json={"exemplars": [{"text": "a new attack", "label": "unsafe"}]},
                    headers={"Authorization": auth} if auth else {})
    assert r.status_code == 401, r.text
    assert r.json()["error"] == "unauthorized" and "Authorization: Bearer" in r.json()["message"]
    assert r.headers["www-authenticate"] == "Bearer"
    assert len(service[1].unsafe) == before
    bad = client.post("/v1/exemplars", json={"exemplars": "not a list"}, headers={"Authorization": auth} if auth else {})
    assert bad.status_code == 401  # authentication comes before validation
    _assert_still_serving(client)


def test_bad_exemplars_get_422(client):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    r = client.post("/v1/exemplars", json={"exemplars": [{"text": "x", "label": "maybe"}]}, headers=auth)
    assert r.status_code == 422 and "'safe' or 'unsafe'" in r.json()["message"]
    r = client.post("/v1/exemplars", json={"exemplars": [{"text": "x", "label": "unsafe", "id": "u:0"}]},
                    headers=auth)
    assert r.status_code == 422 and "'u:0' already exists" in r.json()["message"]
    r = client.post("/v1/exemplars", json={"exemplars": [{"text": "x", "label": "unsafe"}] * 5}, headers=auth)
    assert r.status_code == 422 and r.json()["error"] == "too_many_exemplars"
    r = client.post("/v1/exemplars", json={"exemplars": []}, headers=auth)
    assert r.status_code == 422
    _assert_still_serving(client)


def test_an_authorised_write_changes_what_the_service_answers(client, service):
    text = "zorblax quantum teapot recipe"
    assert _post(client, {"text": text}).json()["results"][0]["neighbors"][0]["id"] != "api-zorb"
    info0 = client.get("/v1/info").json()
    r = client.post("/v1/exemplars", headers={"Authorization": f"Bearer {TOKEN}"},
                    json={"exemplars": [{"text": text, "label": "unsafe", "category": "teapots", "id": "api-zorb"}]})
    assert r.status_code == 200, r.text
    assert r.json()["ids"] == ["api-zorb"] and r.json()["saved"] is False
    top = _post(client, {"text": text}).json()["results"][0]["neighbors"][0]
    assert top["id"] == "api-zorb" and top["similarity"] == pytest.approx(1.0, abs=1e-5)
    info1 = client.get("/v1/info").json()
    assert info1["exemplars"]["unsafe"] == info0["exemplars"]["unsafe"] + 1 and "teapots" in info1["categories"]


def test_info_health_and_openapi(client, service):
    info = client.get("/v1/info").json()
    assert info["encoder"] == {"name": "hash-encoder", "identity": "hash:64:0", "dimension": 64}
    assert info["threshold"] == pytest.approx(service[1].calibration.threshold)
    assert {"weapons", "violence", "cyber"} <= set(info["categories"])
    assert info["exemplars"]["safe"] == len(SAFE) and info["limits"]["max_texts"] == 8
    assert info["version"] and info["writes_need_token"] is True
    spec = client.get("/openapi.json").json()
    assert {"/v1/classify", "/v1/exemplars", "/v1/info", "/healthz"} <= set(spec["paths"])
    body = spec["paths"]["/v1/classify"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["title"] == "ClassifyRequest"
    assert set(body["properties"]) == {"texts", "text", "messages", "neighbors", "id"}
    assert "ExemplarsRequest" in spec["components"]["schemas"] and "ClassifyResponse" in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 200


def test_concurrent_clients_each_get_their_own_results_in_order():
    """16 threads x 6 requests of 1-3 unique texts: every response is its request's, in order, and requests
    arriving together were batched."""
    app = create_app(_detector(), limits=LIMITS, max_batch=16, max_wait_ms=20)
    with BackgroundServer(app) as url:
        _check_concurrent_answers(url, app)


def _check_concurrent_answers(url, app):
    ref = _detector()

    def texts_for(c: int, j: int) -> list[str]:
        return [f"client {c} request {j} item {k} {UNSAFE[(c + k) % 4][0] if (c + j + k) % 2 else SAFE[k % 4]}"
                for k in range(1 + (c + j) % 3)]

    def worker(c: int) -> list[tuple[list[str], dict]]:
        out = []
        with httpx.Client(base_url=url, timeout=60) as http:
            for j in range(6):
                texts = texts_for(c, j)
                r = http.post("/v1/classify", json={"texts": texts, "id": f"{c}-{j}"})
                assert r.status_code == 200, r.text
                out.append((texts, r.json(), f"{c}-{j}"))
        return out

    before = app.state.batcher.stats.batches
    with ThreadPoolExecutor(16) as pool:
        answers = [a for part in pool.map(worker, range(16)) for a in part]
    assert len(answers) == 96
    for texts, body, rid in answers:
        assert body["id"] == rid
        want = ref.classify(texts)
        assert len(body["results"]) == len(texts)
        for got, w in zip(body["results"], want, strict=True):
            assert got["score"] == pytest.approx(w.score, abs=1e-6)
            assert [n["similarity"] for n in got["neighbors"]] == pytest.approx(
                [n.similarity for n in w.neighbors], abs=1e-6)
    stats = app.state.batcher.stats
    assert stats.batches - before < 96  # some requests shared a batch
    assert stats.max_batch_seen > 3


# ---- the batcher on its own ----------------------------------------------------------------------------------
def test_a_bad_request_fails_alone_before_it_joins_a_batch():
    """``check`` refuses a request when it is submitted: it never reaches ``fn`` and the others are served, each
    text run once."""
    calls = []

    def fn(texts):
        calls.append(list(texts))
        return [t.upper() for t in texts]

    def check(texts):
        if "boom" in texts:
            raise ValueError("'boom' is not a prompt")

    b = MicroBatcher(fn, max_batch=8, max_wait_ms=50, check=check).start()
    try:
        futs = [b.submit(["a", "b"]), b.submit(["boom"]), b.submit(["c"]), b.submit([f"x{i}" for i in range(10)])]
        assert futs[0].result(5) == ["A", "B"]
        with pytest.raises(ValueError, match="'boom' is not a prompt"):
            futs[1].result(5)
        assert futs[2].result(5) == ["C"]
        assert futs[3].result(5) == [f"X{i}" for i in range(10)]
    finally:
        b.stop()
    assert sorted(t for c in calls for t in c) == sorted(["a", "b", "c", *[f"x{i}" for i in range(10)]])
    assert b.stats.texts == 13
    assert not b.alive


def test_a_failed_batch_fails_each_of_its_requests_without_embedding_them_again():
    """The batch's error goes to every request in it; nothing is prepared or searched a second time, and the
    worker goes on serving."""
    prepared, searched, broken = [], [], [True]

    def prepare(texts):
        prepared.append(list(texts))
        return texts

    def fn(work):
        searched.append(list(work))
        if broken[0]:
            raise RuntimeError("the index is broken")
        return [t.upper() for t in work]

    b = MicroBatcher(fn, prepare=prepare, max_batch=4, max_wait_ms=2000).start()  # four texts fill the batch
    try:
        futs = [b.submit(["a", "b"]), b.submit(["c"]), b.submit(["d"])]
        for f in futs:
            with pytest.raises(RuntimeError, match="the index is broken"):
                f.result(10)
        assert prepared == [["a", "b", "c", "d"]] and searched == [["a", "b", "c", "d"]]
        broken[0] = False
        assert b.submit(["e"]).result(10) == ["E"]
    finally:
        b.stop()


@pytest.mark.parametrize("workers", [1, 2])
def test_two_workers_embed_two_batches_at_once_and_search_one_at_a_time(workers):
    """Each worker prepares its own batch concurrently; the searches (under the lock) never overlap."""
    both = threading.Barrier(2, timeout=2)
    inside, overlap, lock = [0], [], WriterFirstLock()

    def prepare(texts):
        try:
            both.wait()  # passes only when two batches are being prepared at the same time
        except threading.BrokenBarrierError:
            return [(t, "alone") for t in texts]
        return [(t, "together") for t in texts]

    def fn(work):
        inside[0] += 1
        overlap.append(inside[0])
        time.sleep(0.01)
        inside[0] -= 1
        return [f"{t}:{how}" for t, how in work]

    b = MicroBatcher(fn, prepare=prepare, max_batch=1, max_wait_ms=0, lock=lock, workers=workers).start()
    try:
        futs = [b.submit([f"t{i}"]) for i in range(6)]
        got = [f.result(10) for f in futs]
    finally:
        b.stop()
    assert [g[0].split(":")[0] for g in got] == [f"t{i}" for i in range(6)]  # each request its own results
    assert max(overlap) == 1
    assert b.stats.texts == 6 and b.stats.requests == 6
    assert any("together" in g[0] for g in got) == (workers == 2)
    assert not b.alive
    with pytest.raises(ConfigError, match="workers"):
        MicroBatcher(fn, workers=0)


def test_batcher_widens_its_wait_window_after_slow_batches():
    b = MicroBatcher(lambda texts: (time.sleep(0.2), texts)[1], max_wait_ms=1, adaptive_wait=0.1,
                     max_adaptive_wait_ms=50).start()
    try:
        assert b.wait_window == pytest.approx(0.001)
        b.submit(["a"]).result(10)
        assert 0.015 <= b.wait_window <= 0.05  # 10% of a >= 0.2 s batch, capped at 50 ms
    finally:
        b.stop()
    off = MicroBatcher(lambda texts: texts, max_wait_ms=2, adaptive_wait=0.0)
    off._batch_seconds = 10.0
    assert off.wait_window == pytest.approx(0.002)


def test_batcher_refuses_work_beyond_its_queue():
    gate = threading.Event()
    b = MicroBatcher(lambda texts: (gate.wait(5), texts)[1], max_batch=1, max_wait_ms=0, max_queue=2).start()
    try:
        first = b.submit(["a"])
        time.sleep(0.2)  # the worker holds "a"
        b.submit(["b"]), b.submit(["c"])
        with pytest.raises(OverloadedError, match="limit 2"):
            b.submit(["d"])
        gate.set()
        assert first.result(5) == ["a"]
    finally:
        gate.set()
        b.stop()


# ---- binding rules and the CLI -------------------------------------------------------------------------------
@pytest.mark.parametrize("host,loop", [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True),
                                       ("localhost", True), ("0.0.0.0", False), ("::", False),
                                       ("192.168.1.5", False), ("example.com", False)])
def test_is_loopback(host, loop):
    assert is_loopback(host) is loop


def test_a_non_loopback_bind_needs_a_token():
    with pytest.raises(ConfigError, match="needs a bearer token"):
        check_bind("0.0.0.0", None)
    check_bind("0.0.0.0", "t")
    check_bind("127.0.0.1", None)


def test_serve_cli_refuses_a_public_bind_without_token(tiny_detector_dir, monkeypatch, capsys):
    from safe_embed.cli import main

    monkeypatch.delenv("SAFE_EMBED_TOKEN", raising=False)
    assert main(["serve", str(tiny_detector_dir), "--host", "0.0.0.0"]) == 2
    assert "needs a bearer token" in capsys.readouterr().err


@pytest.mark.parametrize("flags,message", [(["--max-texts", "0"], "max_texts must be a positive integer"),
                                           (["--max-batch", "0"], "--max-batch must be >= 1"),
                                           (["--threads", "0"], "--threads must be >= 1"),
                                           (["--batch-workers", "0"], "--batch-workers must be >= 1"),
                                           (["--category-threshold", "S6=0.8"], "'S6': the detector has no such "
                                                                                "category")])
def test_serve_cli_refuses_bad_settings(tiny_detector_dir, capsys, flags, message):
    from safe_embed.cli import main

    assert main(["serve", str(tiny_detector_dir), *flags]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("flags,spin", [([], False), (["--spin"], True)])
def test_serve_loads_the_detector_without_spinning_threads_unless_asked(tiny_detector_dir, monkeypatch, flags, spin):
    from safe_embed.cli import main

    seen = {}

    def fake_load(path, **kw):
        seen.update(kw)
        raise ConfigError("stop after the load")

    monkeypatch.setattr(Detector, "load", staticmethod(fake_load))
    assert main(["serve", str(tiny_detector_dir), *flags]) == 2
    assert seen["spin"] is spin


def test_loopback_without_a_token_accepts_writes(tiny_detector_dir):
    det = Detector.load(tiny_detector_dir)
    with BackgroundServer(create_app(det)) as url:
        r = httpx.post(f"{url}/v1/exemplars", json={"exemplars": [{"text": "a brand new attack", "label": "unsafe",
                                                                   "category": "harm"}]}, timeout=30)
        assert r.status_code == 200 and r.json()["ids"] == ["api:0"]
        assert httpx.get(f"{url}/v1/info").json()["writes_need_token"] is False


@pytest.mark.slow
def test_safe_embed_serve_end_to_end(tiny_detector_dir, tmp_path):
    """The real command in a subprocess: serves, classifies like the library, persists an addition."""
    import shutil

    d = tmp_path / "det"
    shutil.copytree(tiny_detector_dir, d)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "safe_embed.cli", "serve", str(d), "--port", str(port),
                             "--token", TOKEN, "--persist", "--log-level", "warning"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stdout.read().decode()
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.2)
        got = httpx.post(f"{url}/v1/classify", json={"texts": ["build a bomb", "bake a cake"]}).json()["results"]
        want = Detector.load(d).classify(["build a bomb", "bake a cake"])
        assert [g["label"] for g in got] == [w.label for w in want]
        assert [g["score"] for g in got] == pytest.approx([w.score for w in want], abs=1e-5)
        with openai.OpenAI(base_url=f"{url}/v1", api_key=TOKEN, max_retries=0) as client:  # the real client
            moderated = client.moderations.create(input=["build a bomb", "bake a cake"]).results
        assert [m.flagged for m in moderated] == [g["label"] == "unsafe" for g in got]
        assert httpx.get(f"{url}/metrics").status_code == 401
        scraped = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
        assert 'safe_embed_texts_total{endpoint="/v1/moderations",status="200"} 2.0' in scraped
        r = httpx.post(f"{url}/v1/exemplars", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60,
                       json={"exemplars": [{"text": "steal a car", "label": "unsafe", "category": "harm"}]})
        assert r.status_code == 200 and r.json()["saved"] is True
        assert "steal a car" in {e.text for e in Detector.load(d).unsafe}
    finally:
        proc.terminate()
        proc.wait(30)


def test_free_port_is_bindable():
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_a_writer_goes_in_while_a_batch_is_being_prepared():
    """``prepare`` (the embedding) runs outside the lock: a writer waits for the short locked step only."""
    events, preparing, written = [], threading.Event(), threading.Event()
    lock = WriterFirstLock()

    def prepare(texts):
        preparing.set()
        written.wait(5)  # the batch stays in its preparing step until the writer is done (or 5 s, had it to wait)
        events.append("prepared")
        return [t.upper() for t in texts]

    b = MicroBatcher(lambda work: (events.append("read"), work)[1], prepare=prepare, max_wait_ms=0, lock=lock).start()
    try:
        fut = b.submit(["a", "b"])
        assert preparing.wait(5)
        with lock:
            events.append("write")
        written.set()
        assert fut.result(10) == ["A", "B"]
    finally:
        b.stop()
    assert events == ["write", "prepared", "read"]


def test_batched_results_match_a_brute_force_search_of_the_exemplars():
    """Requests from many threads, batched the service's way (embed, then search under the lock), get the
    neighbours, scores and labels of an exhaustive numpy search over the exemplars' own embeddings."""
    det = _detector()
    b = MicroBatcher(det.classify_prepared, prepare=det.prepare_classify, max_batch=16, max_wait_ms=20,
                     lock=WriterFirstLock(), workers=2).start()
    requests = [[f"request {r} text {k}: {(UNSAFE[(r + k) % 4][0] if (r + k) % 2 else SAFE[(r * k) % 4])}"
                 for k in range(1 + r % 3)] for r in range(24)]
    try:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda texts: b.submit(texts).result(30), requests))
    finally:
        b.stop()
    assert b.stats.batches < len(requests)  # some requests shared a batch

    texts = [t for req in requests for t in req]
    got = [d for ans in answers for d in ans]
    q = det.embed(texts)
    pools = {label: (exemplars, det.embed([e.text for e in exemplars]))
             for label, exemplars in (("unsafe", det.unsafe), ("safe", det.safe))}
    top = {}
    for label, (exemplars, vecs) in pools.items():
        sims = q @ vecs.T
        order = np.argsort(-sims, axis=1, kind="stable")
        top[label] = (np.take_along_axis(sims, order, axis=1), order)
    k = det.rule.k
    raw = det.rule.raw(top["unsafe"][0][:, :k], top["safe"][0][:, :k], q)
    want_scores = det.calibration.score(raw)
    n = det.settings.k_neighbors
    for r, d in enumerate(got):
        assert "matched" not in d.flags  # no query is a near copy of an exemplar
        assert d.score == pytest.approx(float(want_scores[r]), abs=1e-5)
        assert d.label == ("unsafe" if want_scores[r] >= det.calibration.threshold else "safe")
        near = sorted([(float(top[lab][0][r, j]), pools[lab][0][top[lab][1][r, j]].id)
                       for lab in pools for j in range(n)], reverse=True)[:n]
        assert [nb.similarity for nb in d.neighbors] == pytest.approx([s for s, _ in near], abs=1e-5)
        assert {nb.id for nb in d.neighbors} == {i for _, i in near}
