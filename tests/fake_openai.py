"""A real HTTP server on 127.0.0.1 speaking the OpenAI ``/v1/embeddings`` and ``/v1/chat/completions`` protocols.

Tests queue one-off behaviours per endpoint (``queue("embeddings", 429, "malformed")``): an int answers with that
HTTP status (``(429, {"retry-after": "3"})`` adds headers), ``"malformed"`` answers 200 with a body that is not JSON, ``"drop"`` closes the connection without a
reply, a str (chat only) is the assistant's content, and a dict is returned as the JSON body. Without a queued
behaviour the server answers deterministically: embeddings from a text hash, chat with 5 edits of the prompt.
``die_after_chat=N`` makes the server shut itself down on the chat request after N answered ones.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

import numpy as np

ENDPOINTS = {"/v1/embeddings": "embeddings", "/v1/chat/completions": "chat"}


def fake_vector(text: str, dim: int) -> np.ndarray:
    """A deterministic unit vector for ``text``."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def default_chat(content: str) -> str:
    """Answer the contrast template like GPT-4o did: a fenced JSON object with 5 edits of the prompt."""
    m = re.search(r"^prompt: (.*)$", content, re.MULTILINE)
    original = m.group(1) if m else content[:40]
    n = int(re.search(r"into (\d+) safe prompts", content).group(1)) if "safe prompts" in content else 5
    body = {f"prompt_#{i}": {"modified_prompt": f"{original} (safe version {i})"} for i in range(1, n + 1)}
    return "```json\n" + json.dumps(body, indent=2) + "\n```"


class FakeOpenAI:
    """Start with ``with FakeOpenAI() as srv:``; point clients at ``srv.base_url``; inspect ``srv.requests``."""

    def __init__(self, dim: int = 8, api_key: str | None = "test-key",
                 chat: Callable[[str], str] = default_chat, die_after_chat: int | None = None) -> None:
        self.dim = dim
        self.die_after_chat = die_after_chat
        self.chat_served = 0
        self.api_key = api_key
        self.chat = chat
        self.requests: list[tuple[str, dict]] = []
        self._queues: dict[str, list] = {"embeddings": [], "chat": []}
        self._lock = threading.Lock()
        self._stop_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- control -------------------------------------------------------------------------------------------
    def queue(self, endpoint: str, *behaviours) -> None:
        with self._lock:
            self._queues[endpoint].extend(behaviours)

    def count(self, endpoint: str) -> int:
        return sum(1 for e, _ in self.requests if e == endpoint)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> Self:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._stop_lock:
            if self._server is not None:
                self._server.shutdown()
                self._server.server_close()
                self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- replies -------------------------------------------------------------------------------------------
    def _next(self, endpoint: str):
        with self._lock:
            q = self._queues[endpoint]
            return q.pop(0) if q else None

    def reply(self, endpoint: str, body: dict):
        """(status, payload, headers): payload is a dict (JSON), bytes (raw), or None (drop the connection)."""
        if endpoint == "chat" and self.die_after_chat is not None and self.chat_served >= self.die_after_chat:
            threading.Thread(target=self.stop).start()  # the server goes away mid-run
            return 0, None, {}
        b = self._next(endpoint)
        if b == "drop":
            return 0, None, {}
        if b == "malformed":
            return 200, b'{"object": "list", "data": [{"embedding": [0.1, ', {}
        headers = {}
        if isinstance(b, tuple):  # (status, headers), e.g. (429, {"retry-after": "3"})
            b, headers = b
        if isinstance(b, int):
            kind = "rate_limit_exceeded" if b == 429 else "server_error"
            return b, {"error": {"message": f"fake {b}", "type": kind, "code": kind}}, headers
        if isinstance(b, dict):
            return 200, b, {}
        if endpoint == "embeddings":
            return 200, self._embeddings(body), {}
        content = b if isinstance(b, str) else self.chat(body["messages"][-1]["content"])
        self.chat_served += 1
        return 200, {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": body.get("model"),
                     "choices": [{"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": content}}],
                     "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}, {}

    def _embeddings(self, body: dict) -> dict:
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        dim = body.get("dimensions") or self.dim
        data = []
        for i, text in enumerate(inputs):
            v = fake_vector(text, dim)
            emb = base64.b64encode(v.tobytes()).decode() if body.get("encoding_format") == "base64" else v.tolist()
            data.append({"object": "embedding", "index": i, "embedding": emb})
        data.reverse()  # the protocol orders by "index", not by position
        return {"object": "list", "data": data, "model": body.get("model"),
                "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}}


def _handler(fake: FakeOpenAI):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output quiet
            pass

        def _send(self, status: int, payload, headers: dict | None = None) -> None:
            raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:
            endpoint = ENDPOINTS.get(self.path.split("?")[0])
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            if endpoint is not None:
                with fake._lock:
                    fake.requests.append((endpoint, body))
            if endpoint is None:
                return self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            if fake.api_key and self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                return self._send(401, {"error": {"message": "bad key", "type": "invalid_request_error",
                                                  "code": "invalid_api_key"}})
            status, payload, headers = fake.reply(endpoint, body)
            if payload is None:
                self.close_connection = True
                self.connection.shutdown(2)
                return None
            return self._send(status, payload, headers)

    return Handler
