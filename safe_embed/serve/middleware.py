"""ASGI middleware of the service: a request body limit and a ``Host`` allow-list, both answered before routing."""

from __future__ import annotations

from starlette.responses import Response

from safe_embed.serve.http_errors import error_response
from safe_embed.serve.runner import is_loopback


class HostAllowList:
    """ASGI middleware: answer 400 to a request whose ``Host`` header is not allowed (DNS rebinding of a loopback
    service: a web page on a rebinding domain reaches 127.0.0.1 with its own host name)."""

    def __init__(self, app, allowed: set[str]) -> None:
        self.app, self.allowed = app, {h.lower() for h in allowed}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            raw = dict(scope["headers"]).get(b"host", b"").decode("latin-1").strip().lower()
            host = raw[1:raw.index("]")] if raw.startswith("[") and "]" in raw else raw.rsplit(":", 1)[0] \
                if raw.count(":") == 1 else raw
            if host not in self.allowed:
                return await error_response(400, "host_not_allowed", f"Host {raw!r} is not served here. Fix: "
                                            f"call the service by one of {sorted(self.allowed)}, or start it with "
                                            "--allow-host NAME.")(scope, receive, send)
        return await self.app(scope, receive, send)


def default_hosts(bound: str | None) -> set[str] | None:
    """The Host names a service bound to ``bound`` answers to: itself and the loopback names for a loopback
    address; None (any) for another address, which needs a token anyway.

    >>> sorted(default_hosts("127.0.0.1")), default_hosts("0.0.0.0")
    (['127.0.0.1', '::1', 'localhost'], None)
    """
    if bound is None or is_loopback(bound):
        return {"localhost", "127.0.0.1", "::1", *([bound.strip("[]")] if bound else [])}
    return None


class BodyLimit:
    """ASGI middleware: answer 413 to a request body over ``max_bytes`` (declared or streamed) before parsing."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    def _too_large(self, size: str) -> Response:
        return error_response(413, "body_too_large", f"the request body is {size} bytes; the limit is "
                              f"{self.max_bytes} bytes. Fix: send fewer or shorter texts per request.")

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                return await error_response(400, "bad_content_length", f"Content-Length {declared!r} is not "
                                            "an integer.")(scope, receive, send)
            if size > self.max_bytes:
                return await self._too_large(str(size))(scope, receive, send)
            return await self.app(scope, receive, send)
        # No Content-Length (chunked): read at most max_bytes, then replay the body to the app.
        chunks, total, more = [], 0, True
        while more:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            chunks.append(msg.get("body", b""))
            total += len(chunks[-1])
            more = msg.get("more_body", False)
            if total > self.max_bytes:
                return await self._too_large(f"more than {self.max_bytes}")(scope, receive, send)
        body, sent = b"".join(chunks), False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)
