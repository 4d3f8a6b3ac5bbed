"""Normalisation of messy article input: the sample, HTML pages and scraped text."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsflow_ingest.normalise import clean_unicode, normalise

pytestmark = pytest.mark.unit

SAMPLE = Path(__file__).parents[1] / "data" / "samples" / "kherson-surrender-2022-09-13.txt"
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)

STORM_PAGE = """<!DOCTYPE html>
<html lang="en"><head>
<title>Storm hits coast | Daily News</title>
<meta property="article:published_time" content="2024-03-05T08:30:00+01:00">
<script>var dataLayer = []; document.write('<p>Advertisement</p>');</script>
<style>p { color: red }</style>
</head>
<body>
<nav><a href="/">Home</a> | <a href="/world">World</a> | <a href="/sport">Sport</a></nav>
<!-- begin article body: tracking pixel below -->
<article>
<h1>Storm hits coast</h1>
<p class="byline">By Jane Roe</p>
<p>A powerful storm battered the northern coast on Tuesday, cutting power to 40,000 homes
and forcing the closure of two ports, officials said.</p>
<p>&ldquo;We have never seen waves like this,&rdquo; said harbour master Tom Berg. Emergency
crews worked through the night to clear fallen trees from the main roads.</p>
<script>trackPageView('storm');</script>
<p>The weather service expects the winds to ease by Thursday.</p>
</article>
<footer>&copy; 2024 Daily News. All rights reserved. <a href="/privacy">Privacy</a></footer>
</body></html>"""

FLOOD_TEXT = """<!-- wp:paragraph -->
Floods force thousands from homes

By Maria Lopez and Ahmed Khan
Published: 4 Apr 2024 09:15 GMT
Photo: Reuters/File

DHAKA, April 4 – Heavy rain flooded low-lying districts of the capital on Thursday, forcing\
 thousands of families from their homes, officials said. The meteorological office warned of\
 more rain over the weekend.

On Monday, the government had announced an emergency fund.   Aid groups said it was   not enough.
"""


def test_sample_title_date_and_body() -> None:
    result = normalise("text", SAMPLE.read_text(encoding="utf-8"), now=NOW)

    assert result.title == (
        "‘Demoralised’ Russian Forces Negotiating Surrender in Kherson Amid Ukraine’s Blitzkrieg"
    )
    assert result.published_at == datetime(2022, 9, 13, tzinfo=UTC)
    assert "Google tag" not in result.body
    assert "-->" not in result.body
    assert "IMAGE SOURCE" not in result.body
    assert "September 13, 2022" not in result.body
    # The headline is the title, not body text (nor its repeat under the date line).
    assert "Blitzkrieg" not in result.body
    assert result.body.startswith("Ukraine’s Operational Command South affirmed")
    assert "On Monday, Ukraine revealed" in result.body
    assert result.body.rstrip().endswith("“could spark an uncontrollable reaction.”")
    assert "\n\n\n" not in result.body


def test_html_page_drops_scripts_styles_comments_and_navigation() -> None:
    result = normalise("html", STORM_PAGE, now=NOW)

    assert result.title == "Storm hits coast"
    assert result.published_at == datetime(2024, 3, 5, 7, 30, tzinfo=UTC)
    assert result.authors == ("Jane Roe",)
    for junk in ("dataLayer", "Advertisement", "color: red", "trackPageView", "Home", "©"):
        assert junk not in result.body
    assert "begin article body" not in result.body
    assert result.body.startswith("A powerful storm battered the northern coast on Tuesday")
    assert "“We have never seen waves like this,” said harbour master Tom Berg." in result.body
    assert result.body.endswith("The weather service expects the winds to ease by Thursday.")


def test_scraped_text_with_byline_dateline_and_credit() -> None:
    result = normalise("text", FLOOD_TEXT, now=NOW)

    assert result.title == "Floods force thousands from homes"
    assert result.published_at == datetime(2024, 4, 4, 9, 15, tzinfo=UTC)
    assert result.authors == ("Maria Lopez", "Ahmed Khan")
    assert result.body.startswith("DHAKA, April 4 – Heavy rain flooded")
    assert "wp:paragraph" not in result.body
    assert "Reuters/File" not in result.body
    assert "emergency fund. Aid groups said it was not enough." in result.body


def test_relative_weekday_never_becomes_the_date() -> None:
    text = (
        "Talks resume in Geneva\n\n"
        "On Monday, negotiators met again in Geneva after a pause of three weeks, and on "
        "Tuesday they said progress had been made on prisoner exchanges and on the grain "
        "corridor, though no agreement was signed and both sides blamed each other for delays "
        "that had cost lives.\n\nMore talks are planned."
    )
    result = normalise("text", text, now=NOW)

    assert result.title == "Talks resume in Geneva"
    assert result.published_at is None


def test_hard_wrapped_text_without_headline_gets_no_title() -> None:
    text = (
        "A powerful storm battered the northern coast on Tuesday, cutting power to\n"
        "40,000 homes and forcing the closure of two ports, officials said\n\n"
        "Crews worked through the night."
    )
    result = normalise("text", text, now=NOW)

    assert result.title is None
    assert result.body.startswith("A powerful storm battered")
    assert result.body.endswith("Crews worked through the night.")


def test_first_sentence_is_not_taken_for_a_headline() -> None:
    text = "Officials confirmed the closure.\n\nThe port will reopen next week."
    result = normalise("text", text, now=NOW)

    assert result.title is None
    assert result.body == text


def test_future_date_line_is_ignored() -> None:
    text = "Festival announced\n\nJuly 4, 2031\n\nThe city will host a festival next decade."
    result = normalise("text", text, now=NOW)

    assert result.published_at is None
    assert result.title == "Festival announced"


def test_plain_text_with_angle_brackets_and_ampersands_survives() -> None:
    text = "Rates rise\n\nFor borrowers with scores < 600, AT&T-style fees apply &amp; grow."
    result = normalise("text", text, now=NOW)

    assert result.body == "For borrowers with scores < 600, AT&T-style fees apply &amp; grow."


def test_html_fragment_in_text_is_stripped_to_paragraphs() -> None:
    text = (
        '<div class="post"><!-- ad slot --><script>window.ads=[]</script>'
        "<h2>Council approves budget</h2>"
        "<p>The city council approved a &euro;12m budget on Wednesday.</p>"
        "<p>The vote was 7&ndash;2.</p></div>"
    )
    result = normalise("text", text, now=NOW)

    assert result.title == "Council approves budget"
    assert (
        result.body == "The city council approved a €12m budget on Wednesday.\n\nThe vote was 7–2."
    )


def test_full_html_document_sent_as_text_is_extracted_as_html() -> None:
    result = normalise("text", STORM_PAGE, now=NOW)

    assert result.title == "Storm hits coast"
    assert "dataLayer" not in result.body


def test_small_html_fragment_falls_back_to_its_text() -> None:
    result = normalise("html", "<p>Just one short line.</p><script>x()</script>", now=NOW)

    assert result.body == "Just one short line."


def test_unicode_and_whitespace_are_normalised() -> None:
    # NBSP, zero-width space, soft hyphen, BOM, CRLF, a decomposed é and a line separator.
    raw = "\ufeffCafe\u0301\u00a0news\r\nline\u200b two\u00ad\u2028three\x07"
    assert clean_unicode(raw) == "Café news\nline two\nthree"

    result = normalise("text", "Headline\u00a0here\r\n\r\nBody\t  text   with  spaces.", now=NOW)
    assert result.title == "Headline here"
    assert result.body == "Body text with spaces."


def test_markup_only_text_leaves_an_empty_body() -> None:
    result = normalise("text", "<!-- nothing here --><script>alert(1)</script>", now=NOW)

    assert result.body == ""


def test_extracted_date_in_the_future_is_dropped_for_html() -> None:
    page = STORM_PAGE.replace("2024-03-05T08:30:00+01:00", "2030-01-01T00:00:00+00:00")
    result = normalise("html", page, now=NOW, max_future=timedelta(days=1))

    assert result.published_at is None or result.published_at <= NOW + timedelta(days=1)


def test_concurrent_normalisation_gives_the_sequential_results() -> None:
    # The app normalises in worker threads; dateparser alone is not thread-safe.
    inputs = [SAMPLE.read_text(encoding="utf-8"), FLOOD_TEXT] * 8
    expected = [normalise("text", text, now=NOW) for text in inputs]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda text: normalise("text", text, now=NOW), inputs))

    assert results == expected


def test_date_languages_put_the_articles_language_first() -> None:
    from newsflow_ingest.normalise import date_languages

    assert date_languages(None) == ("en",)
    assert date_languages("en-GB") == ("en",)
    assert date_languages("de-AT") == ("de", "en")


def test_date_line_in_the_articles_language_and_unknown_languages() -> None:
    from datetime import UTC, datetime

    from newsflow_ingest.normalise import normalise

    text = (
        "Sturm an der Küste\n\n13. September 2022\n\n" + "Ein schwerer Sturm traf die Küste. " * 8
    )
    german = normalise("text", text, languages=("de", "en"))
    assert german.published_at == datetime(2022, 9, 13, tzinfo=UTC)
    assert "13. September 2022" not in german.body
    # A language dateparser does not know falls back to English instead of failing.
    english = "Storm hits coast\n\nSeptember 13, 2022\n\n" + "A storm hit the coast. " * 8
    assert normalise("text", english, languages=("zz", "en")).published_at == datetime(
        2022, 9, 13, tzinfo=UTC
    )
