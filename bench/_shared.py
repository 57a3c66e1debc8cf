"""Helpers for the shared-journal benches: a real redis-server (the tests' launcher) and `safe-embed serve --shared`
replicas on loopback."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from redis_server import RedisServer, redis_binary  # the tests' launcher: AOF, fsync always
from service_load import start_service

TOKEN = "shared-bench-token"


def start_redis() -> RedisServer:
    if redis_binary() is None:
        sys.exit("error: redis-server is not installed. Fix: apt-get install -y redis-server")
    return RedisServer(Path(tempfile.mkdtemp(prefix="bench-redis-"))).start()


def start_replica(detector: Path, port: int, url: str, key: str):
    """``safe-embed serve DETECTOR --shared URL --shared-key KEY`` on ``port``, once it answers /healthz."""
    return start_service(detector, port, ["--shared", url, "--shared-key", key, "--token", TOKEN])


def info(base: str) -> dict:
    return httpx.get(f"{base}/v1/info", timeout=30).json()


def add(client: httpx.Client, base: str, text: str, category: str = "shared-bench") -> httpx.Response:
    return client.post(f"{base}/v1/exemplars", headers={"Authorization": f"Bearer {TOKEN}"},
                       json={"exemplars": [{"text": text, "label": "unsafe", "category": category}]})


def top_neighbours(client: httpx.Client, base: str, texts: list[str]) -> list[tuple[str, str]]:
    """(label, nearest exemplar id) of each text on the replica at ``base``."""
    out = []
    for s in range(0, len(texts), 200):
        r = client.post(f"{base}/v1/classify", json={"texts": texts[s:s + 200]})
        r.raise_for_status()
        out += [(d["label"], d["neighbors"][0]["id"] if d["neighbors"] else "") for d in r.json()["results"]]
    return out
