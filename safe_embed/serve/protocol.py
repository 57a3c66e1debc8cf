"""uvicorn's HTTP/1.1 protocol with a deadline for a request's headers.

uvicorn closes an idle keep-alive connection only after a response; a connection that never completes its first
request's headers (a slow or silent client) would stay open forever and hold a slot of ``limit_concurrency``.
Here every connection, and every kept-alive one after a response, must deliver complete request headers within
``header_timeout`` seconds or it is closed.
"""

from __future__ import annotations

from uvicorn.protocols.http.h11_impl import H11Protocol


def with_header_timeout(header_timeout: float) -> type[H11Protocol]:
    """An :class:`H11Protocol` subclass whose connections get ``header_timeout`` seconds per request's headers."""

    class HeaderTimeoutProtocol(H11Protocol):
        _deadline = None

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(header_timeout, self.timeout_keep_alive_handler)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def connection_made(self, transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.cycle is not None:  # the request's headers are complete: the handler runs now
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderTimeoutProtocol
