"""The viewer's HTML: the article page, the list, failure and problem pages (no JavaScript)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from importlib.resources import files
from urllib.parse import urlsplit

from newsflow_enrich.api.schemas import ArticleOut, ArticleSummary, FailureOut
from newsflow_enrich.api.viewer.highlight import (
    LABEL_COLOURS,
    article_marks,
    highlight,
    label_class,
    speaker_name,
)
from newsflow_schema import Entity, Quote, Span, Stance

EVIDENCE_CHARS = 240
EVIDENCE_SPANS = 2

# The stylesheet ships beside this module; the label colours come from one table.
CSS = files(__package__).joinpath("viewer.css").read_text(encoding="utf-8") + "".join(
    f".ent-{label}{{background:{bg};border-color:{fg}}}"
    for label, (bg, fg) in LABEL_COLOURS.items()
)

# --- page parts ----------------------------------------------------------------------


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _link(url: str | None) -> str:
    if not url:
        return "—"
    # Only web links become anchors: a javascript: or data: URL stays plain text.
    if urlsplit(url).scheme in ("http", "https"):
        return f'<a href="{escape(url)}" rel="noopener noreferrer">{escape(url)}</a>'
    return escape(url)


def evidence_text(body: str, spans: Sequence[Span]) -> str:
    """The first evidence excerpts of a stance, each cut to a readable length."""
    parts = []
    for s in spans[:EVIDENCE_SPANS]:
        piece = " ".join(body[s.start : s.end].split())
        if len(piece) > EVIDENCE_CHARS:
            piece = piece[: EVIDENCE_CHARS - 1].rstrip() + "…"
        if piece:
            parts.append(piece)
    more = len(spans) - EVIDENCE_SPANS
    return " … ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def _legend(entities: Sequence[Entity], quotes: Sequence[Quote]) -> str:
    counts = Counter(e.label for e in entities)
    chips = [
        f'<li><span class="chip ent-{label_class(label)}">{escape(label)}</span> {n}</li>'
        for label, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    chips.append(f'<li><span class="chip quote-chip">quote</span> {len(quotes)}</li>')
    return f'<ul class="legend" aria-label="legend">{"".join(chips)}</ul>'


def _entity_list(entities: Sequence[Entity], entity_ids: dict[str, int]) -> str:
    rows = "".join(
        f'<li><a href="#ent-{entity_ids[e.name]}"><span class="chip ent-{label_class(e.label)}">'
        f"{escape(e.label)}</span> {escape(e.name)}</a>"
        f'<span class="count" title="mentions">×{e.mention_count}</span></li>'
        for e in entities
    )
    return f'<ol class="entities">{rows}</ol>' if rows else "<p>No entities.</p>"


def _quote_table(quotes: Sequence[Quote]) -> str:
    if not quotes:
        return "<p>No quotes.</p>"
    rows = "".join(
        f'<tr id="quote-row-{n}"><td class="who-cell">{escape(speaker_name(q))}</td>'
        f"<td>{escape(q.cue or '—')}</td><td>{escape(q.kind)}</td>"
        f'<td><a href="#q{n}">{escape(q.text)}</a></td></tr>'
        for n, q in enumerate(quotes, start=1)
    )
    return (
        '<table class="quotes"><thead><tr><th>Speaker</th><th>Cue</th><th>Kind</th>'
        f"<th>Quote</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _stance_table(body: str, stances: Sequence[Stance]) -> str:
    if not stances:
        return "<p>No stances.</p>"
    rows = []
    for s in stances:
        holder = (
            '<em class="article-holder">the article</em>'
            if s.holder_type == "article"
            else escape(s.holder)
        )
        rows.append(
            f'<tr class="stance stance-{escape(s.label)}"><td>{holder}</td>'
            f'<td class="arrow">→</td><td>{escape(s.target)}</td>'
            f'<td><span class="stance-label">{escape(s.label)}</span></td>'
            f'<td class="num">{s.score:+.2f}</td>'
            f'<td class="evidence">{escape(evidence_text(body, s.evidence))}</td></tr>'
        )
    return (
        '<table class="stances"><thead><tr><th>Holder</th><th></th><th>Target</th>'
        '<th>Label</th><th class="num">Score</th><th>Evidence</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _tone(article: ArticleOut) -> str:
    t = article.tone
    if t is None:
        return "<p>No tone.</p>"
    return (
        '<dl class="facts">'
        f"<dt>tone</dt><dd>{t.tone:+.2f}</dd>"
        f"<dt>positive</dt><dd>{t.positive:.2f}</dd>"
        f"<dt>negative</dt><dd>{t.negative:.2f}</dd>"
        f"<dt>polarity</dt><dd>{t.polarity:.2f}</dd></dl>"
    )


def _provenance(article: ArticleOut) -> str:
    models = "".join(f"<li>{escape(m.name)} {escape(m.version)}</li>" for m in article.models)
    facts = [
        ("article id", f"<code>{article.article_id}</code>"),
        ("version", str(article.version or "—")),
        ("source", escape(article.source or "—")),
        ("url", _link(article.url)),
        ("language", escape(article.language or "—")),
        ("received", _when(article.received_at)),
        ("enriched", _when(article.enriched_at)),
        ("content hash", f"<code>{escape((article.content_hash or '')[:16])}…</code>"),
        ("raw event", f"<code>{article.raw_event_id or '—'}</code>"),
        (
            "enriched event",
            f"<code>{article.enriched_event_id}</code>" if article.enriched_event_id else "—",
        ),
    ]
    rows = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    return (
        f'<dl class="facts">{rows}</dl><h3>Models</h3>'
        f'<ul class="models">{models or "<li>—</li>"}</ul>'
        f'<p><a href="/v1/articles/{article.article_id}">JSON</a></p>'
    )


def page(title: str, content: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<title>{escape(title)} · newsflow</title><link rel="icon" href="data:,">'
        f"<style>{CSS}</style></head><body>"
        '<header class="top"><a href="/articles">newsflow articles</a> · '
        '<a href="/trends">trends</a></header>'
        f"<main>{content}</main></body></html>"
    )


def _failure(failure: FailureOut, *, kept: bool) -> str:
    older = (
        "<p>The version below is the last one that was enriched.</p>"
        if kept
        else "<p>No version of this article was enriched.</p>"
    )
    facts = [
        ("reason", f"<code>{escape(failure.reason)}</code>"),
        ("stage", escape(failure.stage)),
        ("attempts", str(failure.attempts)),
        ("failed", _when(failure.failed_at)),
        ("detail", escape(failure.detail)),
    ]
    rows = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    return (
        '<section class="failure" aria-label="failure"><h2>Enrichment failed</h2>'
        f'<dl class="facts">{rows}</dl>{older}</section>'
    )


def _meta(article: ArticleOut) -> str:
    parts = (
        article.source,
        _when(article.published_at) if article.published_at else None,
        ", ".join(article.authors) or None,
        article.language,
    )
    return " · ".join(escape(part) for part in parts if part) or "—"


def render_article(article: ArticleOut) -> str:
    """The viewer page of one article: its analysis, and why it failed when it did."""
    title = article.title or "(untitled article)"
    failure = _failure(article.failure, kept=article.body is not None) if article.failure else ""
    if article.body is None:
        link = f'<p><a href="/v1/articles/{article.article_id}">JSON</a></p>'
        facts = f"<p>{_link(article.url)} · received {_when(article.received_at)}</p>"
        return page(title, f"<h1>{escape(title)}</h1>{failure}{facts}{link}")
    entity_ids = {e.name: n for n, e in enumerate(article.entities, start=1)}
    marks = article_marks(article.body, article.entities, article.quotes, entity_ids)
    content = (
        f"<h1>{escape(title)}</h1>"
        f'<p class="meta">{_meta(article)}</p>{failure}'
        f"{_legend(article.entities, article.quotes)}"
        '<div class="grid">'
        f'<article class="body">{highlight(article.body, marks)}</article>'
        "<aside><h2>Entities</h2>"
        f"{_entity_list(article.entities, entity_ids)}"
        f"<h2>Tone</h2>{_tone(article)}"
        f"<h2>Provenance</h2>{_provenance(article)}</aside></div>"
        f'<h2 id="stances">Stances</h2>{_stance_table(article.body, article.stances)}'
        f'<h2 id="quotes">Quotes</h2>{_quote_table(article.quotes)}'
    )
    return page(title, content)


def _list_row(item: ArticleSummary) -> str:
    status = escape(item.status)
    if item.failure is not None:
        status = (
            f'failed: <span class="reason">{escape(item.failure.reason)}</span> '
            f"({_when(item.failure.failed_at)})"
        )
    return (
        f'<tr class="status-{escape(item.status)}"><td><a href="/articles/{item.article_id}">'
        f"{escape(item.title or '(untitled article)')}</a></td>"
        f"<td>{escape(item.source or '—')}</td><td>{status}</td>"
        f'<td class="num">{_when(item.received_at)}</td></tr>'
    )


def render_list(items: Sequence[ArticleSummary], next_query: str | None, entity: str) -> str:
    """The newest articles, enriched and failed, with a filter by entity and a next page."""
    rows = "".join(_list_row(item) for item in items)
    table = (
        '<table class="articles"><thead><tr><th>Title</th><th>Source</th><th>Status</th>'
        f'<th class="num">Received</th></tr></thead><tbody>{rows}</tbody></table>'
        if rows
        else "<p>No articles.</p>"
    )
    more = (
        f'<p><a rel="next" href="/articles?{escape(next_query)}">Older →</a></p>'
        if next_query
        else ""
    )
    return page(
        "Articles",
        "<h1>Articles</h1>"
        '<form class="filter" method="get" action="/articles">'
        f'<input name="entity" placeholder="entity, e.g. Kherson" value="{escape(entity)}">'
        '<button type="submit">Filter</button></form>'
        f"{table}{more}",
    )


def problem_html(status: int, title: str, detail: str) -> str:
    content = (
        f'<div class="problem"><h1>{status} · {escape(title)}</h1><p>{escape(detail)}</p>'
        '<p><a href="/articles">All articles</a></p></div>'
    )
    return page(title, content)
