"""One bad record among good ones: it ends as failed (or enriched), and nothing stalls behind it.

The oracle is A = D ∪ F with D ∩ F = ∅: every accepted article is stored as enriched (D)
or stored as failed (F, `article_failures`, and on the DLQ). Articles posted after the bad
one are enriched and published within a stated deadline.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field

import httpx
import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord

from newsflow_schema import (
    ArticleRawEvent,
    DeadLetterEvent,
    OriginalContent,
    content_hash,
    decode,
    encode,
    encode_headers,
    topics,
)
from tests.fault.harness import Load, Scenario, logs, scenario, wait_for
from tests.infra import Infra

pytestmark = [pytest.mark.fault, pytest.mark.timeout(600)]

# Deadlines, from the moment the bad record is on the raw topic.
END_STATE_S = 180.0
AFTER_DRAINED_S = 240.0

KILL_MARKER = "zqx-kill-the-worker"
SLOW_MARKER = "zqx-stall-the-worker"
FIRST = ["Olena", "Taras", "Marta", "Ivan", "Sofia", "Andriy", "Iryna", "Bohdan", "Yulia", "Petro"]
LAST = ["Kovalenko", "Shevchuk", "Bondarenko", "Tkachenko", "Kravets", "Melnyk", "Boyko",
        "Oliynyk", "Lysenko", "Marchenko", "Savchenko", "Rudenko"]  # fmt: skip


def crowded_body() -> str:
    """An article naming a hundred-odd people, each several times: a large enriched event."""
    lines = []
    for first in FIRST:
        for last in LAST:
            name = f"{first} {last}"
            lines.append(
                f"{name} spoke in Lviv. {name} met {last} again. {name} left. "
                f"Later {name} returned, and {name} said {name} would stay."
            )
    return "\n\n".join(lines)


@dataclass(frozen=True)
class Case:
    name: str
    body: str
    expect: str  # a failure reason, or "enriched"
    env: dict[str, str] = field(default_factory=dict)
    raw_url: str | None = None  # published straight to the raw topic with this url


CASES = [
    Case(
        "worker SIGKILLed on one record",
        f"A report from Kyiv. {KILL_MARKER}. Officials said little.",
        "nlp-worker-died",
        {"ENRICH_CRASH_AT": f"nlp-kill-on:{KILL_MARKER}"},
    ),
    Case(
        "record over the NLP budget",
        f"A report from Odesa. {SLOW_MARKER}. Officials said little.",
        "nlp-budget",
        {"ENRICH_CRASH_AT": f"nlp-slow-on:{SLOW_MARKER}", "ENRICH_NLP_BUDGET_S": "4"},
    ),
    Case(
        "oversized enriched event",
        crowded_body(),
        "event-too-large",
        {"ENRICH_MAX_EVENT_BYTES": "20000", "ENRICH_MAX_MENTIONS_PER_ENTITY": "100"},
    ),
    Case(
        "NUL in a field",
        "A report from Kharkiv. Officials said little.",
        "db-rejected",
        raw_url="https://fault.example.org/nul/\x00/x",
    ),
    Case(
        # Once a 3 KB entity name over the btree limit (SQLSTATE 54000); names are now
        # capped where they are made, so the article is stored.
        "3,000-letter token",
        "Officials met " + "Zaporizh" + "z" * 3000 + " in Dnipro. They said little.",
        "enriched",
    ),
]


async def post(scn: Scenario, body: str, run: str) -> str:
    payload = {
        "title": f"Bad record {run}",
        "text": body,
        "url": f"https://fault.example.org/{run}/bad",
        "source": "newsflow-fault-tests",
    }
    async with httpx.AsyncClient(base_url=scn.ingest_url, timeout=60) as client:
        response = await client.post("/v1/articles", json=payload)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def publish_raw(scn: Scenario, case: Case) -> str:
    event = ArticleRawEvent(
        article_id=uuid.uuid4(),
        url=case.raw_url,
        title="Bad record",
        body=case.body,
        source="newsflow-fault-tests",
        content_hash=content_hash("Bad record", case.body),
        original=OriginalContent(format="text", content=case.body),
    )
    producer = AIOKafkaProducer(bootstrap_servers=scn.infra.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        headers = encode_headers(event, source="/fault", subject=str(event.article_id))
        await producer.send_and_wait(
            topics.RAW, encode(event), key=str(event.article_id).encode(), headers=headers
        )
    finally:
        await producer.stop()
    return str(event.article_id)


async def ids_in(scn: Scenario, table: str, ids: list[str]) -> set[str]:
    found = await scn.scalar(
        f"SELECT coalesce(array_agg(article_id::text), '{{}}') FROM {table} "  # noqa: S608 - fixed names
        "WHERE article_id = ANY($1::uuid[])",
        ids,
    )
    return set(found)


async def end_state(scn: Scenario, article: str) -> str | None:
    reason = await scn.scalar(
        "SELECT reason FROM article_failures WHERE article_id = $1::uuid", article
    )
    if reason is not None:
        return str(reason)
    status = await scn.scalar("SELECT status FROM articles WHERE article_id = $1::uuid", article)
    return None if status is None else str(status)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_a_bad_record_reaches_an_end_state_and_holds_nothing_back(
    infra: Infra, case: Case
) -> None:
    async with scenario(infra, f"end state: {case.name}", enrich_env=case.env) as scn:
        before = scn.load(count=5, rate=10)
        await before.run_all()
        started = time.monotonic()
        bad = await (publish_raw(scn, case) if case.raw_url else post(scn, case.body, scn.run))
        after = Load(base_url=scn.ingest_url, run=f"{scn.run}-after", count=10, rate=10)
        posting = after.start()

        async def settled() -> bool:
            return await end_state(scn, bad) is not None

        await wait_for(f"{case.name}: end state", settled, within=END_STATE_S)
        to_end_state = time.monotonic() - started
        await posting
        await scn.drained(after, within=AFTER_DRAINED_S)
        drained_s = time.monotonic() - started

        state = await end_state(scn, bad)
        assert state == case.expect, logs(scn)
        accepted = sorted(before.accepted() | after.accepted() | {bad})
        enriched = await ids_in(scn, "articles", accepted)
        failed = await ids_in(scn, "article_failures", accepted)
        assert set(accepted) == enriched | failed, logs(scn)
        assert not enriched & failed
        attempts = None
        if case.expect != "enriched":
            attempts = await scn.scalar(
                "SELECT attempts FROM article_failures WHERE article_id = $1::uuid", bad
            )
            await wait_for(f"{case.name}: dead letter", lambda: _dead(scn, bad), within=60)
            letter = next(decode(DeadLetterEvent, r.value) for r in _letters(scn, bad))
            assert letter.reason == case.expect
            assert letter.attempts == attempts
        await scn.report(after, failed=len(failed), recovery_s=drained_s)
        print(  # noqa: T201 - the measured numbers the table reports
            f"\n{case.name}: {state}, attempts {attempts}, end state in {to_end_state:.1f} s, "
            f"later articles drained in {drained_s:.1f} s"
        )


def _letters(scn: Scenario, article: str) -> list[ConsumerRecord[bytes, bytes]]:
    return [r for r in scn.dlq.records if r.key is not None and r.key.decode() == article]


async def _dead(scn: Scenario, article: str) -> bool:
    await asyncio.sleep(0)
    return bool(_letters(scn, article))
