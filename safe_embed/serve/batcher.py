"""Micro-batching: requests that arrive together go through the detector as one batch.

Each request puts ``(texts, future)`` on a queue; a worker thread takes the first
waiting request, then keeps taking requests until the batch holds ``max_batch`` texts or the wait window has passed
since the first one arrived, classifies the concatenated texts in one call and hands each request its own slice,
in order. The window is ``max_wait_ms``, widened to ``adaptive_wait`` times the recent batch run time (at most
``max_adaptive_wait_ms``): when batches are slow, as under many concurrent clients, waiting a little longer for
the clients about to send fills the batch, and the extra latency stays a small fraction of the batch time.

``workers`` worker threads (the service runs :data:`BATCH_WORKERS`) take batches from the same queue, so
batches are embedded while another's requests are answered and the next one gathered; on 2 cores under 64
clients one worker left a fifth of the CPU idle, and three kept the cores busier than two (86-89% of the
in-process batched rate against 78-80%). The lock still lets one batch at a time search the exemplar indexes;
an encoder that is not thread-safe embeds one batch at a time.

A request is checked on its own (``check``) before it is queued, so a bad request fails alone and never enters a
batch. A batch is then run once: should it still fail (the encoder or the index broke, not an input), every request
in it gets that error, and nothing is run a second time.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from safe_embed.errors import ConfigError, ServiceUnavailableError
from safe_embed.serve.locks import WriterFirstLock

logger = logging.getLogger(__name__)

# The service's batching defaults (``create_app`` and ``safe-embed serve`` read them)
MAX_BATCH = 64  # texts in one micro-batch
MAX_WAIT_MS = 1.0  # the wait window after a batch's first request
ADAPTIVE_WAIT = 0.1  # the window widens to this fraction of the recent batch time
MAX_QUEUE = 4096  # requests waiting before OverloadedError
BATCH_WORKERS = 3  # the service's batches in flight


class OverloadedError(RuntimeError):
    """The queue of waiting requests is full; the client should retry later."""


@dataclass
class BatchStats:
    """Counters for /v1/info and the benchmarks."""

    batches: int = 0
    texts: int = 0
    requests: int = 0
    max_batch_seen: int = 0
    busy_s: float = 0.0
    sizes: dict[int, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"batches": self.batches, "texts": self.texts, "requests": self.requests,
                "mean_batch": round(self.texts / self.batches, 2) if self.batches else 0.0,
                "largest_batch": self.max_batch_seen, "busy_s": round(self.busy_s, 3)}


_STOP = object()


class MicroBatcher:
    """Run ``fn(texts) -> results`` (one result per text, in order) on micro-batches in a worker thread.

    ``prepare`` (optional) runs first, outside the lock: ``fn(prepare(texts))``. The service prepares by embedding
    (which needs no exemplar index), so the lock covers only the index search. ``lock`` (shared with writers such
    as exemplar additions) is held while ``fn`` runs; with a :class:`~safe_embed.serve.locks.WriterFirstLock` a
    waiting writer goes before the next batch's search. ``check`` (optional) runs on each request's texts when it
    is submitted; what it raises fails that request alone, before it joins a batch. ``observe`` (optional) is
    called in the worker with each batch's results (the service counts verdicts with it).

    >>> b = MicroBatcher(lambda texts: [t.upper() for t in texts]); _ = b.start()
    >>> b.submit(["a", "b"]).result()
    ['A', 'B']
    >>> b.stop()
    """

    def __init__(self, fn: Callable[[list[str]], Sequence[Any]], max_batch: int = MAX_BATCH,
                 max_wait_ms: float = MAX_WAIT_MS, max_queue: int = MAX_QUEUE,
                 lock: threading.Lock | WriterFirstLock | None = None, adaptive_wait: float = ADAPTIVE_WAIT,
                 max_adaptive_wait_ms: float = 50.0, prepare: Callable[[list[str]], Any] | None = None,
                 workers: int = 1, check: Callable[[list[str]], Any] | None = None,
                 observe: Callable[[Sequence[Any]], Any] | None = None) -> None:
        if workers < 1:
            raise ConfigError(f"workers must be >= 1, got {workers}.")
        if max_batch < 1:
            raise ConfigError(f"max_batch must be >= 1, got {max_batch}.")
        if max_wait_ms < 0:
            raise ConfigError(f"max_wait_ms must be >= 0, got {max_wait_ms}.")
        self.fn = fn
        self.prepare = prepare
        self.check = check
        self.observe = observe
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue = max_queue
        self.adaptive_wait = adaptive_wait
        self.max_adaptive_wait = max_adaptive_wait_ms / 1000.0
        self._batch_seconds = 0.0  # moving average of the time one batch takes
        self.lock = lock or threading.Lock()
        self.stats = BatchStats()
        # queue.Queue, not SimpleQueue: in the service under load, SimpleQueue.get(timeout=) with three workers
        # sometimes slept past its timeout until the next put, holding a gathered batch (its requests hung)
        self._queue: queue.Queue = queue.Queue()
        self._pending = 0
        self._pending_lock = threading.Lock()
        self.workers = workers
        self._threads: list[threading.Thread] = []
        self._stats_lock = threading.Lock()

    # ---- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> MicroBatcher:
        live = [t for t in self._threads if t.is_alive()]
        new = [threading.Thread(target=self._run, name=f"safe-embed-batcher-{i}", daemon=True)
               for i in range(len(live), self.workers)]
        for t in new:
            t.start()
        self._threads = live + new
        return self

    def stop(self, timeout: float = 10.0) -> None:
        live = [t for t in self._threads if t.is_alive()]
        for _ in live:
            self._queue.put(_STOP)
        for t in live:
            t.join(timeout)
        self._threads = []

    @property
    def alive(self) -> bool:
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    # ---- submitting -----------------------------------------------------------------------------------------
    def submit(self, texts: list[str]) -> Future:
        """Queue ``texts``; the future resolves to their results in order, or to the error of ``check`` or of their
        batch (raises :class:`OverloadedError` when the queue is full)."""
        fut: Future = Future()
        if not texts:
            fut.set_result([])
            return fut
        if self.check is not None:
            try:
                self.check(texts)
            except Exception as e:  # noqa: BLE001 - the request's own error, answered through its future
                fut.set_exception(e)
                return fut
        if not self.alive:
            raise ServiceUnavailableError("the batcher is not running. Fix: call start() (the app does so at startup).")
        with self._pending_lock:
            if self._pending >= self.max_queue:
                raise OverloadedError(f"{self._pending} requests are already waiting (limit {self.max_queue}).")
            self._pending += 1
        self._queue.put((texts, fut))
        return fut

    async def classify(self, texts: list[str]) -> list:
        """Awaitable :meth:`submit` for asyncio handlers."""
        return await asyncio.wrap_future(self.submit(texts))

    @property
    def pending(self) -> int:
        """Requests queued and not yet taken into a batch."""
        return self._pending

    def batch_sizes(self) -> dict[int, int]:
        """Texts per batch -> how many batches had that many, so far."""
        with self._stats_lock:
            return dict(self.stats.sizes)

    @property
    def wait_window(self) -> float:
        """Seconds to wait for more requests after the first one of a batch."""
        return max(self.max_wait, min(self.max_adaptive_wait, self.adaptive_wait * self._batch_seconds))

    # ---- the worker -----------------------------------------------------------------------------------------
    def _run(self) -> None:
        carry = None  # a request too big for the previous batch: it opens the next one
        while True:
            item, carry = (carry, None) if carry is not None else (self._queue.get(), None)
            if item is _STOP:
                return
            batch = [item]
            n = len(item[0])
            deadline = time.perf_counter() + self.wait_window
            stop = False
            while n < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    left = deadline - time.perf_counter()
                    if left <= 0:
                        break
                    try:
                        nxt = self._queue.get(timeout=left)
                    except queue.Empty:
                        break
                if nxt is _STOP:
                    stop = True
                    break
                if n + len(nxt[0]) > self.max_batch:
                    carry = nxt
                    break
                batch.append(nxt)
                n += len(nxt[0])
            self._process(batch)
            if stop:
                return

    def _process(self, batch: list[tuple[list[str], Future]]) -> None:
        with self._pending_lock:
            self._pending -= len(batch)
        batch = [(texts, fut) for texts, fut in batch if fut.set_running_or_notify_cancel()]
        if not batch:
            return
        texts = [t for item, _ in batch for t in item]
        t0 = time.perf_counter()
        try:
            results = self._run_fn(texts)
            if len(results) != len(texts):
                raise ServiceUnavailableError(f"the detector returned {len(results)} results for {len(texts)} texts")
        except Exception as e:  # noqa: BLE001 - fails the batch's requests, never the worker
            # not caused by one request's input (each passed ``check``): running the requests again, one by one,
            # would repeat the batch's work and, most often, its failure
            logger.warning("a batch of %d requests failed: %r", len(batch), e)
            for _, fut in batch:
                fut.set_exception(e)
            return
        finally:
            self._account(len(batch), len(texts), time.perf_counter() - t0)
        start = 0
        for item, fut in batch:
            fut.set_result(results[start:start + len(item)])
            start += len(item)
        if self.observe is not None:
            try:
                self.observe(results)
            except Exception:
                logger.exception("the batch observer failed")

    def _run_fn(self, texts: list[str]) -> Sequence[Any]:
        """``fn(prepare(texts))``, ``prepare`` outside the lock and ``fn`` under it."""
        work = texts if self.prepare is None else self.prepare(texts)
        with self.lock.reader() if isinstance(self.lock, WriterFirstLock) else self.lock:
            return self.fn(work)

    def _account(self, n_requests: int, n_texts: int, seconds: float) -> None:
        with self._stats_lock:
            s = self.stats
            s.batches += 1
            s.requests += n_requests
            s.texts += n_texts
            s.busy_s += seconds
            s.max_batch_seen = max(s.max_batch_seen, n_texts)
            s.sizes[n_texts] = s.sizes.get(n_texts, 0) + 1
            self._batch_seconds = seconds if s.batches == 1 else 0.8 * self._batch_seconds + 0.2 * seconds
