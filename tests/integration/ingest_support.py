"""Helpers (no tests) of the ingest integration tests: run the real app, read the raw topic."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI

from newsflow_ingest.app import build_app
from newsflow_ingest.settings import Settings
from newsflow_schema import topics


@dataclass
class RunningIngest:
    app: FastAPI
    client: httpx.AsyncClient


def ingest_settings(kafka_bootstrap: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": kafka_bootstrap,
        "read_api_base_url": "http://127.0.0.1:8001",
        "publish_timeout_s": 3.0,
        "ready_timeout_s": 1.0,
        "connect_backoff_s": 0.5,
        "shutdown_timeout_s": 5.0,
        **overrides,
    }
    return Settings.model_validate(values)


async def wait_until_ready(client: httpx.AsyncClient, deadline_s: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_s
    while True:
        response = await client.get("/readyz")
        if response.status_code == 200:
            return
        if loop.time() > deadline:
            raise AssertionError(f"ingest not ready after {deadline_s}s: {response.text}")
        await asyncio.sleep(0.2)


@asynccontextmanager
async def running_ingest(
    settings: Settings, *, wait_ready: bool = True
) -> AsyncIterator[RunningIngest]:
    """The real app, lifespan included (real producer), served in-process over ASGI."""
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://ingest", timeout=30.0
        ) as client:
            if wait_ready:
                await wait_until_ready(client)
            yield RunningIngest(app, client)


class RawTopic:
    """Reads the raw topic from a noted position: what appeared after `mark()`."""

    def __init__(self, kafka_bootstrap: str) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=kafka_bootstrap, enable_auto_commit=False
        )
        self._start: dict[TopicPartition, int] = {}

    async def __aenter__(self) -> RawTopic:
        await self._consumer.start()
        partitions = self._consumer.partitions_for_topic(topics.RAW)
        if not partitions:
            await self._consumer._client.force_metadata_update()
            partitions = self._consumer.partitions_for_topic(topics.RAW)
        assert partitions, f"topic {topics.RAW} has no partitions"
        self._partitions = [TopicPartition(topics.RAW, p) for p in sorted(partitions)]
        self._consumer.assign(self._partitions)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def end_offsets(self) -> dict[TopicPartition, int]:
        offsets: dict[TopicPartition, int] = await self._consumer.end_offsets(self._partitions)
        return offsets

    async def mark(self) -> None:
        self._start = await self.end_offsets()

    async def new_count(self) -> int:
        end = await self.end_offsets()
        return sum(end[tp] - self._start[tp] for tp in self._partitions)

    async def read_new(self, expected: int, deadline_s: float = 20.0) -> list[Any]:
        """The records written since mark(), once `expected` of them are there."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + deadline_s
        while await self.new_count() < expected:
            if loop.time() > deadline:
                raise AssertionError(f"fewer than {expected} new records after {deadline_s}s")
            await asyncio.sleep(0.1)
        for tp in self._partitions:
            self._consumer.seek(tp, self._start[tp])
        end = await self.end_offsets()
        records: list[Any] = []
        while loop.time() < deadline:
            batches = await self._consumer.getmany(timeout_ms=500)
            for tp, batch in batches.items():
                records.extend(r for r in batch if r.offset < end[tp])
            positions = [await self._consumer.position(tp) for tp in self._partitions]
            if all(pos >= end[tp] for pos, tp in zip(positions, self._partitions, strict=True)):
                break
        return records
