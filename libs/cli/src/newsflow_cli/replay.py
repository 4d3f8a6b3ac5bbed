"""Re-enriching stored articles: list them via the read API, re-publish them to the raw topic."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from newsflow_cli.articles import ApiArticle
from newsflow_cli.settings import Settings
from newsflow_schema import ArticleRawEvent, OriginalContent, encode, encode_headers, topics

CE_SOURCE = "/newsflow/cli/replay"
PAGE_SIZE = 200
_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class WhenError(ValueError):
    """A --since/--until value that is neither a date, a time nor a relative age."""


def parse_when(value: str, *, now: datetime) -> datetime:
    """An RFC 3339 time, a date (midnight UTC), or an age such as 7d, 12h, 30m."""
    text = value.strip()
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return now - timedelta(**{_UNITS[unit]: amount})
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise WhenError(
            f"{value!r} is not a time: use e.g. 2022-09-13, 2022-09-13T08:00:00+02:00 or 7d"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


async def list_articles(
    client: httpx.AsyncClient, settings: Settings, since: datetime, until: datetime | None
) -> AsyncIterator[dict[str, Any]]:
    """Stored article summaries received in [since, until), newest first, all pages."""
    url = settings.read_url.rstrip("/") + "/v1/articles"
    # Replay re-enriches what is stored as enriched; a failed article is redriven instead.
    params: dict[str, str | int] = {
        "since": since.isoformat(),
        "limit": PAGE_SIZE,
        "status": "enriched",
    }
    while True:
        response = await client.get(url, params=params, headers=settings.read_headers())
        response.raise_for_status()
        page = response.json()
        for item in page["items"]:
            received = datetime.fromisoformat(item["received_at"])
            # The API has no upper bound; the list is newest first, so skip the newer ones.
            if until is not None and received >= until:
                continue
            yield item
        cursor = page.get("next_cursor")
        if not cursor:
            return
        params["cursor"] = cursor


def raw_event_for(article: dict[str, Any] | ApiArticle) -> ArticleRawEvent:
    """The raw event that re-enriches a stored article (read API JSON) as it is stored.

    The stored body is the normalised one, so it goes in as text; received_at stays the
    stored one so a newer version posted meanwhile is never overwritten by this replay.
    """
    a = article if isinstance(article, ApiArticle) else ApiArticle.model_validate(article)
    if a.body is None or a.content_hash is None or a.received_at is None:
        raise ValueError(f"article {a.article_id} has no enriched version to replay")
    return ArticleRawEvent(
        article_id=a.article_id,
        url=a.url,
        canonical_url=a.canonical_url,
        source=a.source,
        title=a.title,
        body=a.body,
        published_at=a.published_at,
        authors=a.authors,
        language=a.language,
        tags=a.tags,
        content_hash=a.content_hash,
        original=OriginalContent(format="text", content=a.body),
        received_at=a.received_at,
        reprocess=True,
    )


@dataclass(slots=True)
class ReplayReport:
    replayed: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    planned: list[dict[str, Any]] = field(default_factory=list)


def make_producer(settings: Settings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id="newsflow-cli-replay",
        acks="all",
        enable_idempotence=True,
        # Bodies are up to 200k characters, several bytes each in UTF-8.
        max_request_size=4 * 1024 * 1024,
        linger_ms=5,
    )


async def replay(
    settings: Settings,
    since: datetime,
    until: datetime | None,
    *,
    dry_run: bool,
    on_total: Callable[[int], None] = lambda _: None,
    on_progress: Callable[[], None] = lambda: None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ReplayReport:
    """Publish a reprocess event for every stored article in [since, until)."""
    report = ReplayReport()
    async with httpx.AsyncClient(timeout=settings.http_timeout_s, transport=transport) as client:
        summaries = [s async for s in list_articles(client, settings, since, until)]
        on_total(len(summaries))
        if dry_run:
            report.planned = summaries
            return report
        producer = make_producer(settings)
        await producer.start()
        try:
            base = settings.read_url.rstrip("/")
            for summary in summaries:
                article_id = summary["article_id"]
                response = await client.get(
                    f"{base}/v1/articles/{article_id}", headers=settings.read_headers()
                )
                if response.status_code == 404 or response.json().get("status") != "enriched":
                    # Listed but no longer enriched (gone, or failed since): nothing to replay.
                    report.gone.append(article_id)
                    on_progress()
                    continue
                response.raise_for_status()
                event = raw_event_for(response.json())
                headers = encode_headers(event, source=CE_SOURCE, subject=article_id)
                await producer.send_and_wait(
                    topics.RAW, encode(event), key=article_id.encode(), headers=headers
                )
                report.replayed.append(article_id)
                on_progress()
        finally:
            await producer.stop()
    return report
