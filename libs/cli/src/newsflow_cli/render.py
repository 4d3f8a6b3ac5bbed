"""Terminal rendering with rich: event cards for tail, the full article for show, summaries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from newsflow_cli.articles import ApiArticle
from newsflow_schema import ArticleEnrichedEvent, Entity, ModelInfo, Quote, Stance, Tone

LABEL_STYLES = {
    "PERSON": "bold cyan",
    "ORG": "bold magenta",
    "GPE": "bold green",
    "LOC": "green",
    "NORP": "yellow",
    "EVENT": "bold red",
    "FAC": "blue",
}
STANCE_STYLES = {"favor": "green", "against": "red", "neutral": "dim"}
CARD_ENTITIES = 8
CARD_QUOTES = 3
CARD_STANCES = 5


@dataclass(frozen=True, slots=True)
class ArticleView:
    """What both the enriched event and the read API say about an article."""

    article_id: uuid.UUID
    title: str | None
    source: str | None
    url: str | None
    published_at: datetime | None
    language: str | None
    entities: tuple[Entity, ...]
    quotes: tuple[Quote, ...]
    stances: tuple[Stance, ...]
    tone: Tone | None
    models: tuple[ModelInfo, ...]
    body: str | None = None
    version: int | None = None
    enriched_at: datetime | None = None

    @classmethod
    def from_event(cls, event: ArticleEnrichedEvent) -> ArticleView:
        return cls(
            article_id=event.article_id,
            title=event.title,
            source=event.source,
            url=event.url,
            published_at=event.published_at,
            language=event.language,
            entities=event.entities,
            quotes=event.quotes,
            stances=event.stances,
            tone=event.tone,
            models=event.models,
            enriched_at=event.enriched_at,
        )

    @classmethod
    def from_api(cls, data: dict[str, Any] | ApiArticle) -> ArticleView:
        """From the read API's GET /v1/articles/{id} JSON (or its parsed form)."""
        a = data if isinstance(data, ApiArticle) else ApiArticle.model_validate(data)
        return cls(
            article_id=a.article_id,
            title=a.title,
            source=a.source,
            url=a.url,
            published_at=a.published_at,
            language=a.language,
            entities=a.entities,
            quotes=a.quotes,
            stances=a.stances,
            tone=a.tone,
            models=a.models,
            body=a.body,
            version=a.version,
            enriched_at=a.enriched_at,
        )


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def entity_text(entity: Entity) -> Text:
    return Text.assemble(
        (entity.name, LABEL_STYLES.get(entity.label, "bold")), (f" {entity.label}", "dim")
    )


def _meta(view: ArticleView) -> Text:
    parts = [f"id {view.article_id}", f"source {view.source or '—'}"]
    parts.append(f"published {_date(view.published_at)}")
    if view.language:
        parts.append(f"lang {view.language}")
    return Text("  ·  ".join(parts), style="dim")


def _tone(tone: Tone | None) -> Text:
    if tone is None:
        return Text("tone —", style="dim")
    style = "green" if tone.tone > 0 else "red" if tone.tone < 0 else "dim"
    return Text.assemble(
        ("tone ", "dim"),
        (f"{tone.tone:+.2f}", style),
        (f"  (positive {tone.positive:.2f}, negative {tone.negative:.2f})", "dim"),
    )


def _speaker(quote: Quote) -> str:
    return quote.speaker_entity or quote.speaker or "unattributed"


def card(view: ArticleView) -> Panel:
    """A compact card for one enriched event."""
    lines: list[RenderableType] = [_meta(view)]
    if view.entities:
        shown = Text("entities ", style="dim")
        for i, entity in enumerate(view.entities[:CARD_ENTITIES]):
            if i:
                shown.append(", ")
            shown.append_text(entity_text(entity))
        if len(view.entities) > CARD_ENTITIES:
            shown.append(f" … +{len(view.entities) - CARD_ENTITIES}", style="dim")
        lines.append(shown)
    for quote in view.quotes[:CARD_QUOTES]:
        lines.append(
            Text.assemble(
                ("“", "dim"), _clip(quote.text, 100), ("” — ", "dim"), (_speaker(quote), "cyan")
            )
        )
    if len(view.quotes) > CARD_QUOTES:
        lines.append(Text(f"… {len(view.quotes) - CARD_QUOTES} more quotes", style="dim"))
    for stance in view.stances[:CARD_STANCES]:
        lines.append(_stance_line(stance))
    if len(view.stances) > CARD_STANCES:
        lines.append(Text(f"… {len(view.stances) - CARD_STANCES} more stances", style="dim"))
    lines.append(_tone(view.tone))
    return Panel(Group(*lines), title=Text(view.title or "(untitled)", style="bold"), expand=True)


def _stance_line(stance: Stance) -> Text:
    return Text.assemble(
        ("stance ", "dim"),
        stance.holder,
        (" → ", "dim"),
        stance.target,
        ": ",
        (stance.label, STANCE_STYLES.get(stance.label, "")),
        (f" ({stance.score:+.2f})", "dim"),
    )


def _clip(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _evidence(view: ArticleView, stance: Stance) -> str:
    if view.body is None or not stance.evidence:
        return ""
    span = stance.evidence[0]
    return _clip(view.body[span.start : span.end], 80)


def article(view: ArticleView) -> Group:
    """Everything stored about one article, for `newsflow show`."""
    head: list[RenderableType] = [
        Text(view.title or "(untitled)", style="bold"),
        _meta(view),
    ]
    if view.url:
        head.append(Text(view.url, style="dim underline"))
    extra = [f"enriched {_date(view.enriched_at)}"]
    if view.version is not None:
        extra.append(f"version {view.version}")
    if view.models:
        extra.append("models " + ", ".join(f"{m.name} {m.version}" for m in view.models))
    head.append(Text("  ·  ".join(extra), style="dim"))
    head.append(_tone(view.tone))

    entities = Table(title=f"Entities ({len(view.entities)})", title_justify="left")
    entities.add_column("name")
    entities.add_column("label")
    entities.add_column("mentions", justify="right")
    entities.add_column("salience", justify="right")
    for e in view.entities:
        entities.add_row(
            Text(e.name, style=LABEL_STYLES.get(e.label, "")),
            e.label,
            str(e.mention_count),
            f"{e.salience:.2f}",
        )

    quotes = Table(title=f"Quotes ({len(view.quotes)})", title_justify="left")
    quotes.add_column("speaker", style="cyan")
    quotes.add_column("cue")
    quotes.add_column("quote")
    for q in view.quotes:
        quotes.add_row(Text(_speaker(q)), Text(q.cue or ""), Text(_clip(q.text, 120)))

    stances = Table(title=f"Stances ({len(view.stances)})", title_justify="left")
    stances.add_column("holder → target")
    stances.add_column("label")
    stances.add_column("score", justify="right")
    stances.add_column("evidence")
    for s in view.stances:
        stances.add_row(
            Text(f"{s.holder} → {s.target}"),
            Text(s.label, style=STANCE_STYLES.get(s.label, "")),
            f"{s.score:+.2f}",
            Text(_evidence(view, s)),
        )
    return Group(*head, Text(), entities, quotes, stances)


def failure(data: dict[str, Any]) -> Panel:
    """Why the read API says an article failed (its `failure` object)."""
    text = Text.assemble(
        ("failed", "bold red"),
        f" ({data.get('reason')}, stage {data.get('stage')}, {data.get('attempts')} attempt(s), ",
        f"{data.get('failed_at')})\n",
        str(data.get("detail") or ""),
        "\nFix the cause, then `newsflow dlq redrive ID`.",
    )
    return Panel(text, title="Enrichment failed", border_style="red")


def rejections(rows: Sequence[tuple[str, str]], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("input", overflow="fold")
    table.add_column("reason", style="red")
    for origin, reason in rows:
        table.add_row(Text(origin), Text(reason))
    return table
