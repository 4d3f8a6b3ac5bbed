"""The `newsflow` CLI as a user runs it (a subprocess) against running ingest and enrich."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from newsflow_local.stack import Services
from newsflow_schema import ArticleEnrichedEvent

pytestmark = pytest.mark.e2e

# Includes spawning enrich's NLP worker and loading the spaCy model on first use.
DEADLINE_S = 180.0


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


async def newsflow(services: Services, *args: str, limit_s: float = DEADLINE_S) -> Run:
    """`python -m newsflow_cli ARGS` with the services' addresses in its environment."""
    env = {
        **os.environ,
        "NEWSFLOW_INGEST_URL": services.url("ingest"),
        "NEWSFLOW_READ_URL": services.url("enrich"),
        "KAFKA_BOOTSTRAP_SERVERS": services.kafka_bootstrap,
        "COLUMNS": "200",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "newsflow_cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), limit_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        pytest.fail(f"newsflow {' '.join(args)} did not finish in {limit_s:.0f}s")
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(), err.decode())


async def stored(services: Services, article_id: str, **expect: Any) -> dict[str, Any]:
    """`newsflow show --json` once the article is enriched (and has the `expect`ed fields)."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        run = await newsflow(services, "show", "--json", article_id)
        if run.code == 0:
            data: dict[str, Any] = json.loads(run.stdout)
            if all(data.get(k) == v for k, v in expect.items()):
                return data
        else:
            assert run.code == 1 and "is not enriched (yet)" in run.stderr, run
        assert time.monotonic() < deadline, f"{article_id} not enriched in time: {run}"
        await asyncio.sleep(0.5)


@pytest.fixture
def sample_folder(tmp_path: Path, sample_text: str) -> tuple[Path, str]:
    """The sample as a .txt file, and again as JSON with a URL of this run's own."""
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "kherson-surrender-2022-09-13.txt").write_text(sample_text, encoding="utf-8")
    url = f"https://example.com/world/kherson-{uuid.uuid4().hex}"
    (folder / "kherson.json").write_text(
        json.dumps({"text": sample_text, "url": url, "source": "cli-e2e"}), encoding="utf-8"
    )
    return folder, url


async def test_post_tail_show_the_sample(
    services: Services, sample_folder: tuple[Path, str]
) -> None:
    folder, _ = sample_folder
    run = await newsflow(services, "post", "--json", str(folder))
    assert run.code == 0, run
    report = json.loads(run.stdout)
    assert report["rejected"] == []
    by_input = {Path(a["input"]).name: a for a in report["accepted"]}
    assert set(by_input) == {"kherson-surrender-2022-09-13.txt", "kherson.json"}
    own = by_input["kherson.json"]
    assert own["known"] is False and own["duplicate_of"] is None

    # The article's enriched event, from the topic: its own URL makes its id unique.
    run = await newsflow(
        services,
        "tail",
        "--from-beginning",
        "--article",
        own["id"],
        "--max",
        "1",
        "--timeout",
        str(DEADLINE_S),
        "--json",
    )
    assert run.code == 0, run
    [line] = run.stdout.splitlines()
    event = ArticleEnrichedEvent.model_validate_json(line)
    assert str(event.article_id) == own["id"]
    assert str(event.raw_event_id) == own["event_id"]
    names = {e.name for e in event.entities}
    assert "Kherson" in names and any("Humeniuk" in n for n in names)
    assert any(q.speaker for q in event.quotes)

    # The same as a card, selected by entity and speaker filters.
    run = await newsflow(
        services,
        "tail",
        "--from-beginning",
        "--article",
        own["id"],
        "--entity",
        "kherson",
        "--label",
        "GPE",
        "--speaker",
        "Humeniuk",
        "--max",
        "1",
        "--timeout",
        "60",
    )
    assert run.code == 0, run
    assert f"id {own['id']}" in run.stdout and "Kherson GPE" in run.stdout
    # A filter nothing matches: --max is not reached before the timeout, exit 1.
    run = await newsflow(
        services, "tail", "--from-beginning", "--article", own["id"], "--label", "NOPE",
        "--max", "1", "--timeout", "5",
    )  # fmt: skip
    assert run.code == 1 and "with 0 of 1 event" in run.stderr, run

    data = await stored(services, own["id"])
    assert data["raw_event_id"] == own["event_id"]
    run = await newsflow(services, "show", own["id"])
    assert run.code == 0, run
    assert data["title"] in run.stdout
    assert f"Entities ({len(data['entities'])})" in run.stdout
    assert f"Quotes ({len(data['quotes'])})" in run.stdout
    assert "Humeniuk" in run.stdout

    # Posting the same files again: accepted (re-posting is safe), and now known.
    run = await newsflow(services, "post", "--json", str(folder / "kherson.json"))
    assert run.code == 0, run
    [again] = json.loads(run.stdout)["accepted"]
    assert again["id"] == own["id"] and again["known"] is True


async def test_post_reports_rejections_and_duplicates_and_exits_1(
    services: Services, tmp_path: Path
) -> None:
    url = f"https://example.com/world/{uuid.uuid4().hex}"
    lines = [
        {"text": "Officials in Kyiv said the bridge would reopen on Monday.", "url": url},
        {"text": "Officials in Kyiv said the bridge would reopen on Monday.", "url": url + "/"},
        {"text": "A story with a bad link.", "url": "ftp://example.com/x"},
    ]
    path = tmp_path / "batch.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    run = await newsflow(services, "post", "--json", "--no-check-known", str(path))
    assert run.code == 1, run
    report = json.loads(run.stdout)
    first, second = report["accepted"]
    assert first["id"] == second["id"] and second["duplicate_of"] == f"{path}:1"
    [rejected] = report["rejected"]
    assert rejected["input"] == f"{path}:3" and "url" in rejected["reason"]

    run = await newsflow(services, "post", str(path))
    assert run.code == 1
    assert "2 accepted" in run.stdout and "1 rejected" in run.stdout
    assert "1 duplicate in the input" in run.stdout


async def test_replay_re_enriches_a_stored_article(
    services: Services, sample_folder: tuple[Path, str]
) -> None:
    folder, _ = sample_folder
    run = await newsflow(services, "post", "--json", str(folder / "kherson.json"))
    assert run.code == 0, run
    [posted] = json.loads(run.stdout)["accepted"]
    before = await stored(services, posted["id"])

    received = datetime.fromisoformat(before["received_at"])
    window = (
        "--since",
        received.isoformat(),
        "--until",
        (received + timedelta(milliseconds=1)).isoformat(),
    )
    run = await newsflow(services, "replay", *window, "--dry-run")
    assert run.code == 0, run
    assert posted["id"] in run.stdout and "Dry run: 1 article received" in run.stdout

    run = await newsflow(services, "replay", *window)
    assert run.code == 0, run
    assert "Replayed 1 article received" in run.stdout

    after = await stored(services, posted["id"], version=before["version"] + 1)
    assert after["raw_event_id"] != before["raw_event_id"]
    assert after["content_hash"] == before["content_hash"]
    assert after["received_at"] == before["received_at"]
    assert after["enriched_event_id"] != before["enriched_event_id"]

    # Subscribers get the re-enriched article as a new event.
    run = await newsflow(
        services, "tail", "--from-beginning", "--article", posted["id"], "--json",
        "--max", "2", "--timeout", str(DEADLINE_S),
    )  # fmt: skip
    assert run.code == 0, run
    events = [ArticleEnrichedEvent.model_validate_json(line) for line in run.stdout.splitlines()]
    assert [str(e.event_id) for e in events] == [
        before["enriched_event_id"],
        after["enriched_event_id"],
    ]
