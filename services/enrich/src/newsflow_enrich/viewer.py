"""The article viewer: server-rendered HTML pages of enriched articles (no JavaScript)."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from newsflow_enrich import store
from newsflow_schema import Entity, Quote, Span, Stance

if TYPE_CHECKING:
    # Only for types: app.py imports this module to mount the routes.
    from newsflow_enrich.app import ArticleOut

log = logging.getLogger(__name__)

# The body is untrusted input: the page runs no script at all, so even a rendering bug
# cannot become script execution; links to the article's own URL leak no referrer.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

# (background, border) per spaCy/OntoNotes label; anything else is drawn as OTHER.
LABEL_COLOURS: dict[str, tuple[str, str]] = {
    "PERSON": ("#dbeafe", "#2563eb"),
    "ORG": ("#dcfce7", "#16a34a"),
    "GPE": ("#fef3c7", "#d97706"),
    "LOC": ("#ffedd5", "#ea580c"),
    "NORP": ("#f3e8ff", "#9333ea"),
    "EVENT": ("#fce7f3", "#db2777"),
    "FAC": ("#e0f2fe", "#0284c7"),
    "PRODUCT": ("#ecfccb", "#65a30d"),
    "WORK_OF_ART": ("#fae8ff", "#c026d3"),
    "LAW": ("#f1f5f9", "#475569"),
    "LANGUAGE": ("#ccfbf1", "#0d9488"),
    "OTHER": ("#f5f5f4", "#78716c"),
}

PAGE_SIZE = 50
EVIDENCE_CHARS = 240
EVIDENCE_SPANS = 2

# Nesting rank: a quote encloses the speaker reference and entities inside it.
_QUOTE, _SPEAKER, _ENTITY = 0, 1, 2


def label_class(label: str) -> str:
    """The CSS class suffix for an entity label; unknown labels share one style."""
    return label if label in LABEL_COLOURS else "OTHER"


# --- body highlighting ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mark:
    """One highlighted span of the body: opening attributes and what follows its end."""

    start: int
    end: int
    rank: int
    tag: str
    attrs: str
    # Only on the first piece when a crossing span forces the mark to be split.
    first_attrs: str = ""
    after: str = ""

    def open(self, first: bool) -> str:
        extra = f" {self.first_attrs}" if first and self.first_attrs else ""
        return f"<{self.tag} {self.attrs}{extra}>"

    def close(self) -> str:
        return f"</{self.tag}>"


def highlight(body: str, marks: Iterable[Mark]) -> str:
    """The body as escaped HTML with every mark wrapped around its span.

    Marks may nest or cross (an entity inside a quote, a mention running past a
    quote's end): a mark that would cross an enclosing one's end is closed there
    and reopened after it, so the result is always well-formed.
    """
    size = len(body)
    valid = sorted(
        (m for m in marks if 0 <= m.start < m.end <= size),
        key=lambda m: (m.start, m.rank, -m.end),
    )
    bounds = sorted({0, size, *(m.start for m in valid), *(m.end for m in valid)})
    out: list[str] = []
    stack: list[Mark] = []
    opened: set[int] = set()
    pending = 0
    for i, pos in enumerate(bounds):
        # Close from the innermost outwards down to the outermost mark ending here.
        ending = [k for k, m in enumerate(stack) if m.end <= pos]
        reopen: list[Mark] = []
        if ending:
            for m in reversed(stack[ending[0] :]):
                out.append(m.close())
                if m.end <= pos:
                    out.append(m.after)
                else:
                    reopen.append(m)
            del stack[ending[0] :]
        starting = []
        while pending < len(valid) and valid[pending].start == pos:
            starting.append(valid[pending])
            pending += 1
        for m in sorted([*reopen, *starting], key=lambda m: (m.rank, -m.end, m.start)):
            out.append(m.open(first=id(m) not in opened))
            opened.add(id(m))
            stack.append(m)
        if i + 1 < len(bounds):
            out.append(escape(body[pos : bounds[i + 1]]))
    return "".join(out)


def speaker_name(quote: Quote) -> str:
    return quote.speaker_entity or quote.speaker or "unknown speaker"


OPENING_MARKS = "\"'“‘«„"
CLOSING_MARKS = "\"'”’»“"


def with_quote_marks(body: str, span: Span) -> tuple[int, int]:
    """The span widened to the quotation marks around it, so the speaker tag follows them."""
    start, end = span.start, span.end
    if 0 < start <= end < len(body) and (
        body[start - 1] in OPENING_MARKS and body[end] in CLOSING_MARKS
    ):
        return start - 1, end + 1
    return start, end


def article_marks(
    body: str, entities: Sequence[Entity], quotes: Sequence[Quote], entity_ids: dict[str, int]
) -> list[Mark]:
    """The marks of an article: quotes with their speakers, speaker references, entities."""
    marks: list[Mark] = []
    for n, q in enumerate(quotes, start=1):
        who = speaker_name(q)
        cue = f" ({q.cue})" if q.cue else ""
        start, end = with_quote_marks(body, q.span)
        marks.append(
            Mark(
                start=start,
                end=end,
                rank=_QUOTE,
                tag="span",
                attrs=(
                    f'class="quote quote-{escape(q.kind)}" data-quote="{n}" '
                    f'data-speaker="{escape(who)}" title="{escape(q.kind)} quote: {escape(who)}'
                    f'{escape(cue)}"'
                ),
                first_attrs=f'id="q{n}"',
                after=f'<a class="who" href="#quote-row-{n}" data-quote="{n}">{escape(who)}</a>',
            )
        )
        if q.speaker_span is not None:
            marks.append(
                Mark(
                    start=q.speaker_span.start,
                    end=q.speaker_span.end,
                    rank=_SPEAKER,
                    tag="span",
                    attrs=f'class="speaker-ref" title="speaker of quote {n}"',
                )
            )
    for e in entities:
        css = label_class(e.label)
        ident = entity_ids[e.name]
        for k, m in enumerate(e.mentions):
            marks.append(
                Mark(
                    start=m.start,
                    end=m.end,
                    rank=_ENTITY,
                    tag="mark",
                    attrs=(
                        f'class="ent ent-{css}" data-label="{escape(e.label)}" '
                        f'data-entity="{escape(e.name)}" title="{escape(e.label)}: '
                        f'{escape(e.name)}"'
                    ),
                    first_attrs=f'id="ent-{ident}"' if k == 0 else "",
                )
            )
    return marks


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
        ("version", str(article.version)),
        ("source", escape(article.source or "—")),
        ("url", _link(article.url)),
        ("language", escape(article.language or "—")),
        ("received", _when(article.received_at)),
        ("enriched", _when(article.enriched_at)),
        ("content hash", f"<code>{escape(article.content_hash[:16])}…</code>"),
        ("raw event", f"<code>{article.raw_event_id}</code>"),
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


CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
 color:#1c1917;background:#fafaf9}
header.top{background:#1c1917;color:#fafaf9;padding:.6rem 1.5rem}
header.top a{color:#fafaf9;text-decoration:none;font-weight:600}
main{max-width:1200px;margin:0 auto;padding:1rem 1.5rem 3rem}
h1{font-size:1.6rem;line-height:1.25;margin:.6rem 0 .3rem}
h2{font-size:1.15rem;margin:2rem 0 .6rem;border-bottom:1px solid #e7e5e4;padding-bottom:.2rem}
h3{font-size:.95rem;margin:1rem 0 .3rem}
.meta{color:#57534e;font-size:.9rem;margin:0 0 .8rem}
.grid{display:grid;grid-template-columns:minmax(0,1fr) 300px;gap:1.5rem;align-items:start}
@media (max-width:900px){.grid{grid-template-columns:1fr}}
article.body{background:#fff;border:1px solid #e7e5e4;border-radius:8px;padding:1.2rem 1.4rem;
 white-space:pre-wrap;overflow-wrap:anywhere;line-height:1.9}
aside{background:#fff;border:1px solid #e7e5e4;border-radius:8px;padding:.4rem 1rem 1rem;
 font-size:.9rem}
.legend{list-style:none;display:flex;flex-wrap:wrap;gap:.4rem .9rem;padding:0;margin:.4rem 0 1rem;
 font-size:.85rem}
.chip{display:inline-block;border:1px solid;border-radius:4px;padding:0 .35rem;font-size:.72rem;
 font-weight:600;letter-spacing:.02em}
mark.ent{border-bottom:2px solid;border-radius:3px;padding:0 .1rem;color:inherit}
mark.ent::after{content:attr(data-label);font-size:.58rem;font-weight:700;margin-left:.2rem;
 vertical-align:.15em;opacity:.75}
.quote{background:#fefce8;box-shadow:inset 3px 0 0 #ca8a04;padding:.1rem .15rem}
.quote-indirect{background:#f8fafc;box-shadow:inset 3px 0 0 #94a3b8}
.quote-chip{background:#fefce8;border-color:#ca8a04}
a.who{display:inline-block;margin-left:.25rem;padding:0 .4rem;border-radius:999px;
 background:#ca8a04;color:#fff;font-size:.72rem;font-weight:600;line-height:1.5;
 text-decoration:none;white-space:nowrap}
a.who::before{content:"— "}
.speaker-ref{text-decoration:underline dotted #ca8a04 2px;text-underline-offset:3px}
ol.entities{list-style:none;padding:0;margin:0}
ol.entities li{display:flex;justify-content:space-between;gap:.5rem;padding:.15rem 0}
ol.entities a{color:inherit;text-decoration:none}
.count{color:#78716c;font-variant-numeric:tabular-nums}
dl.facts{display:grid;grid-template-columns:auto 1fr;gap:.1rem .7rem;margin:.3rem 0}
dl.facts dt{color:#78716c}dl.facts dd{margin:0;overflow-wrap:anywhere}
ul.models{margin:.2rem 0;padding-left:1.1rem}
table{border-collapse:collapse;width:100%;background:#fff;font-size:.88rem}
th,td{border-bottom:1px solid #e7e5e4;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f5f4;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.arrow{color:#a8a29e;padding:.35rem 0}
td.evidence{color:#44403c;font-size:.84rem}
td.who-cell{white-space:nowrap;font-weight:600}
table.quotes td a{color:inherit;text-decoration:none}
.stance-label{border-radius:4px;padding:0 .4rem;font-weight:600;font-size:.8rem}
.stance-favor .stance-label{background:#dcfce7;color:#166534}
.stance-against .stance-label{background:#fee2e2;color:#991b1b}
.stance-neutral .stance-label{background:#f5f5f4;color:#57534e}
form.filter{display:flex;gap:.5rem;margin:.8rem 0}
form.filter input{padding:.3rem .5rem;border:1px solid #d6d3d1;border-radius:4px}
.problem{background:#fff;border:1px solid #e7e5e4;border-radius:8px;padding:1.5rem;margin-top:2rem}
"""
CSS += "".join(
    f".ent-{label}{{background:{bg};border-color:{fg}}}"
    for label, (bg, fg) in LABEL_COLOURS.items()
)


def page(title: str, content: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<title>{escape(title)} · newsflow</title><link rel="icon" href="data:,">'
        f"<style>{CSS}</style></head><body>"
        '<header class="top"><a href="/articles">newsflow articles</a></header>'
        f"<main>{content}</main></body></html>"
    )


def render_article(article: ArticleOut) -> str:
    """The full viewer page of one enriched article."""
    entity_ids = {e.name: n for n, e in enumerate(article.entities, start=1)}
    marks = article_marks(article.body, article.entities, article.quotes, entity_ids)
    title = article.title or "(untitled article)"
    meta = " · ".join(
        escape(part)
        for part in (
            article.source,
            _when(article.published_at) if article.published_at else None,
            ", ".join(article.authors) or None,
            article.language,
        )
        if part
    )
    content = (
        f"<h1>{escape(title)}</h1>"
        f'<p class="meta">{meta or "—"}</p>'
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


def render_list(rows: Sequence[dict[str, Any]], next_query: str | None, entity: str) -> str:
    """The newest articles, with a filter by entity and a link to the next page."""
    items = "".join(
        f'<tr><td><a href="/articles/{r["article_id"]}">'
        f"{escape(r['title'] or '(untitled article)')}</a></td>"
        f"<td>{escape(r['source'] or '—')}</td><td>{escape(r['status'])}</td>"
        f'<td class="num">{_when(r["received_at"])}</td></tr>'
        for r in rows
    )
    table = (
        '<table class="articles"><thead><tr><th>Title</th><th>Source</th><th>Status</th>'
        f'<th class="num">Received</th></tr></thead><tbody>{items}</tbody></table>'
        if items
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


def problem_page(status: int, title: str, detail: str) -> HTMLResponse:
    content = (
        f'<div class="problem"><h1>{status} · {escape(title)}</h1><p>{escape(detail)}</p>'
        '<p><a href="/articles">All articles</a></p></div>'
    )
    return HTMLResponse(page(title, content), status_code=status, headers=SECURITY_HEADERS)


def _unavailable(exc: Exception) -> HTMLResponse:
    log.warning("database unavailable: %r", exc)
    response = problem_page(503, "Service Unavailable", "The database is unavailable; retry.")
    response.headers["Retry-After"] = "5"
    return response


# --- routes --------------------------------------------------------------------------


def router(
    engine_of: Callable[[Request], AsyncEngine],
    to_article: Callable[[dict[str, Any]], ArticleOut],
) -> APIRouter:
    """The HTML routes; they read through the same store functions as the JSON API."""
    routes = APIRouter(include_in_schema=False)

    @routes.get("/articles/{article_id}", response_class=HTMLResponse)
    async def view_article(article_id: str, request: Request) -> HTMLResponse:
        try:
            key = uuid.UUID(article_id)
        except ValueError:
            return problem_page(404, "Not Found", f"{article_id!r} is not an article id.")
        try:
            row = await store.get_article(engine_of(request), key)
        except (OperationalError, InterfaceError, OSError) as exc:
            return _unavailable(exc)
        if row is None:
            return problem_page(404, "Not Found", f"No article {key} is stored.")
        if row["status"] != "enriched":
            return problem_page(
                404, "Not Found", f"Article {key} is {row['status']}, not enriched yet."
            )
        return HTMLResponse(render_article(to_article(row)), headers=SECURITY_HEADERS)

    @routes.get("/articles", response_class=HTMLResponse)
    async def list_articles(
        request: Request, entity: str = "", cursor: str | None = None
    ) -> HTMLResponse:
        try:
            position = store.decode_cursor(cursor) if cursor else None
            rows, next_cursor = await store.list_articles(
                engine_of(request),
                entity=entity or None,
                label=None,
                since=None,
                limit=PAGE_SIZE,
                cursor=position,
            )
        except store.CursorError as exc:
            return problem_page(400, "Bad Request", str(exc))
        except (OperationalError, InterfaceError, OSError) as exc:
            return _unavailable(exc)
        next_query = None
        if next_cursor is not None:
            params = {"cursor": next_cursor, **({"entity": entity} if entity else {})}
            next_query = urlencode(params)
        return HTMLResponse(render_list(rows, next_query, entity), headers=SECURITY_HEADERS)

    return routes
