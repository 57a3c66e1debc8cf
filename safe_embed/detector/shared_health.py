"""A shared replica's connection state: reachable or not, since when it last held every record, and whether the
stream can still continue its state (:class:`StreamHealth`); and the status it reports (:class:`SharedStatus`)."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SharedStatus:
    """A replica's view of the shared stream (``/v1/info``'s ``shared``). ``lag_s``: seconds since the replica
    last knew it held every record (0 while healthy); ``refused``: records not applied, by reason."""

    key: str
    healthy: bool
    connected: bool
    reason: str | None
    position: str
    applied: int
    refused: dict[str, int]
    lag_s: float
    compaction: dict | None
    durability: dict

    def to_dict(self) -> dict:
        return asdict(self)


class StreamHealth:
    """Whether the stream ``key`` is reachable (each change logged once) and usable (``broken``: a reason it can
    never continue this replica's state, kept until a restart).

    >>> h = StreamHealth("k"); h.connected_now(); h.healthy, h.lag_s() == 0.0
    (True, True)
    """

    def __init__(self, key: str) -> None:
        self.key = key
        self.connected = False
        self.error: str | None = None
        self.broken: str | None = None
        self._synced_at = time.monotonic()

    @property
    def healthy(self) -> bool:
        return self.connected and self.broken is None

    @property
    def reason(self) -> str | None:
        return self.broken or self.error

    def connected_now(self, position: object = None) -> None:
        """Redis answered and the replica holds every record it has read."""
        if not self.connected and self.error is not None:
            logger.warning("shared stream %s reachable again; resumed after entry %s", self.key, position)
        self.connected, self.error = True, None
        self._synced_at = time.monotonic()

    def disconnected(self, e: Exception) -> None:
        if self.connected or self.error is None:
            logger.error("shared stream unavailable (%s); classifying with the exemplars applied so far", e)
        self.connected, self.error = False, str(e)

    def break_(self, reason: str) -> None:
        if self.broken is None:
            logger.error(reason)
        self.broken = reason

    def lag_s(self) -> float:
        return 0.0 if self.healthy else round(time.monotonic() - self._synced_at, 3)
