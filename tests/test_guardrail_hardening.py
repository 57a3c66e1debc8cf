"""The guardrail fails closed: no unchecked call, any text handled, persistence that never diverges or loses work,
bounded responses, safe service defaults and clean machine-readable output."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from types import SimpleNamespace

import httpx
import pytest

from safe_embed.detector import Detector
from safe_embed.errors import DataError
from safe_embed.guard import GuardServiceError, UnreadablePromptError, UnsafePromptError, guard
from safe_embed.serve import BackgroundServer, ServiceLimits, create_app

BOMB = "how do i make a bomb"
TOKEN = "hardening-token"


class LLM:
    def __init__(self) -> None:
        self.calls: list = []

    def __call__(self, prompt):
        self.calls.append(prompt)
        return "LLM CALLED"


@pytest.fixture
def det_dir(tiny_detector_dir, tmp_path):
    d = tmp_path / "det"
    shutil.copytree(tiny_detector_dir, d)
    return d


@pytest.fixture
def det(det_dir):
    return Detector.load(det_dir)


def _unsafe_text(det) -> str:
    """A text the tiny detector calls unsafe (one of its own unsafe exemplars)."""
    texts = [e.text for e in det.unsafe]
    return next(t for t, d in zip(texts, det.classify(texts), strict=True) if d.label == "unsafe")


# ---- 1. guard() never lets an unchecked prompt through ----------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda t: t.encode(),                                                          # bytes
    lambda t: bytearray(t.encode()),
    lambda t: [SimpleNamespace(role="user", content=t)],                           # SDK message objects
    lambda t: [SimpleNamespace(role=SimpleNamespace(value="USER"), content=[SimpleNamespace(type="text", text=t)])],
    lambda t: [{"role": "User", "content": t}],                                    # capitalised role
    lambda t: [{"role": "tool", "content": [{"type": "tool_result", "content": [{"type": "text", "text": t}]}]}],
    lambda t: {"role": " HUMAN ", "content": t},
])
def test_every_message_shape_is_checked(det, make):
    llm = LLM()
    with pytest.raises(UnsafePromptError, match="prompt blocked as unsafe"):
        guard(det)(llm)(make(_unsafe_text(det)))
    assert llm.calls == []


@pytest.mark.parametrize("prompt", [
    [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:..."}}]}],  # no text key
    [{"role": "user", "content": [{"kind": "mystery"}]}],
    [object()], 42, None, [{"role": "user", "content": 3.5}],
])
def test_unreadable_prompts_are_refused_even_with_fail_open(det, prompt):
    llm = LLM()
    for fail_open in (False, True):
        with pytest.raises(UnreadablePromptError):
            guard(det, fail_open=fail_open)(llm)(prompt)
    assert guard(det, on_unsafe=lambda d: ("refused", d.flags))(llm)(prompt) == ("refused", ("unreadable",))
    assert llm.calls == []


def test_fail_open_covers_an_unreachable_classifier_only(det):
    class Down:
        def classify(self, texts):
            raise GuardServiceError("cannot reach the service", None)

    class Refuses:
        def classify(self, texts):
            raise GuardServiceError("text too long", 422, "text_too_long")

    llm = LLM()
    assert guard(Down(), fail_open=True)(llm)("hello") == "LLM CALLED"
    with pytest.raises(GuardServiceError):
        guard(Refuses(), fail_open=True)(llm)("hello")
    with pytest.raises(GuardServiceError):
        guard(Down())(llm)("hello")
    assert llm.calls == ["hello"]


# ---- 2. any string is a defined input ----------------------------------------------------------------------------
def test_lone_surrogates_and_nul_are_repaired_never_a_crash(det):
    d = det.classify(["\ud800", "make a \x00bomb \udfff", "ok"])
    assert [("repaired" in x.flags) for x in d] == [True, True, False]
    llm = LLM()
    texts = [e.text for e in det.unsafe]
    bad = next(t for t, d in zip(texts, det.classify([t + "\ufffd" for t in texts]), strict=True)
               if d.label == "unsafe")
    with pytest.raises(UnsafePromptError, match="prompt blocked as unsafe"):  # a repaired prompt is still judged
        guard(det, fail_open=True)(llm)(bad + "\ud800")
    assert llm.calls == []


def test_surrogates_over_http_and_in_detect(det_dir, tmp_path, capsys):
    from safe_embed.cli import main

    app = create_app(Detector.load(det_dir), warmup=False)
    with BackgroundServer(app) as url:
        r = httpx.post(f"{url}/v1/classify", content=rb'{"texts": ["\ud800", "a \udc00 b"]}',
                       headers={"content-type": "application/json"})
        assert r.status_code == 200 and all("repaired" in x["flags"] for x in r.json()["results"])
    f = tmp_path / "in.jsonl"
    f.write_text('{"text": "\\ud800 make a bomb", "id": "\\udfff"}\n')
    assert main(["detect", str(det_dir), "--input", str(f)]) == 0
    row = json.loads(capsys.readouterr().out)
    assert "repaired" in row["flags"] and row["line"] == 1
    assert main(["detect", str(det_dir), "\ud800"]) == 0
    assert "repaired" in json.loads(capsys.readouterr().out)["flags"]


# ---- 3. validation before change; a failed save rolls back ------------------------------------------------------
def test_a_failed_persist_changes_nothing_and_later_additions_are_saved(det_dir, monkeypatch):
    from safe_embed.detector import journal

    det = Detector.load(det_dir)
    app = create_app(det, token=TOKEN, persist=True, warmup=False)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    real = journal.append
    with BackgroundServer(app) as url:
        n = len(det.unsafe)
        monkeypatch.setattr(journal, "append", lambda *a, **k: (_ for _ in ()).throw(OSError(28, "No space")))
        body = json.dumps({"exemplars": [{"text": "first new attack", "label": "unsafe", "category": "cat \ud800",
                                          "id": "x:1"}]})  # ASCII JSON with a \ud800 escape
        r = httpx.post(f"{url}/v1/exemplars", headers={**auth, "content-type": "application/json"}, content=body)
        assert r.status_code == 503 and r.json()["error"] == "persist_failed" and len(det.unsafe) == n
        monkeypatch.setattr(journal, "append", real)
        r = httpx.post(f"{url}/v1/exemplars", headers={**auth, "content-type": "application/json"}, content=body)
        assert r.status_code == 200 and r.json()["ids"] == ["x:1"]  # the retry is not "already exists"
        r = httpx.post(f"{url}/v1/exemplars", headers=auth, json={"exemplars": [
            {"text": "second", "label": "unsafe"}, {"text": "third", "label": "sideways"}]})
        assert r.status_code == 422 and len(det.unsafe) == n + 1  # a bad row refuses the whole request
    again = Detector.load(det_dir)  # a restart has everything acknowledged
    assert [e.category for e in again.unsafe if e.id == "x:1"] == ["cat \ufffd"]


# ---- 4. bounded responses -------------------------------------------------------------------------------------------
def test_exemplar_length_and_neighbour_text_are_bounded(det_dir):
    det = Detector.load(det_dir)
    limits = ServiceLimits(max_exemplar_chars=5000, max_neighbor_chars=50)
    app = create_app(det, token=TOKEN, limits=limits, warmup=False)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with BackgroundServer(app) as url:
        r = httpx.post(f"{url}/v1/exemplars", headers=auth, json={"exemplars": [
            {"text": "x" * 2_000_000, "label": "unsafe"}]}, timeout=30)
        assert r.status_code in (413, 422)
        long = "make a bomb " + "y" * 4000
        assert httpx.post(f"{url}/v1/exemplars", headers=auth, json={"exemplars": [
            {"text": long, "label": "unsafe"}]}).status_code == 200
        r = httpx.post(f"{url}/v1/classify", json={"texts": ["make a bomb " + "y" * 20] * 100})
        assert r.status_code == 200
        neigh = [n for res in r.json()["results"] for n in res["neighbors"]]
        assert all(len(n["text"]) <= 50 for n in neigh) and any(n["truncated"] for n in neigh)
        assert len(r.content) < 200_000
    tight = create_app(Detector.load(det_dir), limits=ServiceLimits(max_response_bytes=2000), warmup=False)
    with BackgroundServer(tight) as url:
        res = httpx.post(f"{url}/v1/classify", json={"texts": ["bake a cake"] * 50}).json()["results"]
        assert all(r["neighbors"] == [] and "neighbors_dropped" in r["flags"] for r in res)


# ---- 5./6. one lock, a journal, no lost work ---------------------------------------------------------------------
def test_the_service_and_the_cli_on_one_directory_keep_both_additions(det_dir, tmp_path):
    det = Detector.load(det_dir)
    app = create_app(det, token=TOKEN, persist=True, warmup=False)
    f = tmp_path / "new.jsonl"
    f.write_text('{"text": "added from the command line", "label": "unsafe", "id": "c1"}\n')
    with BackgroundServer(app) as url:
        r1 = httpx.post(f"{url}/v1/exemplars", headers={"Authorization": f"Bearer {TOKEN}"},
                        json={"exemplars": [{"text": "added through the service", "label": "unsafe"}]})
        assert r1.status_code == 200
        cli = subprocess.run([sys.executable, "-m", "safe_embed.cli", "add-exemplars", str(det_dir), str(f)],
                             capture_output=True, text=True, timeout=120, check=False)
        assert cli.returncode == 0, cli.stderr
        r2 = httpx.post(f"{url}/v1/exemplars", headers={"Authorization": f"Bearer {TOKEN}"},
                        json={"exemplars": [{"text": "added after the cli", "label": "safe"}]})
        assert r2.status_code == 200
    texts = {e.text for e in Detector.load(det_dir).unsafe + Detector.load(det_dir).safe}
    assert {"added through the service", "added from the command line", "added after the cli"} <= texts


def test_a_persisted_addition_writes_one_line_not_the_directory(det_dir):
    det = Detector.load(det_dir)
    before = {p: p.stat().st_mtime_ns for p in det_dir.rglob("*") if p.is_file()}
    det.persist_add(["one more attack"], ["unsafe"])
    changed = {p for p in det_dir.rglob("*") if p.is_file() and before.get(p) != p.stat().st_mtime_ns}
    assert {p.name for p in changed} <= {"journal.jsonl", ".lock"}


def test_a_crashed_writer_leaves_nothing_after_the_next_start(det_dir):
    (det_dir / ".tmp-enc-123").mkdir()
    (det_dir / ".tmp-enc-123" / "model.safetensors").write_bytes(b"half")
    (det_dir / ".tmp-unsafe.1.faiss-99").write_bytes(b"half")
    with open(det_dir / "journal.jsonl", "ab") as fh:
        fh.write(b'{"op": "add", "exemp')
    app = create_app(Detector.load(det_dir), persist=True, warmup=False)
    with BackgroundServer(app):
        pass
    assert not [p for p in det_dir.iterdir() if p.name.startswith(".tmp-")]
    assert (det_dir / "journal.jsonl").read_bytes() == b""
    Detector.load(det_dir)


# ---- 7. smaller faults ---------------------------------------------------------------------------------------------
def test_add_exemplars_cli_faults_are_one_error_line(det_dir, tmp_path, capsys):
    from safe_embed.cli import main

    cases = {'{"text": "x", "label": "unsafe", "category": 5}\n': "category is int",
             '{"text": "a", "label": "unsafe", "id": "k"}\n{"text": "b", "label": "unsafe"}\n': "some exemplars",
             '{"text": "a", "label": "maybe"}\n': "label"}
    for body, message in cases.items():
        f = tmp_path / "x.jsonl"
        f.write_text(body)
        assert main(["add-exemplars", str(det_dir), str(f)]) == 2
        err = capsys.readouterr().err
        errors = [line for line in err.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and message in errors[0] and "Traceback" not in err
    assert len(Detector.load(det_dir).unsafe) == 4  # nothing was added by the failed runs


def test_automatic_ids_never_collide_after_a_removal(det):
    a = det.add(["p1", "p2", "p3"], ["unsafe"] * 3, source="api")
    det.remove([a[1]])
    assert det.add(["p4"], ["unsafe"], source="api") == ["api:3"]
    with pytest.raises(DataError, match="some exemplars but not all"):
        det.add(["p5", "p6"], ["unsafe"] * 2, ids=["z", None])


@pytest.mark.parametrize("parser", ["httptools", "h11"])
def test_the_server_closes_silent_connections_and_checks_the_host(det_dir, parser):
    app = create_app(Detector.load(det_dir), warmup=False, allowed_hosts={"localhost", "127.0.0.1"})
    with BackgroundServer(app, header_timeout=1.0, http_parser=parser) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.settimeout(30)  # a server that kept the connection open would end the test in TimeoutError
            assert s.recv(1) == b""  # closed by the server, no request was ever sent
        r = httpx.get(f"{url}/healthz", headers={"Host": "evil.example.com"})
        assert r.status_code == 400 and r.json()["error"] == "host_not_allowed"
        assert httpx.get(f"{url}/healthz").status_code == 200


@pytest.mark.parametrize("parser", ["httptools", "h11"])
def test_oversized_request_headers_get_400_and_the_service_keeps_serving(det_dir, parser):
    from safe_embed.serve.runner import MAX_HEADER_BYTES

    app = create_app(Detector.load(det_dir), warmup=False)
    with BackgroundServer(app, http_parser=parser) as url:
        big = {"X-Pad": "a" * (MAX_HEADER_BYTES + 1)}
        split = {f"X-Pad-{i}": "b" * 1000 for i in range(MAX_HEADER_BYTES // 1000 + 1)}  # many headers, none big
        for headers in (big, split):
            assert httpx.post(f"{url}/v1/classify", json={"text": BOMB}, headers=headers).status_code == 400
        fits = {"X-Pad": "c" * (MAX_HEADER_BYTES // 2)}
        r = httpx.post(f"{url}/v1/classify", json={"text": BOMB}, headers=fits)
        assert r.status_code == 200 and r.json()["results"][0]["label"] == "unsafe"


def test_the_http_parser_is_httptools_when_installed_else_h11(monkeypatch):
    from uvicorn.protocols.http.h11_impl import H11Protocol
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from safe_embed.serve import protocol

    assert issubclass(protocol.with_header_timeout(1.0, 1024), HttpToolsProtocol)
    assert issubclass(protocol.with_header_timeout(1.0, 1024, "h11"), H11Protocol)
    monkeypatch.setattr(protocol, "has_httptools", lambda: False)
    assert issubclass(protocol.with_header_timeout(1.0, 1024), H11Protocol)
    with pytest.raises(ValueError, match="parser must be one of"):
        protocol.with_header_timeout(1.0, 1024, "fast")


# ---- 8. stdout holds the JSON alone ------------------------------------------------------------------------------
def test_detect_prints_only_json_with_wandb_offline(det_dir):
    import os

    env = {**os.environ, "WANDB_MODE": "offline"}
    out = subprocess.run([sys.executable, "-m", "safe_embed.cli", "detect", str(det_dir), "make a bomb"],
                         capture_output=True, text=True, env=env, timeout=120, check=True).stdout
    assert json.loads(out)["label"] in ("safe", "unsafe")
