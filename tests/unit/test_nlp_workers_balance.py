"""A batch is split across the NLP workers by length, so no worker waits on a long tail."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsflow_enrich.nlp.workers import balanced_groups

pytestmark = pytest.mark.unit


def test_long_documents_are_spread_and_each_group_keeps_batch_order() -> None:
    # Contiguous halves would give one worker 16,000 characters and the other 400.
    sizes = [8000, 8000, 100, 100, 100, 100]
    groups = balanced_groups(sizes, 2)
    assert sorted(i for g in groups for i in g) == list(range(6))
    loads = sorted(sum(sizes[i] for i in g) for g in groups)
    assert loads == [8200, 8200]
    assert all(g == sorted(g) for g in groups)


def test_fewer_documents_than_workers_and_one_worker() -> None:
    assert balanced_groups([5], 4) == [[0]]
    assert balanced_groups([3, 1, 2], 1) == [[0, 1, 2]]
    assert balanced_groups([], 2) == []


@given(st.lists(st.integers(0, 20_000), max_size=64), st.integers(1, 8))
def test_every_document_is_in_exactly_one_group_and_no_group_is_far_off(
    sizes: list[int], workers: int
) -> None:
    groups = balanced_groups(sizes, workers)
    assert sorted(i for g in groups for i in g) == list(range(len(sizes)))
    assert len(groups) <= workers
    if groups:
        loads = [sum(sizes[i] + 1 for i in g) for g in groups]
        # Longest-first greedy: the heaviest group exceeds the lightest by at most one document.
        assert max(loads) - min(loads) <= max(sizes) + 1
