"""Crash points: parsed strictly, fire exactly on the n-th pass."""

from __future__ import annotations

import os
import signal

import pytest

from newsflow_enrich.faults import CrashPoints, CrashSpecError
from newsflow_enrich.nlp import Document

pytestmark = pytest.mark.unit


def test_empty_spec_never_fires(monkeypatch: pytest.MonkeyPatch) -> None:
    kills: list[int] = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: kills.append(sig))
    points = CrashPoints("")
    for _ in range(5):
        points.reached("after-db-commit")
    assert kills == []


def test_fires_on_the_nth_pass_only(monkeypatch: pytest.MonkeyPatch) -> None:
    kills: list[int] = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: kills.append(sig))
    points = CrashPoints("after-db-commit:3, after-relay-publish")
    points.reached("after-db-commit")
    points.reached("after-db-commit")
    points.reached("before-db-commit")
    assert kills == []
    points.reached("after-db-commit")
    assert kills == [signal.SIGKILL]
    points.reached("after-relay-publish")
    assert kills == [signal.SIGKILL, signal.SIGKILL]


@pytest.mark.parametrize("spec", ["after-commit", "after-db-commit:x", "nowhere:2"])
def test_bad_specs_are_refused_with_the_valid_points(spec: str) -> None:
    with pytest.raises(CrashSpecError, match="after-db-commit"):
        CrashPoints(spec)


def test_marker_points_reach_the_nlp_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    kills: list[int] = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: kills.append(sig))
    faults = CrashPoints("nlp-kill-on:zq-kill, after-db-commit:2").worker_faults()
    assert (faults.kill_on, faults.slow_on) == ("zq-kill", "")
    faults.obey([Document(key="a", body="an ordinary article")])
    assert kills == []
    faults.obey([Document(key="b", body="this one says zq-kill somewhere")])
    assert kills == [signal.SIGKILL]


def test_a_marker_point_needs_its_marker() -> None:
    with pytest.raises(CrashSpecError):
        CrashPoints("nlp-kill-on")
