"""Liveness: /healthz fails when enrich has lag but makes no progress, and only then."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.fault.harness import Scenario, scenario, wait_for
from tests.infra import Infra

# The scenarios fail through their own deadlines (drain, lag, recovery), which add up to
# more than the default per-test timeout.
pytestmark = [pytest.mark.fault, pytest.mark.timeout(900)]

QUICK = {"ENRICH_LIVENESS_STALL_S": "4", "ENRICH_LIVENESS_CHECK_S": "1"}


async def health(scn: Scenario) -> httpx.Response:
    async with httpx.AsyncClient(base_url=scn.services.url("enrich"), timeout=5) as client:
        return await client.get("/healthz")


async def test_a_wedged_consumer_turns_unhealthy(infra: Infra) -> None:
    env = {**QUICK, "ENRICH_CRASH_AT": "stall-fetch:2"}
    async with scenario(infra, "liveness: wedged consumer", enrich_env=env) as scn:
        load = scn.load(count=60, rate=20)
        await load.run_all()

        async def unhealthy() -> bool:
            return (await health(scn)).status_code == 503

        await wait_for("/healthz reports the stall", unhealthy, within=90)
        answer = await health(scn)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert "no records fetched" in answer.json()["detail"]


async def test_a_busy_consumer_stays_healthy(infra: Infra) -> None:
    async with scenario(infra, "liveness: busy consumer", enrich_env=QUICK) as scn:
        load = scn.load(count=80, rate=20)
        posting = load.start()
        seen: set[int] = set()

        async def watch() -> None:
            while not posting.done() or len(seen) == 0:
                seen.add((await health(scn)).status_code)
                await asyncio.sleep(0.5)

        await asyncio.gather(posting, watch())
        await scn.drained(load)
        seen.add((await health(scn)).status_code)
        assert seen == {200}
