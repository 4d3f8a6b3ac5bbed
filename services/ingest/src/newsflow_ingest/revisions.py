"""The revisions this process published lately: an identical re-post is answered "unchanged"."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from newsflow_ingest.producer import Delivery
from newsflow_schema import ArticleRawEvent


@dataclass(frozen=True, slots=True)
class Published:
    """The event that last carried an article's revision, and where Kafka stored it."""

    event_id: str
    content_hash: str
    delivery: Delivery


class RecentRevisions:
    """A bounded LRU of article id → the revision last acknowledged by Kafka.

    Only acknowledged publishes are remembered, so a re-post after a 503 is published
    again. The memory is per process: after a restart (or in another worker) an identical
    re-post is published again and enrich recognises it by its unchanged content_hash.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[str, Published] = OrderedDict()

    def unchanged(self, event: ArticleRawEvent) -> Published | None:
        """The earlier publish of this very revision (same id and content_hash), if any."""
        key = str(event.article_id)
        known = self._entries.get(key)
        if known is None or known.content_hash != event.content_hash:
            return None
        self._entries.move_to_end(key)
        return known

    def remember(self, event: ArticleRawEvent, delivery: Delivery) -> None:
        if self._capacity <= 0:
            return
        key = str(event.article_id)
        self._entries[key] = Published(str(event.event_id), event.content_hash, delivery)
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
