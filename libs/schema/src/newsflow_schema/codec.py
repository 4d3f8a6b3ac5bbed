"""Event values as bytes on the wire: compact JSON of the frozen models."""

from __future__ import annotations

from typing import TypeVar

from pydantic import ValidationError

from newsflow_schema.events import Event

E = TypeVar("E", bound=Event)


class DecodeError(ValueError):
    """A record value that is not a valid event of the expected type."""

    def __init__(self, message: str, *, cause: Exception) -> None:
        super().__init__(message)
        self.error_class = type(cause).__name__


def encode(event: Event) -> bytes:
    return event.model_dump_json().encode()


def decode(model: type[E], value: bytes | None) -> E:
    """Parse a record value; raise DecodeError saying what is wrong with it."""
    if value is None:
        raise DecodeError("record has no value (tombstone)", cause=ValueError())
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(f"value is not UTF-8: {exc}", cause=exc) from exc
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        raise DecodeError(
            f"value is not a valid {model.__name__}: {exc.error_count()} error(s): "
            + "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in exc.errors()[:5]
            ),
            cause=exc,
        ) from exc
