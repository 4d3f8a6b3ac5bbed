"""Trend graphics: bucket filling, sparklines and stance cells, escaped and well-formed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from newsflow_enrich.trends.svg import fill_buckets, sparkline, stance_cell, stance_colour

pytestmark = pytest.mark.unit

DAY = datetime(2026, 5, 4, tzinfo=UTC)


def test_fill_buckets_puts_zero_where_a_bucket_has_no_point() -> None:
    points = [(DAY, 3), (DAY + timedelta(days=2), 5)]
    assert fill_buckets(points, DAY, DAY + timedelta(days=4), timedelta(days=1)) == [3, 0, 5, 0]


def test_sparkline_is_valid_svg_scaled_to_its_box_with_the_peak_marked() -> None:
    svg = ET.fromstring(sparkline([0, 4, 2], width=100, height=20, title="Kherson"))
    polyline = svg.find("polyline")
    assert polyline is not None
    xs_ys = [tuple(map(float, p.split(","))) for p in polyline.attrib["points"].split()]
    assert [x for x, _ in xs_ys] == [0.0, 50.0, 100.0]
    assert min(y for _, y in xs_ys) == 2.0  # the peak touches the top padding
    assert max(y for _, y in xs_ys) == 18.0  # zero sits on the bottom padding
    circle = svg.find("circle")
    assert circle is not None and circle.attrib["cx"] == "50.0"


def test_text_in_the_graphics_is_escaped() -> None:
    hostile = '"><script>alert(1)</script>'
    for svg in (sparkline([1], title=hostile), stance_cell(1, 0, 0, 0.5, hostile)):
        assert "<script>" not in svg
        ET.fromstring(svg)


def test_empty_series_draws_an_empty_box() -> None:
    assert "polyline" not in sparkline([], title="nothing")


@pytest.mark.parametrize(
    ("score", "hue"), [(0.8, "hsl(130"), (-0.8, "hsl(0, 7"), (0.0, "hsl(0, 0%")]
)
def test_stance_colour_by_sign(score: float, hue: str) -> None:
    assert stance_colour(score).startswith(hue)
