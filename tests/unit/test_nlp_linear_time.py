"""Every regex of the NLP package, and the text pre-processing, run in linear time.

A pattern that backtracks (``<[^>]*>`` scanned from each of 200,000 ``<``) takes tens of seconds
on one crafted line that ingest accepts in milliseconds; these inputs find such patterns.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import time
from collections.abc import Callable

import pytest

import newsflow_enrich.nlp as nlp_package
from newsflow_enrich.nlp.segment import segment

pytestmark = pytest.mark.unit

N = 200_000
# Generous: a linear pattern scans 200,000 characters in milliseconds, a quadratic one in
# tens of seconds.
DEADLINE_S = 1.0

ADVERSARIAL: dict[str, str] = {
    "lt": "<" * N,
    "lt-unclosed-tag": "<a" * (N // 2),
    "dquote": '"' * N,
    "curly-quotes": "“" * N,
    "quote-letter": '"a' * (N // 2),
    "curly-quote-letter": "“a”" * (N // 3),
    "spaces": " " * N,
    "newlines": "\n" * N,
    "space-newline": " \n" * (N // 2),
    "letters": "a" * N,
    "caps": "A" * N,
    "caps-space": "A " * (N // 2),
    "caps-dash": "A-" * (N // 2),
    "digits": "1" * N,
    "words": "the " * (N // 4),
    "commas": "," * N,
    "comma-the": ", the " * (N // 6),
    "of-the": " of the" * (N // 7),
    "dashes": "-" * N,
    "apostrophes": "a'" * (N // 2),
    "eq-space": "= " * (N // 2),
    "function-space": "function " * (N // 9),
    "braces": "{" * N,
    "hyphen-words": "a-" * (N // 2),
    "dots": "." * N,
    # A long run and then the one character that makes the match fail at its end.
    "spaces-letter": " " * (N - 1) + "x",
    "spaces-comma-letter": " " * (N // 2) + "," + " " * (N // 2 - 2) + "x",
    "digits-letter": "1" * (N - 1) + "x",
    "lt-letter": "<" * (N - 1) + "x",
}


def _patterns() -> list[tuple[str, re.Pattern[str]]]:
    found: list[tuple[str, re.Pattern[str]]] = []
    for info in pkgutil.walk_packages(nlp_package.__path__, f"{nlp_package.__name__}."):
        module = importlib.import_module(info.name)
        for attr, value in vars(module).items():
            if isinstance(value, re.Pattern) and isinstance(value.pattern, str):
                found.append((f"{info.name}.{attr}", value))
    return found


PATTERNS = _patterns()


def test_the_package_has_patterns_to_check() -> None:
    # Introspection that finds nothing would make the timing test below pass vacuously.
    assert len(PATTERNS) >= 10
    assert any(name.endswith("segment._MARKUP") for name, _ in PATTERNS)


def _elapsed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _exercise(pattern: re.Pattern[str], text: str) -> None:
    # finditer tries a match from every position (what exposes a pattern that rescans a run from
    # each of its characters); match/fullmatch are how anchored patterns are used.
    sum(1 for _ in pattern.finditer(text))
    pattern.match(text)
    pattern.fullmatch(text)


@pytest.mark.parametrize(("name", "pattern"), PATTERNS, ids=[n for n, _ in PATTERNS])
def test_every_pattern_is_linear_on_adversarial_input(name: str, pattern: re.Pattern[str]) -> None:
    slow: dict[str, float] = {}
    for kind, text in ADVERSARIAL.items():
        # A tenth of the input first: a quadratic pattern fails fast there instead of hanging.
        probe = text[: N // 10 - 1] + text[-1]
        took = _elapsed(lambda t=probe: _exercise(pattern, t))
        if took > DEADLINE_S / 10:
            slow[f"{kind} (a tenth)"] = round(took, 2)
            continue
        took = _elapsed(lambda t=text: _exercise(pattern, t))
        if took > DEADLINE_S:
            slow[kind] = round(took, 2)
    assert not slow, f"{name} ({pattern.pattern!r}) is slow on: {slow}"


@pytest.mark.parametrize("kind", ["lt", "quote-letter", "caps-space", "words", "eq-space"])
def test_segment_is_linear_on_one_long_line(kind: str) -> None:
    unit = ADVERSARIAL[kind]
    small, large = unit[: N // 4], unit
    t_small = min(_elapsed(lambda: segment(small)) for _ in range(3))
    t_large = min(_elapsed(lambda: segment(large)) for _ in range(3))
    # Linear: 4x the text, about 4x the time; quadratic would be 16x. The floor keeps timer noise
    # on a tiny run from deciding.
    assert t_large < DEADLINE_S
    assert t_large / max(t_small, 0.002) < 8, (kind, t_small, t_large)
