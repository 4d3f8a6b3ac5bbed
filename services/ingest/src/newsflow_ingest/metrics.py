"""Prometheus metrics of one ingest app, in a registry of its own."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass
class Metrics:
    """The app's instruments. A registry per app, so several apps in one process don't clash."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "ingest_http_requests_total",
            "HTTP requests by route template, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "ingest_http_request_duration_seconds",
            "HTTP request duration by route template.",
            ["route", "method"],
            registry=self.registry,
        )
        self.publish_seconds = Histogram(
            "ingest_publish_duration_seconds",
            "Time from handing records to the producer until Kafka acknowledged them.",
            ["endpoint"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        self.accepted = Counter(
            "ingest_articles_accepted_total",
            "Articles published to Kafka and acknowledged.",
            registry=self.registry,
        )
        self.rejected = Counter(
            "ingest_articles_rejected_total",
            "Articles not accepted, by reason (invalid, too_large, unavailable, ...).",
            ["reason"],
            registry=self.registry,
        )
        self.normaliser_restarts = Counter(
            "ingest_normaliser_restarts_total",
            "Normalisation worker pools replaced because a worker died.",
            registry=self.registry,
        )


class MetricsMiddleware:
    """Counts every HTTP request by its route template (not its raw path) and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            # The router stores the matched route in the scope; unmatched paths share one
            # label so that random URLs cannot blow up the label set.
            route = scope.get("route")
            template = str(getattr(route, "path", "<unmatched>"))
            method = str(scope.get("method", ""))
            self.metrics.requests.labels(template, method, str(status)).inc()
            self.metrics.request_seconds.labels(template, method).observe(
                time.perf_counter() - started
            )
