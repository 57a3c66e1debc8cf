"""uvicorn's HTTP/1.1 protocol with a deadline and a size limit for a request's headers.

uvicorn closes an idle keep-alive connection only after a response; a connection that never completes its first
request's headers (a slow or silent client) would stay open forever and hold a slot of ``limit_concurrency``.
Here every connection, and every kept-alive one after a response, must deliver complete request headers within
``header_timeout`` seconds or it is closed; request line and headers over ``max_header_bytes`` get a 400.

The parser is httptools (llhttp, in C) when it is installed, else h11 (pure Python). On 2 cores under 64 clients
h11 cost the service's event loop about a third of its time per request.
"""

from __future__ import annotations

import importlib.util

PARSERS = ("auto", "httptools", "h11")


def has_httptools() -> bool:
    return importlib.util.find_spec("httptools") is not None


def with_header_timeout(header_timeout: float, max_header_bytes: int, parser: str = "auto") -> type:
    """A uvicorn HTTP protocol class whose connections get ``header_timeout`` seconds and ``max_header_bytes`` per
    request's headers. ``parser``: ``httptools``, ``h11`` or ``auto`` (httptools when installed)."""
    if parser not in PARSERS:
        raise ValueError(f"parser must be one of {PARSERS}, got {parser!r}")
    if parser == "httptools" or (parser == "auto" and has_httptools()):
        return _httptools_protocol(header_timeout, max_header_bytes)
    return _h11_protocol(header_timeout, max_header_bytes)


class _Deadline:
    """The header deadline of one connection, armed when it opens and after each response, disarmed once a
    request's headers are complete (a mixin in front of a uvicorn protocol class; ``header_timeout`` is set by the
    subclass)."""

    _deadline = None
    header_timeout: float

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.header_timeout, self.timeout_keep_alive_handler)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)


def _h11_protocol(header_timeout: float, max_header_bytes: int) -> type:
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    timeout_s = header_timeout

    class HeaderTimeoutH11Protocol(_Deadline, H11Protocol):
        """h11 bounds headers that arrive slowly (the Config's ``h11_max_incomplete_event_size``, see
        :func:`safe_embed.serve.runner.server_config`); headers that arrive whole are measured here."""

        header_timeout = timeout_s

        def connection_made(self, transport) -> None:  # type: ignore[override]
            next_event = self.conn.next_event

            def measured_next_event():
                event = next_event()
                if isinstance(event, h11.Request) and len(event.target) + sum(
                        len(k) + len(v) + 4 for k, v in event.headers) > max_header_bytes:
                    raise h11.RemoteProtocolError(f"request headers over {max_header_bytes} bytes")  # -> 400
                return event

            self.conn.next_event = measured_next_event
            super().connection_made(transport)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.cycle is not None:  # the request's headers are complete: the handler runs now
                self._disarm()

    return HeaderTimeoutH11Protocol


def _httptools_protocol(header_timeout: float, max_header_bytes: int) -> type:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    timeout_s = header_timeout

    class HeadersTooLarge(Exception):
        pass

    class HeaderTimeoutHttpToolsProtocol(_Deadline, HttpToolsProtocol):
        header_timeout = timeout_s
        _header_bytes = 0

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._header_bytes = 0

        def _count(self, n: int) -> None:
            self._header_bytes += n
            if self._header_bytes > max_header_bytes:  # raised inside the parser: uvicorn answers 400 and closes
                raise HeadersTooLarge(f"request headers over {max_header_bytes} bytes")

        def on_url(self, url: bytes) -> None:
            self._count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value) + 4)
            super().on_header(name, value)

        def on_headers_complete(self) -> None:  # the handler runs now
            self._disarm()
            super().on_headers_complete()

    return HeaderTimeoutHttpToolsProtocol
