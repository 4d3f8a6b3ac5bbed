"""Lag bookkeeping survives a rebalance that took a partition during the batch."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import TopicPartition

from newsflow_enrich.metrics import Metrics
from newsflow_enrich.settings import Settings
from newsflow_enrich.stream.batch import Done
from newsflow_enrich.stream.consumer import EnrichConsumer

pytestmark = pytest.mark.unit

KEPT = TopicPartition("news.articles.raw.v1", 0)
REVOKED = TopicPartition("news.articles.raw.v1", 1)


class RebalancedConsumer:
    """Owns only KEPT; like aiokafka, highwater() of any other partition is an error."""

    def assignment(self) -> set[TopicPartition]:
        return {KEPT}

    def highwater(self, tp: TopicPartition) -> int:
        assert tp == KEPT, "Partition is not assigned"
        return 10


def test_lag_is_recorded_for_owned_partitions_and_revoked_ones_are_skipped() -> None:
    metrics = Metrics()
    consumer = EnrichConsumer(Settings(), engine=Any, nlp=Any, metrics=metrics)  # type: ignore[arg-type]
    done = Done(
        items=[],
        written=[],
        unchanged=0,
        failed=[],
        commit={(KEPT.topic, KEPT.partition): 7, (REVOKED.topic, REVOKED.partition): 4},
    )
    consumer._record_lag(RebalancedConsumer(), done)  # type: ignore[arg-type]
    lag = metrics.registry.get_sample_value(
        "enrich_consumer_lag_records", {"partition": str(KEPT.partition)}
    )
    assert lag == 3
    assert (
        metrics.registry.get_sample_value(
            "enrich_consumer_lag_records", {"partition": str(REVOKED.partition)}
        )
        is None
    )
