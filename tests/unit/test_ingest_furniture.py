"""Normalisation removes only provable page furniture and invents no metadata."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from newsflow_ingest.articles import InvalidArticleError, Limits, prepare
from newsflow_ingest.furniture import authors_from_byline, date_line, is_credit
from newsflow_ingest.normalise import Given, clean_unicode, normalise

pytestmark = pytest.mark.unit

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
LIMITS = Limits(max_text_chars=100_000, max_future=timedelta(days=1), now=NOW)
LONG = (
    "The club's supporters filled the stadium long before kick-off, and the noise did not "
    "stop until the final whistle, when the home players gathered in the centre circle to "
    "thank them for a season that had started badly and ended with a place in the play-offs."
)

FOOTBALL = [
    "Harbour City 2 Westbrook Rovers 1",
    "By contrast with last season, the home side pressed high from the first minute.",
    "Getty Images photographers were barred from the ground after a dispute with the club.",
    "Rain fell on 3 March 2024.",
    LONG,
]


def test_football_report_with_a_title_keeps_every_paragraph_and_invents_nothing() -> None:
    event = prepare({"title": "City edge Rovers", "text": "\n\n".join(FOOTBALL)}, LIMITS)

    assert event.title == "City edge Rovers"
    assert event.body.split("\n\n") == FOOTBALL
    assert event.authors == ()
    assert event.published_at is None


def test_obama_sentence_alone_is_an_article() -> None:
    text = (
        "By Obama's assessment, Clinton performed \u201cwonderfully under really tough "
        "circumstances.\u201d"
    )
    event = prepare({"text": text}, LIMITS)
    assert event.body == text
    assert event.authors == ()


def test_given_fields_are_never_extracted_from_the_body() -> None:
    text = "Storm hits coast\n\nBy Jane Doe\n\n4 April 2024\n\n" + LONG
    event = prepare(
        {"text": text, "title": "Given", "authors": ["Ann Lee"], "published_at": "2024-05-01"},
        LIMITS,
    )
    assert event.title == "Given"
    assert event.authors == ("Ann Lee",)
    assert event.published_at == datetime(2024, 5, 1, tzinfo=UTC)
    # The byline and the date line are furniture either way; the first line is text.
    assert event.body.split("\n\n") == ["Storm hits coast", LONG]


# Realistic first lines of articles that are text, never furniture.
KEPT = [
    "Harbour City 2 Westbrook Rovers 1",
    "By contrast with last season, the home side pressed high.",
    "By Obama's assessment, Clinton performed well.",
    "By the end of the day, 40 people had been rescued.",
    "By Tuesday, the river had burst its banks.",
    "By 2030, the city wants every bus to be electric.",
    "Getty Images photographers were barred from the ground.",
    "Reuters reported on Monday that talks had stalled.",
    "AP Photo editors chose the image for its clarity.",
    "Rain fell on 3 March 2024.",
    "On Monday, the minister resigned.",
    "Last updated 12 hours ago",
    "Updated 5 minutes ago",
    "The 2024 budget passed by 7 votes to 2.",
    "Photo finish decides the 100m final",
    "Credit card debt hits a record in 2024",
    "Image rights are at the heart of the case, lawyers said.",
    "March 2024 was the wettest month on record.",
    "September 11, 2001 changed the city for ever, residents say.",
    "Published in 1851, the novel still sells.",
    "Shutterstock shares fell 5% after the results.",
    "By and large, the reforms have worked.",
    "Date night: five restaurants to try",
    "Updated guidance tells schools to stay open.",
    "Reuters/Ipsos poll shows a tight race, with 41% each.",
    "Share prices fell 5% on Monday.",
    "Print runs of the paper were cut by half.",
    "Advertisement revenue fell for a third year.",
    "We use cookies from the bakery next door, the chef said, and accept no substitutes.",
    "Copyright law is at the heart of the case.",
    "Home | Away",
    "Cookies and cream is the most popular flavour, the survey found.",
]

# Page furniture that may stand alone on a head line.
REMOVED = [
    "By Jane Doe",
    "By JANE DOE and John Roe, Reuters",
    "By Maria Lopez and Ahmed Khan",
    "By Reuters",
    "Photo: Getty Images",
    "IMAGE SOURCE: AP PHOTO",
    "(AP Photo/Evan Vucci)",
    "Reuters/Jane Doe",
    "Jane Doe/AFP via Getty Images",
    "Published: 4 Apr 2024 09:15 GMT",
    "Updated 13 September 2022",
    "September 13, 2022",
    "Tuesday 13 September 2022",
    "2024-03-04T10:00:00Z",
    "13/09/2022",
    "Home | World | Sport | Business",
    "News · Politics · Europe",
    "Share this article",
    "Share on Facebook | Share on Twitter | Email",
    "Facebook Twitter LinkedIn",
    "Advertisement",
    "Story continues below advertisement",
    "We use cookies to improve your experience. Accept all | Manage preferences",
    "© 2024 Daily News. All rights reserved.",
]


@pytest.mark.parametrize("line", KEPT)
def test_realistic_first_lines_are_kept(line: str) -> None:
    result = normalise("text", f"{line}\n\n{LONG}", now=NOW, given=Given(title="T"))
    assert result.body == f"{line}\n\n{LONG}"
    assert result.published_at is None
    assert result.authors == ()


@pytest.mark.parametrize("line", REMOVED)
def test_furniture_lines_are_removed(line: str) -> None:
    result = normalise("text", f"{line}\n\n{LONG}", now=NOW, given=Given(title="T"))
    assert result.body == LONG


def test_byline_names_and_affiliations() -> None:
    assert authors_from_byline("By JANE DOE and John Roe, Reuters") == ("JANE DOE", "John Roe")
    assert authors_from_byline("By Jane Doe") == ("Jane Doe",)
    assert authors_from_byline("By Ludwig van Beethoven") == ("Ludwig van Beethoven",)
    assert authors_from_byline("By contrast with last season") is None
    assert authors_from_byline("By Tuesday") is None


def test_credit_lines_are_whole_short_lines() -> None:
    assert is_credit("Photo: Getty Images")
    assert is_credit("(AP Photo/Name Surname)")
    assert is_credit("Reuters/Name Surname")
    assert not is_credit("Getty Images photographers were barred from the ground.")
    assert not is_credit("Photo: the mayor, who had been missing for two days, was found.")


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en-GB", datetime(2024, 4, 3, tzinfo=UTC)),
        ("fr", datetime(2024, 4, 3, tzinfo=UTC)),
        ("de-DE", datetime(2024, 4, 3, tzinfo=UTC)),
        ("en-US", datetime(2024, 3, 4, tzinfo=UTC)),
        (None, None),
        ("en", None),
    ],
)
def test_numeric_dates_follow_the_articles_region(
    language: str | None, expected: datetime | None
) -> None:
    found = date_line("03/04/2024", language)
    assert found is not None
    assert found.value == expected
    result = normalise("text", f"03/04/2024\n\n{LONG}", now=NOW, given=Given(language=language))
    assert result.published_at == expected
    assert result.body == LONG


def test_unambiguous_numeric_date_without_region() -> None:
    found = date_line("13/09/2022", None)
    assert found is not None and found.value == datetime(2022, 9, 13, tzinfo=UTC)


def test_relative_dates_are_never_read() -> None:
    for line in ("Last updated 12 hours ago", "On Monday", "Yesterday at 10:00"):
        assert date_line(line, "en-GB") is None


def test_event_dates_in_html_prose_are_not_the_publication_date() -> None:
    page = (
        "<html><body><article><h1>Festival returns</h1><p>The festival opened on 3 March "
        "2024 with a parade.</p><p>" + LONG + "</p></article></body></html>"
    )
    assert normalise("html", page, now=NOW).published_at is None


def test_unicode_keeps_joiners_and_turns_page_breaks_into_space() -> None:
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # ZWNJ inside a word
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # ZWJ sequence
    assert clean_unicode(persian) == persian
    assert clean_unicode(family) == family
    assert clean_unicode("one\x0ctwo\x0bthree\x85four") == "one\ntwo\nthree\nfour"
    assert clean_unicode("a\u202eb\u200bc\u2066d") == "abcd"


@pytest.mark.parametrize(
    "text",
    [
        "Write to us at <news@example.com> with tips.",
        "Remember that a < b > c when both hold.",
        "Use <Ctrl> and <Alt> together.",
    ],
)
def test_plain_text_with_angle_brackets_stays_text(text: str) -> None:
    assert normalise("text", f"{text}\n\n{LONG}", now=NOW, given=Given(title="T")).body == (
        f"{text}\n\n{LONG}"
    )


def test_non_tag_angle_brackets_survive_next_to_real_tags() -> None:
    result = normalise("text", "<p>Mail <news@example.com> today.</p>", now=NOW)
    assert result.body == "Mail <news@example.com> today."
    result = normalise("text", "<p>Press <Ctrl> and <Alt>, then a < b > c.</p>", now=NOW)
    assert result.body == "Press <Ctrl> and <Alt>, then a < b > c."


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that records every request it gets."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            seen.append(self.path)
            body = b'<html><head><meta name="date" content="2020-01-02"></head></html>'
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield f"http://{host!s}:{port}/page", seen
    finally:
        server.shutdown()
        server.server_close()


def test_html_that_is_a_url_is_refused_and_nothing_is_fetched(
    listener: tuple[str, list[str]],
) -> None:
    url, seen = listener
    with pytest.raises(InvalidArticleError) as caught:
        prepare({"html": url}, LIMITS)
    assert caught.value.errors[0]["field"] == "html"
    assert seen == []


def test_html_linking_a_url_is_never_fetched(listener: tuple[str, list[str]]) -> None:
    url, seen = listener
    page = (
        f'<html><head><link rel="canonical" href="{url}"></head><body><article>'
        f'<p><a href="{url}">{url}</a></p><p>{LONG}</p></article></body></html>'
    )
    result = normalise("html", page, now=NOW)
    assert result.published_at is None
    result = normalise("html", url + " <b>x</b>", now=NOW)
    assert seen == []


def test_closed_port_url_is_a_422_not_a_500() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(InvalidArticleError):
        prepare({"html": f"http://127.0.0.1:{port}/"}, LIMITS)
