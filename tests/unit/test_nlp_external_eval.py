"""Scoring on open data: CoNLL reading, OntoNotes→CoNLL mapping, doc-level and mention F1."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsflow_enrich.training.external_eval import (
    GoldText,
    head_start,
    load_wikigold,
    name_key,
    report_external,
    score,
    target_recall,
)

pytestmark = pytest.mark.unit

CONLL = """-DOCSTART- O

The I-ORG
Mad I-ORG
Capsule I-ORG
played O
in O
Tokyo I-LOC
. O

-DOCSTART- O

John I-PER
Smith I-PER
B-PER B-PER
"""


def test_conll_documents_become_text_and_spans(tmp_path: Path) -> None:
    path = tmp_path / "w.conll"
    path.write_text(CONLL, "utf-8")
    first, second = load_wikigold(path)
    assert first.text == "The Mad Capsule played in Tokyo ."
    assert [(first.text[s:e], t) for s, e, t in first.spans] == [
        ("The Mad Capsule", "ORG"),
        ("Tokyo", "LOC"),
    ]
    # A B- tag opens a new span even after one of the same type.
    assert [(second.text[s:e], t) for s, e, t in second.spans] == [
        ("John Smith", "PER"),
        ("B-PER", "PER"),
    ]


def test_doc_level_scores_names_not_offsets() -> None:
    doc = GoldText("d", "Paris met Paris Hilton", ((0, 5, "LOC"), (10, 22, "PER")))
    perfect = score([doc], [{(0, 5, "LOC"), (10, 22, "PER")}])
    assert (perfect.doc_f1, perfect.mention_f1) == (1.0, 1.0)
    wrong_type = score([doc], [{(0, 5, "PER")}])
    assert wrong_type.doc_f1 == 0.0 and wrong_type.mention_f1 == 0.0
    half = score([doc], [{(0, 5, "LOC")}])
    assert half.doc_f1 == pytest.approx(2 / 3) and half.mention_f1 == pytest.approx(2 / 3)
    assert name_key("The  Beatles’s") == "beatles"


def test_target_recall_counts_covered_targets() -> None:
    doc = GoldText("s", "Trump met Assange", ((0, 5, "NAME"), (10, 17, "NAME")))
    assert target_recall([doc], [{(0, 5)}]) == 0.5


def test_target_recall_reads_a_titled_target_by_its_head_word() -> None:
    # "Mr. Trump's": OntoNotes names leave the honorific out; the head "Trump" is the name.
    text = "Mr. Trump's aides met President Barack Obama."
    doc = GoldText("s", text, ((0, 11, "NAME"), (22, 44, "NAME")))
    assert head_start(text, 0, 11) == 4
    assert head_start(text, 22, 44) == text.index("Obama")
    assert target_recall([doc], [{(4, 9), (32, 44)}]) == 1.0
    assert target_recall([doc], [{(22, 31)}]) == 0.0


def test_report_skips_without_shared_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report_external(tmp_path)
    assert "skipped" in capsys.readouterr().out
