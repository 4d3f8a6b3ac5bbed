"""What the normalisers run: a request body or batch items in, events or refusals out.

CPU-bound and pure, so it runs alike in a thread or in a worker process of the normaliser
(`newsflow_ingest.normaliser`). What it returns pickles: a client error comes back as a
`Refusal`, not as the ProblemError it stands for (whose keyword arguments pickle loses).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from newsflow_ingest.articles import InvalidArticleError, Limits, prepare
from newsflow_ingest.batch import BatchItemResult, LineError, decode_json, decode_utf8
from newsflow_schema import ArticleRawEvent
from newsflow_schema.http import ProblemError

Prepared = ArticleRawEvent | BatchItemResult


@dataclass(frozen=True, slots=True)
class Refusal:
    """A problem+json answer (4xx) decided while preparing, in a form that pickles."""

    status: int
    detail: str
    slug: str
    errors: tuple[Mapping[str, Any], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, problem: ProblemError) -> Refusal:
        return cls(
            problem.status, problem.detail, problem.slug, tuple(problem.errors), problem.headers
        )

    def problem(self) -> ProblemError:
        return ProblemError(
            self.status, self.detail, slug=self.slug, errors=self.errors, headers=self.headers
        )


def prepare_body(body: bytes, limits: Limits) -> ArticleRawEvent | Refusal:
    """Decode, validate and normalise the body of POST /v1/articles."""
    try:
        payload = decode_json(decode_utf8(body))
        try:
            return prepare(payload, limits)
        except InvalidArticleError as exc:
            raise ProblemError(422, exc.summary(), errors=exc.errors) from None
    except ProblemError as exc:
        return Refusal.of(exc)


def prepare_item(index: int, item: Any, limits: Limits) -> Prepared:
    """One item of a batch: its event, or its 400/422 result."""
    if isinstance(item, LineError):
        return BatchItemResult(index=index, status=400, detail=item.message)
    try:
        return prepare(item, limits)
    except InvalidArticleError as exc:
        return BatchItemResult(index=index, status=422, detail=exc.summary(), errors=exc.errors)


def prepare_items(indexed: Sequence[tuple[int, Any]], limits: Limits) -> list[Prepared]:
    """Items of a batch, each with its index."""
    return [prepare_item(index, item, limits) for index, item in indexed]


_SCALARS = (str, int, float, bool, type(None))


def is_flat(item: Any) -> bool:
    """Whether a batch item is a JSON object of scalars and lists of scalars.

    Every article is; anything else is refused by validation without being normalised,
    and may be nested too deeply to pickle (pickle recurses per level, and gives up long
    before the JSON parser does).
    """
    return isinstance(item, dict) and all(
        isinstance(value, _SCALARS)
        or (isinstance(value, list) and all(isinstance(v, _SCALARS) for v in value))
        for value in item.values()
    )
