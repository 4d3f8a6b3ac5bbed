"""Server-rendered SVG for the trends page: sparklines and stance cells, no script needed.

Pure functions returning markup strings; every text they embed is escaped. The page's CSP
allows no script, so everything a reader sees is drawn here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape


def fill_buckets(
    points: Sequence[tuple[datetime, int]], since: datetime, until: datetime, step: timedelta
) -> list[int]:
    """One value per bucket of [since, until), zero where a bucket has no point."""
    values: dict[datetime, int] = dict(points)
    out: list[int] = []
    at = since
    while at < until:
        out.append(values.get(at, 0))
        at += step
    return out


def sparkline(values: Sequence[int], *, width: int = 160, height: int = 32, title: str = "") -> str:
    """A polyline of the values, scaled to the box, with the maximum marked."""
    label = escape(title, quote=True)
    if not values:
        return (
            f'<svg class="spark" width="{width}" height="{height}" role="img" '
            f'aria-label="{label}"></svg>'
        )
    top = max(values) or 1
    step = width / max(1, len(values) - 1)
    pad = 2
    usable = height - 2 * pad

    def y(v: int) -> float:
        return round(pad + usable * (1 - v / top), 1)

    coords = " ".join(f"{round(i * step, 1)},{y(v)}" for i, v in enumerate(values))
    peak = max(range(len(values)), key=lambda i: values[i])
    return (
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{label}"><title>{label}</title>'
        f'<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{coords}"/>'
        f'<circle cx="{round(peak * step, 1)}" cy="{y(values[peak])}" r="2"/></svg>'
    )


def stance_colour(mean_score: float) -> str:
    """Red for against, grey for neutral, green for favor; saturation grows with |score|."""
    strength = min(1.0, abs(mean_score))
    if mean_score > 0.05:
        hue = 130
    elif mean_score < -0.05:
        hue = 0
    else:
        return "hsl(0, 0%, 85%)"
    return f"hsl({hue}, {round(35 + 45 * strength)}%, {round(85 - 35 * strength)}%)"


def stance_cell(favor: int, against: int, neutral: int, mean_score: float, title: str) -> str:
    """A square coloured by the mean score, with the counts in its tooltip."""
    label = escape(
        f"{title}: favor {favor}, against {against}, neutral {neutral}, mean {mean_score:+.2f}",
        quote=True,
    )
    return (
        f'<svg class="cell" width="28" height="28" role="img" aria-label="{label}">'
        f"<title>{label}</title>"
        f'<rect width="28" height="28" rx="3" fill="{stance_colour(mean_score)}"/>'
        f'<text x="14" y="18" text-anchor="middle" font-size="11">'
        f"{favor + against + neutral}</text></svg>"
    )
