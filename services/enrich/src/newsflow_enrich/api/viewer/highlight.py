"""Body highlighting for the viewer: marks for quotes, speakers and entities, nested safely.

Pure functions of the body and the analysis; nothing here knows about HTTP or storage.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

from newsflow_schema import Entity, Quote, Span

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

# Nesting rank: a quote encloses the speaker reference and entities inside it.
_QUOTE, _SPEAKER, _ENTITY = 0, 1, 2


def label_class(label: str) -> str:
    """The CSS class suffix for an entity label; unknown labels share one style."""
    return label if label in LABEL_COLOURS else "OTHER"


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
