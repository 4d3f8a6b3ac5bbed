"""The one classification of enrich's failures: an outage to wait out, or a permanent refusal.

Adapters (PostgreSQL writes, the DLQ producer, the relay) pass what they raise through
`classify`, so the batch handler and the relay see `DatabaseUnavailable`/`KafkaUnavailable`
for an outage and a `Rejected` for something no retry can fix, and nothing else.
"""

from __future__ import annotations

from aiokafka.errors import (
    CorruptRecordException,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from sqlalchemy.exc import DBAPIError

from newsflow_schema.http import DatabaseUnavailable, KafkaUnavailable, ServiceUnavailable

# Base classes only: OperationalError and InterfaceError are DBAPIErrors, TimeoutError and
# asyncpg's refused connection are OSErrors.
INFRASTRUCTURE: tuple[type[BaseException], ...] = (DBAPIError, KafkaError, OSError)

# SQLSTATE classes no retry can fix: data exception (22: a NUL byte in text), integrity
# violation (23), syntax or access rule (42), program limit exceeded (54: an index row
# over the btree maximum).
PERMANENT_SQLSTATE_CLASSES = frozenset({"22", "23", "42", "54"})

# What the broker refuses for this record whatever happens to the cluster.
PERMANENT_KAFKA: tuple[type[KafkaError], ...] = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    CorruptRecordException,
)


class Rejected(Exception):  # noqa: N818 - an outcome, like the ServiceUnavailable family
    """A dependency refused this very input for good: isolate it, never retry it."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def sqlstate(exc: DBAPIError) -> str | None:
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code if isinstance(code, str) else None


def _first_line(exc: BaseException) -> str:
    # str() of a DBAPIError carries the statement and its parameters (the whole body).
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).splitlines()[0] if str(cause) else ""
    return f"{type(cause).__name__}: {text}"[:1000]


def classify(exc: BaseException) -> ServiceUnavailable | Rejected | None:
    """The outage or refusal `exc` stands for; None when it is neither (a bug: let it rise)."""
    if isinstance(exc, ServiceUnavailable | Rejected):
        return exc
    if isinstance(exc, DBAPIError):
        code = sqlstate(exc)
        if code is not None and code[:2] in PERMANENT_SQLSTATE_CLASSES:
            return Rejected(
                "db-rejected", f"PostgreSQL refused it (SQLSTATE {code}): {_first_line(exc)}"
            )
        return DatabaseUnavailable(f"the database is unavailable: {_first_line(exc)}")
    if isinstance(exc, PERMANENT_KAFKA):
        return Rejected("event-too-large", f"the broker refused it: {_first_line(exc)}")
    if isinstance(exc, KafkaError):
        return KafkaUnavailable(f"Kafka is unavailable: {_first_line(exc)}")
    if isinstance(exc, OSError):
        return DatabaseUnavailable(f"a connection failed: {_first_line(exc)}")
    return None


def translate(exc: BaseException) -> BaseException:
    """`exc` as the outage or refusal it stands for, or itself when it is neither."""
    mapped = classify(exc)
    return exc if mapped is None else mapped
