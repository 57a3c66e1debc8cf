"""`safe-embed serve --shared`: two services sharing additions through a real redis-server, degraded while Redis
is away, refusing to start without it, and `safe-embed compact`."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
from redis_server import wait_for

from safe_embed.cli import main
from safe_embed.detector import Detector
from safe_embed.detector.shared_records import fields_of
from safe_embed.detector.shared_replica import SharedReplica
from safe_embed.detector.shared_stream import RedisStream
from safe_embed.serve import BackgroundServer, create_app
from safe_embed.serve.runner import free_port

KEY = "svc"


def service(detector_copy, url: str, optional: bool = False) -> BackgroundServer:
    det = Detector.load(detector_copy)
    return BackgroundServer(create_app(det, shared=SharedReplica(det, RedisStream(url, KEY)).open(optional)))


def add(url: str, text: str) -> httpx.Response:
    return httpx.post(f"{url}/v1/exemplars", json={"exemplars": [{"text": text, "label": "unsafe",
                                                                  "category": "shared"}]}, timeout=30)


def test_two_services_share_additions_and_degrade_while_redis_is_away(detector_copy, redis_server):
    with service(detector_copy, redis_server.url) as a, service(detector_copy, redis_server.url) as b:
        r = add(a, "paint the fence with stolen credit cards")
        assert r.status_code == 200 and r.json()["ids"] == ["api:0"] and r.json()["saved"] is True
        wait_for(lambda: httpx.get(f"{b}/v1/info").json()["exemplars"] == httpx.get(f"{a}/v1/info").json()["exemplars"])
        near = httpx.post(f"{b}/v1/classify", json={"text": "paint the fence with stolen credit cards!"}).json()
        assert near["results"][0]["neighbors"][0]["id"] == "api:0"
        assert httpx.get(f"{b}/healthz").json() == {"status": "ok"}

        redis_server.stop()
        r = add(a, "added while Redis is away")
        assert r.status_code == 503 and r.json()["error"] == "shared_unavailable"
        assert "cannot reach Redis" in r.json()["message"]
        wait_for(lambda: httpx.get(f"{b}/healthz").json()["status"] == "degraded")
        assert httpx.get(f"{b}/healthz").status_code == 200
        assert httpx.post(f"{b}/v1/classify", json={"text": "hello"}).status_code == 200
        time.sleep(0.2)
        info = httpx.get(f"{b}/v1/info").json()["shared"]
        assert info["connected"] is False and info["lag_s"] > 0 and info["key"] == "safe-embed:{svc}"

        redis_server.start()
        wait_for(lambda: httpx.get(f"{b}/healthz").json()["status"] == "ok")
        assert add(a, "added once Redis is back").json()["ids"] == ["api:1"]
        wait_for(lambda: httpx.get(f"{b}/v1/info").json()["exemplars"]["unsafe"] == 6)
        info_a, info_b = (httpx.get(f"{u}/v1/info").json() for u in (a, b))
        assert info_a["exemplars"] == info_b["exemplars"]
        assert info_a["shared"]["position"] == info_b["shared"]["position"]


def test_info_counts_records_refused_for_their_embedding_space(detector_copy, redis_server):
    foreign = Detector.load(detector_copy).prepare_add(["embedded by another model"], ["unsafe"])
    stream = RedisStream(redis_server.url, KEY)
    with service(detector_copy, redis_server.url) as url:
        stream.append_after(stream.last_id(), fields_of(foreign, {}, "fedcba9876543210"))
        wait_for(lambda: httpx.get(f"{url}/v1/info").json()["shared"]["refused"] == {"embedding_space": 1})
        assert httpx.get(f"{url}/v1/info").json()["exemplars"]["unsafe"] == 4


def test_shared_optional_starts_degraded_and_refuses_additions(detector_copy):
    with service(detector_copy, f"redis://127.0.0.1:{free_port()}/0", optional=True) as url:
        health = httpx.get(f"{url}/healthz").json()
        assert health["status"] == "degraded" and "cannot reach Redis" in health["reason"]
        assert add(url, "nowhere to store it").status_code == 503
        assert httpx.post(f"{url}/v1/classify", json={"text": "hello"}).status_code == 200


def test_serve_refuses_to_start_when_redis_is_unreachable(detector_copy):
    p = subprocess.run([sys.executable, "-m", "safe_embed.cli", "serve", str(detector_copy), "--port", str(free_port()),
                        "--shared", f"redis://127.0.0.1:{free_port()}/0"], capture_output=True, text=True,
                       timeout=120, check=False)
    assert p.returncode == 2
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach Redis at redis://127.0.0.1:")


def test_serve_refuses_shared_with_persist(detector_copy, capsys):
    assert main(["serve", str(detector_copy), "--shared", "redis://127.0.0.1:1/0", "--persist"]) == 2
    assert "--persist and --shared" in capsys.readouterr().err


def test_compact_command_folds_the_stream_into_a_generation(detector_copy, redis_server, capsys):
    with service(detector_copy, redis_server.url) as a:
        add(a, "to be compacted")
    assert main(["compact", str(detector_copy), "--shared", redis_server.url, "--shared-key", KEY]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["generation"], result["records"], result["trimmed"]) == (1, 1, 1)
    assert Detector.load(detector_copy).provenance["shared"]["key"] == KEY
    assert "to be compacted" in {e.text for e in Detector.load(detector_copy).unsafe}
