"""`newsflow post` input: file discovery, parsing per type, and the shape check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsflow_cli.app import app
from newsflow_cli.files import Invalid, Item, discover, load, shape_error

pytestmark = pytest.mark.unit


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_folders_are_walked_recursively_in_order_and_skip_other_types(tmp_path: Path) -> None:
    b = write(tmp_path / "b.txt", "B")
    a = write(tmp_path / "sub" / "a.html", "<p>A</p>")
    write(tmp_path / "README.md", "not an article")
    c = write(tmp_path / "sub" / "deeper" / "c.ndjson", "{}")
    found, problems = discover([tmp_path])
    assert found == sorted([b, a, c])
    assert problems == []


def test_named_unsupported_or_missing_files_are_reported(tmp_path: Path) -> None:
    md = write(tmp_path / "notes.md", "x")
    txt = write(tmp_path / "a.txt", "x")
    found, problems = discover([md, tmp_path / "missing.txt", txt, txt])
    assert found == [txt]  # named twice, read once
    assert [p.origin for p in problems] == [str(md), str(tmp_path / "missing.txt")]
    assert "unsupported file type '.md'" in problems[0].reason
    assert problems[1].reason == "no such file or folder"


def test_each_type_becomes_the_right_payloads(tmp_path: Path) -> None:
    txt = write(tmp_path / "1.txt", "Headline\n\nBody.")
    html = write(tmp_path / "2.html", "<h1>T</h1><p>Body</p>")
    one = write(tmp_path / "3.json", json.dumps({"text": "x", "title": "One"}))
    many = write(tmp_path / "4.json", json.dumps([{"text": "a"}, {"html": "<p>b</p>"}, 5]))
    lines = write(
        tmp_path / "5.jsonl", '{"text": "l1"}\n\nnot json\n{"text": "l4", "tags": ["x"]}\n'
    )
    items, problems = load([txt, html, one, many, lines])
    assert items == [
        Item(str(txt), {"text": "Headline\n\nBody."}),
        Item(str(html), {"html": "<h1>T</h1><p>Body</p>"}),
        Item(str(one), {"text": "x", "title": "One"}),
        Item(f"{many}[0]", {"text": "a"}),
        Item(f"{many}[1]", {"html": "<p>b</p>"}),
        Item(f"{lines}:1", {"text": "l1"}),
        Item(f"{lines}:4", {"text": "l4", "tags": ["x"]}),
    ]
    assert [(p.origin, p.reason.split(":")[0]) for p in problems] == [
        (f"{many}[2]", "an article is a JSON object, not int"),
        (f"{lines}:3", "not valid JSON"),
    ]


def test_undecodable_and_malformed_files_are_problems_not_crashes(tmp_path: Path) -> None:
    latin = tmp_path / "latin.txt"
    latin.write_bytes("café".encode("latin-1"))
    broken = write(tmp_path / "broken.json", '{"text": ')
    items, problems = load([latin, broken])
    assert items == []
    assert problems[0] == Invalid(str(latin), problems[0].reason)
    assert "not UTF-8" in problems[0].reason
    assert problems[1].reason.startswith("not valid JSON")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"text": "x"}, None),
        ({"html": "<p>x</p>", "authors": ["A"], "published_at": "2022-09-13"}, None),
        ({}, "text or html is required and must not be empty"),
        ({"text": "   "}, "text or html is required and must not be empty"),
        ({"text": "x", "html": "<p>x</p>"}, "give either text or html, not both"),
        ({"text": "x", "body": "y"}, "unknown field(s) body; allowed: "),
        ({"text": 3}, "text must be a string"),
        ({"text": "x", "tags": "a,b"}, "tags must be a list of strings"),
        ([1], "an article is a JSON object, not list"),
    ],
)
def test_shape_error(value: object, reason: str | None) -> None:
    found = shape_error(value)
    if reason is None:
        assert found is None
    else:
        assert found is not None and found.startswith(reason)


def test_dry_run_lists_sends_nothing_and_fails_on_bad_input(tmp_path: Path) -> None:
    good = write(tmp_path / "in" / "a.json", json.dumps([{"text": "a", "url": "https://x.org/1"}]))
    dup = write(tmp_path / "in" / "b.jsonl", '{"text": "b", "url": "http://www.x.org/1/"}\n')
    runner = CliRunner(env={"COLUMNS": "400"})
    # An ingest URL nobody listens on: a dry run must not try it.
    result = runner.invoke(
        app, ["--ingest-url", "http://127.0.0.1:9", "post", "--dry-run", str(tmp_path / "in")]
    )
    assert result.exit_code == 0, result.output
    assert "Dry run: would send 2 articles in 1 batch" in result.output
    assert f"{dup}:1" in result.output and f"same URL as {good}[0]" in result.output

    bad = write(tmp_path / "bad.json", json.dumps({"text": "x", "body": "y"}))
    result = runner.invoke(app, ["post", "--dry-run", str(good), str(bad)])
    assert result.exit_code == 1
    assert "Rejected (1)" in result.output and "unknown field(s) body" in result.output


def test_post_with_nothing_to_send_fails(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["post", str(tmp_path)])
    assert result.exit_code == 1
    assert "no article files found" in result.output


def test_names_with_brackets_are_printed_as_they_are(tmp_path: Path) -> None:
    odd = write(tmp_path / "notes [bold]draft[/bold].md", "x")
    result = CliRunner(env={"COLUMNS": "400"}).invoke(app, ["post", "--dry-run", str(odd)])
    assert result.exit_code == 1
    assert "notes [bold]draft[/bold].md" in result.output
