"""Finding article files and turning them into the objects the batch endpoint takes."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TEXT_SUFFIXES = frozenset({".txt"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
JSON_SUFFIXES = frozenset({".json"})
LINES_SUFFIXES = frozenset({".jsonl", ".ndjson"})
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES | LINES_SUFFIXES

# What ingest's ArticleIn accepts; anything else it refuses with 422.
STRING_FIELDS = ("text", "html", "title", "url", "source", "published_at", "language")
LIST_FIELDS = ("authors", "tags")
KNOWN_FIELDS = frozenset(STRING_FIELDS + LIST_FIELDS)


@dataclass(frozen=True, slots=True)
class Item:
    """One article to send, and where in the input it came from (for the summary)."""

    origin: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Invalid:
    """Input that cannot become an article, with the reason a person can act on."""

    origin: str
    reason: str


def discover(paths: Iterable[Path]) -> tuple[list[Path], list[Invalid]]:
    """Files to read, in a stable order; folders are walked recursively.

    Inside folders, files of other types are skipped silently (a folder of articles often
    has a README); a file named explicitly with an unsupported type is an error.
    """
    found: list[Path] = []
    problems: list[Invalid] = []
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            candidates = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED
            )
        elif path.is_file():
            if path.suffix.lower() not in SUPPORTED:
                problems.append(
                    Invalid(
                        str(path),
                        f"unsupported file type {path.suffix or '(none)'!r}; "
                        f"use one of {', '.join(sorted(SUPPORTED))}",
                    )
                )
                continue
            candidates = [path]
        else:
            problems.append(Invalid(str(path), "no such file or folder"))
            continue
        for candidate in candidates:
            key = candidate.resolve()
            if key not in seen:
                seen.add(key)
                found.append(candidate)
    return found, problems


def read_file(path: Path) -> Iterator[Item | Invalid]:
    """The articles in one file, each checked as ingest would check its shape."""
    try:
        content = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        yield Invalid(str(path), f"not UTF-8 (bad byte at position {exc.start}); save it as UTF-8")
        return
    except OSError as exc:
        yield Invalid(str(path), f"cannot read it: {exc.strerror or exc}")
        return
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        yield _checked(str(path), {"text": content})
    elif suffix in HTML_SUFFIXES:
        yield _checked(str(path), {"html": content})
    elif suffix in JSON_SUFFIXES:
        yield from _json_items(str(path), content)
    else:
        yield from _lines_items(str(path), content)


def _json_items(origin: str, content: str) -> Iterator[Item | Invalid]:
    try:
        parsed = json.loads(content)
    except json.JSONDecodeError as exc:
        yield Invalid(origin, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
        return
    if isinstance(parsed, list):
        for index, value in enumerate(parsed):
            yield _checked(f"{origin}[{index}]", value)
    else:
        yield _checked(origin, parsed)


def _lines_items(origin: str, content: str) -> Iterator[Item | Invalid]:
    for line_no, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{origin}:{line_no}"
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Invalid(where, f"not valid JSON: {exc.msg} at column {exc.colno}")
            continue
        yield _checked(where, value)


def _checked(origin: str, value: Any) -> Item | Invalid:
    reason = shape_error(value)
    if reason is not None:
        return Invalid(origin, reason)
    return Item(origin, value)


def shape_error(value: Any) -> str | None:
    """Why `value` is not an article object ingest could take, or None when it could be.

    Only the shape is checked here; ingest stays the judge of the content (URL, date,
    limits), and its reasons are reported per item after sending.
    """
    if not isinstance(value, dict):
        return f"an article is a JSON object, not {type(value).__name__}"
    unknown = sorted(set(value) - KNOWN_FIELDS)
    if unknown:
        return f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(KNOWN_FIELDS))}"
    for name in STRING_FIELDS:
        if value.get(name) is not None and not isinstance(value[name], str):
            return f"{name} must be a string"
    for name in LIST_FIELDS:
        items = value.get(name)
        if items is not None and (
            not isinstance(items, list) or not all(isinstance(i, str) for i in items)
        ):
            return f"{name} must be a list of strings"
    has_text = isinstance(value.get("text"), str) and value["text"].strip() != ""
    has_html = isinstance(value.get("html"), str) and value["html"].strip() != ""
    if has_text and has_html:
        return "give either text or html, not both"
    if not (has_text or has_html):
        return "text or html is required and must not be empty"
    return None


def load(paths: Iterable[Path]) -> tuple[list[Item], list[Invalid]]:
    """Every article under `paths`, and every piece of input that is not one."""
    files, problems = discover(paths)
    items: list[Item] = []
    for path in files:
        for result in read_file(path):
            if isinstance(result, Item):
                items.append(result)
            else:
                problems.append(result)
    return items, problems
