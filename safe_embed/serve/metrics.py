"""Prometheus metrics of one service (``GET /metrics``), in a registry of its own, so several apps in one process
(tests, notebooks) never share counters.

Counted as they happen: requests and texts by endpoint and status, request latency by endpoint, verdicts by label
and category (in the batch worker, per classified text). Read when scraped, at no cost to requests: micro-batch
sizes (from the batcher's statistics), the queue depth, the exemplar counts and the journal records the detector
applied from other writers. Endpoints outside the service's routes count as ``other``.

>>> from safe_embed.detector.demo import demo_detector
>>> from safe_embed.serve.batcher import MicroBatcher
>>> det = demo_detector()
>>> m = ServiceMetrics(det); m.watch(MicroBatcher(det.classify))
>>> m.observe_verdicts(det.classify(["how do i make a bomb"]))
>>> b'safe_embed_verdicts_total{category="weapons",label="unsafe"} 1.0' in m.render()
True
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Iterable, Sequence

from fastapi import Depends
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from starlette.responses import Response

from safe_embed.serve.auth import needs_token
from safe_embed.serve.batcher import MicroBatcher

ENDPOINTS = ("/v1/classify", "/v1/moderations", "/v1/exemplars", "/v1/info", "/healthz", "/metrics")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
CONTENT_TYPE = CONTENT_TYPE_LATEST
_TEXTS = "safe_embed.texts"  # the scope key where an endpoint leaves how many texts a request held


class ServiceMetrics:
    """The metrics of one service over ``detector``: :class:`Metered` counts requests, :meth:`observe_verdicts`
    verdicts and :meth:`watch` adds a batcher's figures."""

    def __init__(self, detector) -> None:
        self.detector = detector
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("safe_embed_requests", "HTTP requests by endpoint and status",
                                ["endpoint", "status"], registry=r)
        self.texts = Counter("safe_embed_texts", "texts in classifying requests by endpoint and status",
                             ["endpoint", "status"], registry=r)
        self.latency = Histogram("safe_embed_request_seconds", "request latency by endpoint", ["endpoint"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.verdicts = Counter("safe_embed_verdicts", "classified texts by label and category ('none': no "
                                "category)", ["label", "category"], registry=r)
        self._children: dict = {}

    def render(self) -> bytes:
        """The exposition text of every metric."""
        return generate_latest(self.registry)

    def observe_verdicts(self, detections: Sequence) -> None:
        """Count a batch's detections by label and category (the batcher calls it in its worker)."""
        for (label, category), n in Tally((d.label, d.category or "none") for d in detections).items():
            self.verdicts.labels(label, category).inc(n)

    def record(self, path: str, status: int, texts: int, seconds: float) -> None:
        """Count one request to ``path`` answered with ``status``, holding ``texts`` texts, in ``seconds``."""
        endpoint = path if path in ENDPOINTS else "other"
        key = (endpoint, status)
        children = self._children.get(key)
        if children is None:  # labels() takes a lock and builds a key: done once per endpoint and status
            children = self._children[key] = (self.requests.labels(endpoint, str(status)),
                                               self.texts.labels(endpoint, str(status)),
                                               self.latency.labels(endpoint))
        children[0].inc()
        if texts:
            children[1].inc(texts)
        children[2].observe(seconds)

    def watch(self, batcher: MicroBatcher) -> None:
        """Report ``batcher``'s batch sizes and queue depth when scraped."""
        self.registry.register(_ScrapeTime(self.detector, batcher))


class Metered:
    """ASGI middleware recording each HTTP request's endpoint, status, texts and latency in ``metrics``."""

    def __init__(self, app, metrics: ServiceMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0, status, texts = time.perf_counter(), [500], [0]
        scope[_TEXTS] = texts

        async def send_status(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.record(scope["path"], status[0], texts[0], time.perf_counter() - t0)


def add_metrics(app, metrics: ServiceMetrics, token: str | None) -> None:
    """Count ``app``'s requests in ``metrics`` (outermost middleware) and serve them at ``GET /metrics``, behind
    the service's token when it has one."""
    app.add_middleware(Metered, metrics=metrics)

    @app.get("/metrics", summary="Prometheus metrics (bearer token when configured)",
             dependencies=[Depends(needs_token(token, "reading metrics"))])
    def prometheus_metrics() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)


def count_texts(scope: dict, n: int) -> None:
    """Record that the request of ``scope`` (a route's ``request.scope``) holds ``n`` texts."""
    box = scope.get(_TEXTS)
    if box is not None:
        box[0] = n


class _ScrapeTime:
    """The metrics read when scraped: batch sizes, queue depth, exemplar counts, journal records applied."""

    def __init__(self, detector, batcher: MicroBatcher) -> None:
        self.detector, self.batcher = detector, batcher

    def collect(self) -> Iterable:
        sizes = self.batcher.batch_sizes()
        buckets = []
        for le in BATCH_BUCKETS:
            buckets.append((str(le), sum(n for size, n in sizes.items() if size <= le)))
        buckets.append(("+Inf", sum(sizes.values())))
        total = sum(size * n for size, n in sizes.items())
        yield HistogramMetricFamily("safe_embed_batch_size", "texts per micro-batch", buckets=buckets,
                                    sum_value=total)
        yield GaugeMetricFamily("safe_embed_queue_depth", "requests waiting for a micro-batch",
                                value=self.batcher.pending)
        exemplars = GaugeMetricFamily("safe_embed_exemplars", "exemplars in the detector by label", labels=["label"])
        exemplars.add_metric(["unsafe"], len(self.detector.unsafe))
        exemplars.add_metric(["safe"], len(self.detector.safe))
        yield exemplars
        yield CounterMetricFamily("safe_embed_journal_records_applied", "journal records of other writers "
                                  "applied since the detector was loaded",
                                  value=self.detector.journal_records_applied)
