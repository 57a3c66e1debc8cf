"""Running the app with uvicorn, and the rule that writes need a token off loopback."""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time

from safe_embed.errors import ConfigError, ServiceUnavailableError

logger = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``; False for 0.0.0.0, :: and every other address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to expose unauthenticated writes: a non-loopback ``host`` needs a token."""
    if not is_loopback(host) and not token:
        raise ConfigError(f"binding to {host!r} (not loopback) needs a bearer token for POST /v1/exemplars. "
                          "Fix: pass --token or set $SAFE_EMBED_TOKEN, or bind to 127.0.0.1.")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


CONNECTION_LIMIT = 512  # concurrent connections + tasks before uvicorn answers 503
KEEP_ALIVE_S = 5  # an idle kept-alive connection is closed after this
HEADER_TIMEOUT_S = 10.0  # a connection must deliver a request's headers within this
MAX_HEADER_BYTES = 16 * 1024


def server_config(app, host: str, port: int, log_level: str = "info", limit_concurrency: int = CONNECTION_LIMIT,
                  header_timeout: float = HEADER_TIMEOUT_S, http_parser: str = "auto"):
    """The uvicorn configuration of the service: connection limit, keep-alive and header timeouts, header size,
    HTTP parser (``auto``: httptools when installed, else h11; see :mod:`safe_embed.serve.protocol`)."""
    import uvicorn

    from safe_embed.serve.protocol import with_header_timeout

    return uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False,
                          limit_concurrency=limit_concurrency, timeout_keep_alive=KEEP_ALIVE_S,
                          h11_max_incomplete_event_size=MAX_HEADER_BYTES,
                          http=with_header_timeout(header_timeout, MAX_HEADER_BYTES, http_parser))


class BackgroundServer:
    """uvicorn in a daemon thread (tests, notebooks, benchmarks): ``with BackgroundServer(app) as url: ...``."""

    def __init__(self, app, host: str = "127.0.0.1", port: int | None = None, log_level: str = "warning",
                 **config) -> None:
        import uvicorn

        self.host, self.port = host, port or free_port(host)
        self.server = uvicorn.Server(server_config(app, self.host, self.port, log_level, **config))
        self.thread = threading.Thread(target=self.server.run, name="safe-embed-uvicorn", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise ServiceUnavailableError(f"the service did not start on {self.url}")
            time.sleep(0.02)
        return self.url

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(30)
