"""End to end in a real headless Chromium: the sample article's viewer page, as a reader sees it."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import ConsoleMessage, Error, async_playwright

from newsflow_local.stack import Services

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
# Includes spawning the NLP worker and loading the spaCy model on first use.
DEADLINE_S = 180.0
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


async def enriched_article(services: Services, sample_text: str) -> dict[str, Any]:
    """POST the sample to ingest and wait until enrich serves its enrichment."""
    # A URL of its own, so this run's article id is new even on a reused broker.
    url = f"https://example.com/world/kherson-viewer-{uuid.uuid4().hex}"
    async with httpx.AsyncClient(timeout=30) as client:
        posted = await client.post(
            f"{services.url('ingest')}/v1/articles",
            json={"text": sample_text, "url": url, "source": "e2e-viewer"},
        )
        assert posted.status_code == 202, posted.text
        article_id = posted.json()["id"]
        deadline = time.monotonic() + DEADLINE_S
        while True:
            got = await client.get(f"{services.url('enrich')}/v1/articles/{article_id}")
            if got.status_code == 200:
                article: dict[str, Any] = got.json()
                return article
            assert got.status_code == 404, got.text
            assert time.monotonic() < deadline, f"{article_id} not enriched in time"
            await asyncio.sleep(0.5)


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt: chromium)")
async def test_viewer_page_in_chromium(services: Services, sample_text: str) -> None:
    article = await enriched_article(services, sample_text)
    persons = [
        e
        for e in article["entities"]
        if e["label"] == "PERSON" and any(m["text"] == e["name"] for m in e["mentions"])
    ]
    assert persons, "the sample names no PERSON entity by its full name"
    speakers = {q["speaker_entity"] or q["speaker"] for q in article["quotes"]} - {None}
    assert article["quotes"] and article["stances"]

    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console: {message.text}")

    def on_page_error(error: Error) -> None:
        problems.append(f"page error: {error}")

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "viewer.png"
    screenshot.unlink(missing_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", on_console)
            page.on("pageerror", on_page_error)
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            response = await page.goto(
                f"{services.url('enrich')}/articles/{article['article_id']}",
                wait_until="load",
            )
            assert response is not None and response.status == 200
            assert response.headers["content-type"].startswith("text/html")
            title = await page.locator("h1").inner_text()
            assert title == (article["title"] or "(untitled article)")

            # Every PERSON named in full is highlighted, and drawn: the stylesheet applied.
            for person in persons:
                name = person["name"].replace('"', '\\"')
                marks = page.locator(f'article mark.ent-PERSON[data-entity="{name}"]')
                assert await marks.count() >= 1, f"no highlight for {person['name']}"
                texts = await marks.all_inner_texts()
                assert person["name"] in texts, (person["name"], texts)
            first = page.locator("article mark.ent-PERSON").first
            assert await first.is_visible()
            background = await first.evaluate("e => getComputedStyle(e).backgroundColor")
            assert background not in ("rgba(0, 0, 0, 0)", "transparent"), background
            labels = set(
                await page.locator("article mark.ent").evaluate_all(
                    "els => els.map(e => e.dataset.label)"
                )
            )
            assert {e["label"] for e in article["entities"]} == labels

            # Quotes are marked and each carries its speaker.
            quotes = page.locator("article .quote[data-speaker]")
            assert await quotes.count() >= len(article["quotes"])
            shown = await page.locator("article a.who").all_inner_texts()
            assert len(shown) == len(article["quotes"])
            assert speakers <= set(shown), (speakers, shown)

            rows = page.locator("table.stances tbody tr")
            assert await rows.count() == len(article["stances"])
            first_row = await rows.first.inner_text()
            assert "→" in first_row and article["stances"][0]["target"] in first_row

            await page.screenshot(path=str(screenshot), full_page=True)
            # The first screenful too: the full page is too tall to judge at a glance.
            await page.screenshot(path=str(ARTIFACTS / "viewer-top.png"))

            # The list page links to the article, and the link leads back to it.
            listing = await page.goto(f"{services.url('enrich')}/articles", wait_until="load")
            assert listing is not None and listing.status == 200
            await page.locator(f'a[href="/articles/{article["article_id"]}"]').first.click()
            await page.wait_for_url(f"**/articles/{article['article_id']}")
            assert await page.locator("h1").inner_text() == title
        finally:
            await browser.close()

    assert screenshot.stat().st_size > 10_000
    assert problems == []


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt: chromium)")
async def test_trends_page_in_chromium(services: Services, sample_text: str) -> None:
    # Published now, so the sample counts in the page's window (the text's own date is 2022).
    url = f"https://example.com/world/kherson-trends-{uuid.uuid4().hex}"
    now = datetime.now(UTC).isoformat()
    async with httpx.AsyncClient(timeout=30) as client:
        posted = await client.post(
            f"{services.url('ingest')}/v1/articles",
            json={"text": sample_text, "url": url, "published_at": now, "source": "e2e-trends"},
        )
        assert posted.status_code == 202, posted.text
        article_id = posted.json()["id"]
        deadline = time.monotonic() + DEADLINE_S
        while (
            await client.get(f"{services.url('enrich')}/v1/articles/{article_id}")
        ).status_code != 200:
            assert time.monotonic() < deadline, f"{article_id} not enriched in time"
            await asyncio.sleep(0.5)
        # The raw topic is shared by the test session, so other modules' articles count
        # too: the sample is among the window's entities, and the page shows the API's top.
        api = await client.get(
            f"{services.url('enrich')}/v1/trends/entities", params={"limit": 100}
        )
        page_api = await client.get(
            f"{services.url('enrich')}/v1/trends/entities", params={"limit": 15}
        )
    assert api.status_code == 200, api.text
    every = {item["name"] for item in api.json()["items"]}
    assert {"Kherson", "Nataliya Humeniuk"} <= every, every
    top = [item["name"] for item in page_api.json()["items"]]

    problems: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("pageerror", lambda e: problems.append(str(e)))
            listing = await page.goto(f"{services.url('enrich')}/articles", wait_until="load")
            assert listing is not None and listing.status == 200
            await page.locator('header a[href="/trends"]').click()
            await page.wait_for_url("**/trends")
            assert await page.locator("h1").inner_text() == "Trends"
            names = await page.locator("table.trends tbody tr td:first-child").all_inner_texts()
            assert names == top, (names, top)
            sparkline = page.locator("table.trends svg.spark polyline").first
            assert await sparkline.is_visible()
            assert await page.locator("table.matrix svg.cell").count() >= 1
            speakers = await page.locator("ol.speakers li").all_inner_texts()
            assert speakers and all("×" in s for s in speakers), speakers
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "trends.png"), full_page=True)
            # An entity links to the articles that name it.
            await page.locator("table.trends tbody tr td:first-child a").first.click()
            await page.wait_for_url("**/articles?entity=*")
        finally:
            await browser.close()
    assert problems == []
