"""The Redis stream that the replicas of a detector share: conditional appends, reads, and compaction markers.

A stream ``safe-embed:{NAME}`` holds one entry per change (field ``record``: a checksummed journal line, see
:mod:`~safe_embed.detector.journal`) and, after each compaction, one marker entry (field ``compaction``). The hash
``safe-embed:{NAME}:compacted`` says up to which entry the stream was folded into a detector generation and trimmed.
Both keys share the hash tag ``{NAME}``, so a Redis cluster keeps them on one node (the scripts touch both).

An append is conditional (:meth:`RedisStream.append_after`): it is written only when the stream's last entry is
the one the writer has applied, so a change is always validated against every change before it, and two replicas
never hand out the same id. Redis confirms an append once it is stored as its persistence settings say
(``appendfsync always``: on disk before the reply; see the README).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from safe_embed.errors import ConfigError, ServiceUnavailableError

logger = logging.getLogger(__name__)

DEFAULT_KEY = "exemplars"
SOCKET_TIMEOUT_S = 5.0  # a command (a blocking read included) that takes longer means Redis is unreachable
CONNECT_TIMEOUT_S = 2.0

# KEYS[1] stream; ARGV[1] the entry id the writer applied last, ARGV[2..] field/value pairs.
_APPEND_AFTER = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local cur = '0-0'
if #last > 0 then cur = last[1][1] end
if cur ~= ARGV[1] then return {0, cur} end
return {1, redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))}
"""

# KEYS[1] stream, KEYS[2] compaction hash; ARGV: through, first id kept, generation, manifest sha256.
_COMPACT = """
local before = redis.call('HGET', KEYS[2], 'through')
if before then
  local bms, bseq = string.match(before, '(%d+)-(%d+)')
  local ms, seq = string.match(ARGV[1], '(%d+)-(%d+)')
  if tonumber(bms) > tonumber(ms) or (tonumber(bms) == tonumber(ms) and tonumber(bseq) >= tonumber(seq)) then
    return {0, before}
  end
end
local body = cjson.encode({through=ARGV[1], generation=tonumber(ARGV[3]), manifest_sha256=ARGV[4]})
local marker = redis.call('XADD', KEYS[1], '*', 'compaction', body)
redis.call('HSET', KEYS[2], 'through', ARGV[1], 'generation', ARGV[3], 'manifest_sha256', ARGV[4], 'marker', marker)
return {1, marker, redis.call('XTRIM', KEYS[1], 'MINID', ARGV[2])}
"""


class SharedUnavailableError(ServiceUnavailableError):
    """Redis cannot be reached, or the stream cannot take this replica's changes now; nothing was stored."""


@dataclass(frozen=True, order=True)
class EntryId:
    """A stream entry id ``MS-SEQ``, ordered as Redis orders them.

    >>> EntryId.parse("5-1") < EntryId.parse("10-0"), str(EntryId.parse("5-1").next())
    (True, '5-2')
    """

    ms: int
    seq: int

    @classmethod
    def parse(cls, text: str) -> EntryId:
        ms, _, seq = str(text).partition("-")
        if not (ms.isdigit() and seq.isdigit()):
            raise ConfigError(f"{text!r} is not a Redis stream entry id (MS-SEQ).")
        return cls(int(ms), int(seq))

    def next(self) -> EntryId:
        return EntryId(self.ms, self.seq + 1)

    def __str__(self) -> str:
        return f"{self.ms}-{self.seq}"


ZERO = EntryId(0, 0)


@dataclass(frozen=True)
class Entry:
    """One stream entry: its id and fields."""

    id: EntryId
    fields: dict[str, str]


@dataclass(frozen=True)
class Compaction:
    """The stream's entries up to ``through`` are in ``generation`` of the compacted detector directory (manifest
    checksum ``manifest_sha256``); ``marker`` is the marker entry's id."""

    through: EntryId
    generation: int
    manifest_sha256: str
    marker: EntryId

    def to_dict(self) -> dict:
        return {"through": str(self.through), "generation": self.generation,
                "manifest_sha256": self.manifest_sha256, "marker": str(self.marker)}


@dataclass(frozen=True)
class Appended:
    """The result of a conditional append: the new entry's id, or None and the stream's actual last entry."""

    id: EntryId | None
    last: EntryId


class RedisStream:
    """The shared stream ``NAME`` in the Redis at ``url`` (``redis://HOST:PORT/DB``). Every failure to reach Redis
    raises :class:`SharedUnavailableError` naming the URL. No command is retried here: callers decide."""

    def __init__(self, url: str, name: str = DEFAULT_KEY) -> None:
        try:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError:
            raise ConfigError("--shared needs the Redis client. Fix: pip install 'safe-embed[redis]'.") from None
        if not isinstance(name, str) or not name.strip() or any(c in name for c in "{} \n"):
            raise ConfigError(f"--shared-key must be a non-empty name without braces or spaces, got {name!r}.")
        try:
            self._redis = redis.Redis.from_url(url, decode_responses=True, socket_timeout=SOCKET_TIMEOUT_S,
                                               socket_connect_timeout=CONNECT_TIMEOUT_S, retry=Retry(NoBackoff(), 0))
        except ValueError as e:
            raise ConfigError(f"--shared {redacted(url)!r} is not a Redis URL ({e}). Fix: give "
                              "redis://HOST:PORT/DB.") from None
        self.url, self.name = redacted(url), name  # the URL as logs and errors show it
        self.key = f"safe-embed:{{{name}}}"
        self._compacted_key = self.key + ":compacted"
        self._append = self._redis.register_script(_APPEND_AFTER)
        self._compact = self._redis.register_script(_COMPACT)

    def _call(self, what: str, fn, *args, **kwargs):
        import redis

        try:
            return fn(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
            raise SharedUnavailableError(f"cannot reach Redis at {self.url} ({what}: {str(e).splitlines()[0]}). "
                                         "Fix: start Redis or check --shared.") from None
        except redis.ResponseError as e:
            raise SharedUnavailableError(f"Redis at {self.url} refused {what}: {e}. Fix: check the server "
                                         "(version 7 or later, not read-only).") from None

    def ping(self) -> None:
        """Raise :class:`SharedUnavailableError` unless Redis answers."""
        self._call("PING", self._redis.ping)

    def append_after(self, last: EntryId, fields: dict[str, str]) -> Appended:
        """Append an entry with ``fields`` if the stream's last entry is ``last`` (atomic, one script)."""
        flat = [x for kv in fields.items() for x in kv]
        ok, value = self._call("an append", self._append, keys=[self.key], args=[str(last), *flat])
        return Appended(EntryId.parse(value), last) if ok else Appended(None, EntryId.parse(value))

    def read(self, after: EntryId, block_ms: int | None = None, count: int = 1000) -> list[Entry]:
        """Entries after ``after``, oldest first (at most ``count``); ``block_ms``: wait that long for one."""
        if block_ms is None:
            rows = self._call("XRANGE", self._redis.xrange, self.key, f"({after}", "+", count=count)
        else:
            got = self._call("XREAD", self._redis.xread, {self.key: str(after)}, count=count, block=block_ms)
            rows = got[0][1] if got else []
        return [Entry(EntryId.parse(i), dict(f)) for i, f in rows]

    def last_id(self) -> EntryId:
        """The last entry's id (``0-0`` for an empty stream)."""
        rows = self._call("XREVRANGE", self._redis.xrevrange, self.key, "+", "-", count=1)
        return EntryId.parse(rows[0][0]) if rows else ZERO

    def length(self) -> int:
        return int(self._call("XLEN", self._redis.xlen, self.key))

    def compaction(self) -> Compaction | None:
        """The last compaction, or None."""
        h = self._call("HGETALL", self._redis.hgetall, self._compacted_key)
        if not h:
            return None
        return Compaction(EntryId.parse(h["through"]), int(h["generation"]), h["manifest_sha256"],
                          EntryId.parse(h["marker"]))

    def compact(self, through: EntryId, generation: int, manifest_sha256: str) -> tuple[Compaction, int]:
        """Record that entries up to ``through`` are in detector ``generation``, append the marker entry and trim
        the entries up to ``through`` (atomically; entries appended after ``through`` stay). Returns the
        compaction and how many entries were trimmed."""
        got = self._call("the compaction", self._compact, keys=[self.key, self._compacted_key],
                         args=[str(through), str(through.next()), generation, manifest_sha256])
        if not got[0]:
            raise ConfigError(f"the stream {self.key} was already compacted through {got[1]}, not before "
                              f"{through}. Fix: run compact again; it reads the stream from the start.")
        return Compaction(through, generation, manifest_sha256, EntryId.parse(got[1])), int(got[2])

    def durability(self) -> dict:
        """Redis's persistence settings (``appendonly``, ``appendfsync``), or ``{"unknown": reason}`` where the
        server does not expose CONFIG."""
        try:
            got = self._call("CONFIG GET", self._redis.config_get, "append*")
        except SharedUnavailableError as e:
            return {"unknown": str(e)}
        return {k: got.get(k) for k in ("appendonly", "appendfsync")}

    def close(self) -> None:
        self._redis.close()


def redacted(url: str) -> str:
    """``url`` without its password, for logs and error messages.

    >>> redacted("redis://user:secret@cache:6379/0"), redacted("redis://127.0.0.1:6379/0")
    ('redis://user:***@cache:6379/0', 'redis://127.0.0.1:6379/0')
    """
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def marker_of(entry: Entry) -> dict | None:
    """The compaction a marker entry announces, or None for a change entry."""
    return json.loads(entry.fields["compaction"]) if "compaction" in entry.fields else None
