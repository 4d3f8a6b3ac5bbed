"""The /trends page: top entities with sparklines, a holder × target stance matrix, speakers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape
from urllib.parse import urlencode

from newsflow_enrich.api.viewer.highlight import label_class
from newsflow_enrich.api.viewer.render import page
from newsflow_enrich.trends.queries import EntitySeries, StanceMatrix
from newsflow_enrich.trends.svg import fill_buckets, sparkline, stance_cell

DAY = timedelta(days=1)


def _entities(items: Sequence[EntitySeries], since: datetime, until: datetime) -> str:
    if not items:
        return "<p>No entities in this window.</p>"
    rows = []
    for s in items:
        values = fill_buckets([(p.bucket, p.value) for p in s.points], since, until, DAY)
        link = "/articles?" + urlencode({"entity": s.name})
        rows.append(
            f'<tr><td><a href="{escape(link)}">{escape(s.name)}</a></td>'
            f'<td><span class="chip ent-{label_class(s.label)}">{escape(s.label)}</span></td>'
            f'<td class="num">{s.articles}</td><td class="num">{s.mentions}</td>'
            f"<td>{sparkline(values, title=f'{s.name}: mentions per day')}</td></tr>"
        )
    return (
        '<table class="trends"><thead><tr><th>Entity</th><th>Label</th>'
        '<th class="num">Articles</th><th class="num">Mentions</th><th>Per day</th></tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _matrix(matrix: StanceMatrix) -> str:
    if not matrix.cells:
        return "<p>No stances in this window.</p>"
    head = "".join(f'<th scope="col">{escape(t)}</th>' for t in matrix.targets)
    rows = []
    for holder in matrix.holders:
        cells = []
        for target in matrix.targets:
            cell = matrix.cells.get((holder, target))
            cells.append(
                "<td></td>"
                if cell is None
                else "<td>"
                + stance_cell(
                    cell.favor, cell.against, cell.neutral, cell.mean_score, f"{holder} → {target}"
                )
                + "</td>"
            )
        rows.append(f'<tr><th scope="row">{escape(holder)}</th>{"".join(cells)}</tr>')
    return (
        '<table class="matrix"><thead><tr><th>holder → target</th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        '<p class="hint">Green: favor, red: against, grey: neutral; the number is how many '
        "stances; hover a cell for the counts.</p>"
    )


def _speakers(speakers: Sequence[tuple[str, int]]) -> str:
    if not speakers:
        return "<p>No quotes in this window.</p>"
    items = "".join(
        f'<li>{escape(name)} <span class="count">×{count}</span></li>' for name, count in speakers
    )
    return f'<ol class="speakers">{items}</ol>'


def render_trends(
    *,
    days: int,
    since: datetime,
    until: datetime,
    entities: Sequence[EntitySeries],
    matrix: StanceMatrix,
    speakers: Sequence[tuple[str, int]],
) -> str:
    spans = " · ".join(
        f'<a href="/trends?days={d}"{" aria-current=page" if d == days else ""}>{d} days</a>'
        for d in (7, 30, 90)
    )
    return page(
        "Trends",
        f"<h1>Trends</h1><p>{spans} — {since:%Y-%m-%d} to {until - DAY:%Y-%m-%d} (UTC)</p>"
        f"<section><h2>In the news</h2>{_entities(entities, since, until)}</section>"
        f"<section><h2>Who stands where</h2>{_matrix(matrix)}</section>"
        f"<section><h2>Most quoted</h2>{_speakers(speakers)}</section>",
    )
