"""Test helper: a real ``redis-server`` on a free loopback port, its data in a temporary directory, with the
durability the README asks for (``appendonly yes``, ``appendfsync always``); it can be stopped and restarted on
the same port and data."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Self

from safe_embed.serve.runner import free_port


def redis_binary() -> str | None:
    return shutil.which("redis-server")


class RedisServer:
    """``with RedisServer(tmp_dir) as srv: srv.url``; ``srv.stop()`` / ``srv.start()`` keep the port and data."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.dir, self.port = Path(data_dir), port or free_port()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Self:
        import redis

        self.proc = subprocess.Popen([redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--dir", str(self.dir), "--save", "", "--appendonly", "yes",
                                      "--appendfsync", "always", "--protected-mode", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                redis.Redis(port=self.port, socket_connect_timeout=0.5).ping()
                return self
            except redis.ConnectionError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.05)

    def stop(self, kill: bool = False) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill() if kill else self.proc.terminate()
            self.proc.wait(20)
        self.proc = None

    def client(self):
        import redis

        return redis.Redis(port=self.port, decode_responses=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_for(cond, timeout: float = 15.0) -> None:
    """Poll ``cond()`` until it holds (replicas apply each other's changes asynchronously); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.02)
