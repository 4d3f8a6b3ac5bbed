"""The `newsflow` command: post, tail, show and replay, wired to settings and the terminal."""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import typer
from aiokafka.errors import KafkaError
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from newsflow_cli import dlq, files, render
from newsflow_cli.filters import EventFilter
from newsflow_cli.post import (
    DEFAULT_MAX_BYTES,
    BatchSender,
    Outcome,
    PostAborted,
    Report,
    chunks,
    find_duplicates,
    find_known,
)
from newsflow_cli.replay import WhenError, parse_when, replay
from newsflow_cli.settings import Settings
from newsflow_cli.tail import TailOptions, tail
from newsflow_schema import ArticleEnrichedEvent, InvalidURLError, article_id, topics

# Exit codes: 1 = the command ran but something was rejected/not found; 2 = cannot run.
EXIT_REJECTED = 1
EXIT_UNAVAILABLE = 2

app = typer.Typer(
    name="newsflow",
    help="Post articles to newsflow, follow their enrichment, read it back, replay it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _out() -> Console:
    # Built per call: CliRunner swaps sys.stdout, and soft wrapping keeps ids intact.
    return Console(soft_wrap=False, highlight=False)


def _err() -> Console:
    return Console(stderr=True, highlight=False)


def _warn(message: str) -> None:
    _err().print(Text(message, style="yellow"))


def _fail(message: str, code: int = EXIT_UNAVAILABLE) -> typer.Exit:
    _err().print(Text.assemble(("error: ", "red"), message))
    return typer.Exit(code)


@app.callback()
def configure(
    ctx: typer.Context,
    ingest_url: Annotated[
        str | None, typer.Option(help="Ingest base URL (env NEWSFLOW_INGEST_URL).")
    ] = None,
    read_api_key: Annotated[
        str | None,
        typer.Option(help="Read API key (env NEWSFLOW_READ_API_KEY).", show_default=False),
    ] = None,
    read_url: Annotated[
        str | None, typer.Option(help="Read API (enrich) base URL (env NEWSFLOW_READ_URL).")
    ] = None,
    bootstrap: Annotated[
        str | None, typer.Option(help="Kafka bootstrap servers (env KAFKA_BOOTSTRAP_SERVERS).")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(help="Ingest API key (env NEWSFLOW_API_KEY).", show_default=False)
    ] = None,
) -> None:
    overrides: dict[str, Any] = {
        "ingest_url": ingest_url,
        "read_url": read_url,
        "read_api_key": read_api_key,
        "kafka_bootstrap_servers": bootstrap,
        "api_key": api_key,
    }
    try:
        settings = Settings()
    except ValidationError as exc:
        raise _fail(f"invalid settings in the environment: {exc}") from None
    # Flags win over the environment.
    ctx.obj = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})


def _settings(ctx: typer.Context) -> Settings:
    settings: Settings = ctx.obj
    return settings


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        # Piped or captured: no bar, whose last frame would only clutter the log.
        disable=not console.is_terminal,
    )


# --- post ----------------------------------------------------------------------------


def _dry_duplicates(items: list[files.Item]) -> list[tuple[str, str]]:
    """Items that will certainly get an earlier item's id: same canonical URL or same payload."""
    first: dict[str, str] = {}
    found: list[tuple[str, str]] = []
    for item in items:
        url = item.payload.get("url")
        try:
            key = str(article_id(url=url, title=None, body="")) if url else None
        except InvalidURLError:
            key = None
        key = key or json.dumps(item.payload, sort_keys=True)
        if key in first:
            found.append((item.origin, f"same {'URL' if url else 'content'} as {first[key]}"))
        else:
            first[key] = item.origin
    return found


def _dry_run(settings: Settings, items: list[files.Item], report: Report, batch: int) -> None:
    out = _out()
    table = Table(title="Would send", title_justify="left")
    table.add_column("input", overflow="fold")
    table.add_column("as")
    table.add_column("title / url")
    table.add_column("chars", justify="right")
    for item in items:
        kind = "html" if "html" in item.payload else "text"
        label = item.payload.get("title") or item.payload.get("url") or "(title from content)"
        table.add_row(Text(item.origin), kind, Text(str(label)), str(len(item.payload[kind])))
    if items:
        out.print(table)
    batches = len(chunks(items, batch, DEFAULT_MAX_BYTES))
    out.print(
        f"Dry run: would send {_n(len(items), 'article')} in {_n(batches, 'batch', 'batches')} to "
        f"{escape(settings.ingest_url)}; nothing was sent."
    )
    duplicates = _dry_duplicates(items)
    if duplicates:
        out.print(render.rejections(duplicates, f"Duplicates in the input ({len(duplicates)})"))
    _print_rejected(out, report)


def _print_rejected(out: Console, report: Report) -> None:
    if report.rejected:
        out.print(
            render.rejections(
                [(r.origin, r.reason) for r in report.rejected],
                f"Rejected ({len(report.rejected)})",
            )
        )


def _utc(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"


def _print_report(settings: Settings, report: Report, batches: int) -> None:
    out = _out()
    accepted = Table(title=f"Accepted ({len(report.accepted)})", title_justify="left")
    accepted.add_column("input", overflow="fold")
    accepted.add_column("article id", no_wrap=True)
    accepted.add_column("note", style="dim")
    known = {o.origin for o in report.known}
    duplicate = {d.origin: d.first for d in report.duplicates}
    for o in report.accepted:
        note = (
            f"duplicate of {duplicate[o.origin]}"
            if o.origin in duplicate
            else "already known"
            if o.origin in known
            else ""
        )
        accepted.add_row(Text(o.origin), o.article_id or "", Text(note))
    if report.accepted:
        out.print(accepted)
    _print_rejected(out, report)
    known_note = (
        f"{len(report.known)} already known"
        if report.known_checked
        else "not checked against the read API"
    )
    out.print(
        f"Posted to {escape(settings.ingest_url)} in {_n(batches, 'batch', 'batches')}: "
        f"[green]{len(report.accepted)} accepted[/green], "
        f"[{'red' if report.rejected else 'green'}]{len(report.rejected)} rejected[/], "
        f"{_n(len(report.duplicates), 'duplicate')} in the input, {known_note}."
    )


def _report_json(report: Report) -> str:
    known = {o.origin for o in report.known}
    duplicate = {d.origin: d.first for d in report.duplicates}
    return json.dumps(
        {
            "accepted": [
                {
                    "input": o.origin,
                    "id": o.article_id,
                    "event_id": o.event_id,
                    "known": (o.origin in known) if report.known_checked else None,
                    "duplicate_of": duplicate.get(o.origin),
                }
                for o in report.accepted
            ],
            "rejected": [{"input": r.origin, "reason": r.reason} for r in report.rejected],
        },
        indent=2,
    )


@app.command()
def post(
    ctx: typer.Context,
    paths: Annotated[
        list[Path],
        typer.Argument(help="Files (.txt .html .json .jsonl .ndjson) or folders (recursive)."),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and list what would be sent; send nothing.")
    ] = False,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Articles per request (ingest's limit: 100 by default).")
    ] = 100,
    retries: Annotated[int, typer.Option(min=0, help="Retries of a 503 or lost connection.")] = 5,
    check_known: Annotated[
        bool,
        typer.Option(help="Ask the read API which accepted articles it already held."),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Send articles through ingest's batch endpoint; exit 1 when any was rejected."""
    settings = _settings(ctx)
    items, problems = files.load(paths)
    report = Report(rejected=list(problems))
    if not items and not problems:
        raise _fail("no article files found (.txt .html .htm .json .jsonl .ndjson)", EXIT_REJECTED)
    if dry_run:
        _dry_run(settings, items, report, batch_size)
        raise typer.Exit(EXIT_REJECTED if report.rejected else 0)

    outcomes: list[Outcome] = []
    parts = chunks(items, batch_size, DEFAULT_MAX_BYTES)
    with (
        httpx.Client(timeout=settings.http_timeout_s) as client,
        _progress(_err()) as progress,
    ):
        task = progress.add_task("posting", total=len(items))
        sender = BatchSender(client, settings, retries=retries)
        try:
            for part in parts:
                outcomes.extend(sender.send(part))
                progress.advance(task, len(part))
        except PostAborted as exc:
            sent = len(outcomes)
            raise _fail(f"{exc} ({sent} of {len(items)} articles were answered)") from None
        for outcome in outcomes:
            if outcome.accepted:
                report.accepted.append(outcome)
            else:
                report.rejected.append(files.Invalid(outcome.origin, outcome.reason or ""))
        report.duplicates = find_duplicates(outcomes)
        if check_known and report.accepted:
            try:
                report.known = find_known(client, settings, report.accepted)
                report.known_checked = True
            except httpx.HTTPError as exc:
                _warn(f"could not ask the read API: {exc!r}")
    if as_json:
        sys.stdout.write(_report_json(report) + "\n")
    else:
        _print_report(settings, report, len(parts))
    raise typer.Exit(EXIT_REJECTED if report.rejected else 0)


# --- tail ----------------------------------------------------------------------------


def _default_group() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "anonymous"
    return f"newsflow-tail-{user}"


@app.command("tail")
def tail_command(
    ctx: typer.Context,
    entity: Annotated[str | None, typer.Option(help="An entity whose name contains this.")] = None,
    label: Annotated[
        str | None, typer.Option(help="An entity with this label, e.g. PERSON.")
    ] = None,
    stance: Annotated[
        Literal["favor", "against", "neutral"] | None,
        typer.Option(help="A stance with this label (toward --entity when given)."),
    ] = None,
    speaker: Annotated[
        str | None, typer.Option(help="A quote whose speaker contains this.")
    ] = None,
    article: Annotated[str | None, typer.Option(help="Only this article id.")] = None,
    group: Annotated[
        str | None, typer.Option(help="Consumer group (default: newsflow-tail-USER).")
    ] = None,
    from_beginning: Annotated[
        bool,
        typer.Option(
            "--from-beginning", help="Read the whole topic; join no group, commit nothing."
        ),
    ] = False,
    max_events: Annotated[
        int | None, typer.Option("--max", min=1, help="Stop after this many events.")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(min=0, help="Stop after this many seconds.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON event per line, for piping.")
    ] = False,
) -> None:
    """Follow enriched articles as they are published; exit 1 if --max was not reached."""
    settings = _settings(ctx)
    options = TailOptions(
        group=group or _default_group(),
        from_beginning=from_beginning,
        max_events=max_events,
        timeout_s=timeout,
    )
    event_filter = EventFilter(
        entity=entity, label=label, stance=stance, speaker=speaker, article=article
    )
    out = _out()
    err = _err()

    def emit(event: ArticleEnrichedEvent, value: bytes) -> None:
        if as_json:
            sys.stdout.write(value.decode("utf-8") + "\n")
            sys.stdout.flush()
        else:
            out.print(render.card(render.ArticleView.from_event(event)))

    if not as_json:
        where = "from the beginning" if from_beginning else f"as group {options.group}"
        err.print(
            Text(f"following the enriched topic at {settings.kafka_bootstrap_servers} {where}"),
            style="dim",
        )
    try:
        result = asyncio.run(tail(settings, options, event_filter, emit, _warn))
    except KafkaError as exc:
        raise _fail(
            f"cannot read from Kafka at {settings.kafka_bootstrap_servers}: {exc!r}"
        ) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    if max_events is not None and result.shown < max_events:
        raise _fail(
            f"timed out after {timeout}s with {result.shown} of {_n(max_events, 'event')}",
            EXIT_REJECTED,
        )


# --- show ----------------------------------------------------------------------------


@app.command()
def show(
    ctx: typer.Context,
    article_id: Annotated[str, typer.Argument(metavar="ID", help="The article id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the read API's JSON.")] = False,
) -> None:
    """Show the stored enrichment of one article."""
    settings = _settings(ctx)
    try:
        ident = uuid.UUID(article_id)
    except ValueError:
        raise _fail(f"{article_id!r} is not an article id (a UUID)", EXIT_REJECTED) from None
    url = f"{settings.read_url.rstrip('/')}/v1/articles/{ident}"
    try:
        response = httpx.get(url, timeout=settings.http_timeout_s, headers=settings.read_headers())
    except httpx.TransportError as exc:
        raise _fail(f"cannot reach the read API at {settings.read_url}: {exc!r}") from None
    if response.status_code == 404:
        raise _fail(f"article {ident} is not enriched (yet), or unknown", EXIT_REJECTED)
    if response.status_code == 401:
        raise _fail("the read API needs a key: set NEWSFLOW_READ_API_KEY", EXIT_UNAVAILABLE)
    if response.status_code != 200:
        raise _fail(f"the read API answered {response.status_code}: {response.text[:300]}")
    data: dict[str, Any] = response.json()
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return
    out = _out()
    failure = data.get("failure")
    if failure:
        out.print(render.failure(failure))
    if data.get("body") is not None:
        out.print(render.article(render.ArticleView.from_api(data)))


# --- replay --------------------------------------------------------------------------


@app.command("replay")
def replay_command(
    ctx: typer.Context,
    since: Annotated[
        str, typer.Option(help="Received at or after: 2022-09-13, an RFC 3339 time, or 7d/12h.")
    ],
    until: Annotated[str | None, typer.Option(help="Received before (same forms).")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be replayed; publish nothing.")
    ] = False,
) -> None:
    """Re-enrich stored articles (e.g. after a model upgrade) via the raw topic."""
    settings = _settings(ctx)
    now = datetime.now(UTC)
    try:
        start = parse_when(since, now=now)
        end = parse_when(until, now=now) if until else None
    except WhenError as exc:
        raise _fail(str(exc), EXIT_REJECTED) from None
    err = _err()
    with _progress(err) as progress:
        task = progress.add_task("replaying", total=None)
        try:
            report = asyncio.run(
                replay(
                    settings,
                    start,
                    end,
                    dry_run=dry_run,
                    on_total=lambda n: progress.update(task, total=n),
                    on_progress=lambda: progress.advance(task),
                )
            )
        except httpx.HTTPError as exc:
            raise _fail(f"the read API at {settings.read_url} failed: {exc!r}") from None
        except KafkaError as exc:
            raise _fail(
                f"cannot publish to Kafka at {settings.kafka_bootstrap_servers}: {exc!r}"
            ) from None
    out = _out()
    window = f"received {_utc(start)} … {_utc(end) if end else 'now'}"
    if dry_run:
        table = Table(title=f"Would replay ({len(report.planned)})", title_justify="left")
        table.add_column("article id", no_wrap=True)
        table.add_column("received")
        table.add_column("title")
        for s in report.planned:
            received = _utc(datetime.fromisoformat(s["received_at"]))
            table.add_row(s["article_id"], received, Text(s.get("title") or ""))
        if report.planned:
            out.print(table)
        out.print(f"Dry run: {_n(len(report.planned), 'article')} {window}; nothing was published.")
        return
    gone = f"; {len(report.gone)} listed but no longer readable" if report.gone else ""
    out.print(
        f"Replayed {_n(len(report.replayed), 'article')} {window} to the raw topic "
        f"for re-enrichment{gone}."
    )


# --- dlq -----------------------------------------------------------------------------

dlq_app = typer.Typer(
    help="Dead-lettered records: list, show and redrive them (read from the DLQ topic).",
    no_args_is_help=True,
)
app.add_typer(dlq_app, name="dlq")


def _read_dlq(settings: Settings, reason: str | None, since: str | None) -> dlq.DlqRead:
    try:
        start = parse_when(since, now=datetime.now(UTC)) if since else None
    except WhenError as exc:
        raise _fail(str(exc), EXIT_REJECTED) from None
    try:
        read = asyncio.run(dlq.read_dlq(settings, reason=reason, since=start))
    except KafkaError as exc:
        raise _fail(
            f"cannot read the DLQ from Kafka at {settings.kafka_bootstrap_servers}: {exc!r}"
        ) from None
    for line in read.unreadable:
        _warn(f"skipped a DLQ record that is not a dead-letter event: {line}")
    return read


def _dlq_table(records: list[dlq.DlqRecord]) -> Table:
    table = Table(title=f"Dead-lettered records ({len(records)})", title_justify="left")
    for name in ("where", "article id", "reason", "stage", "tries", "dead-lettered", "error"):
        table.add_column(name, no_wrap=name in ("where", "article id"))
    for r in records:
        e = r.event
        table.add_row(
            r.where,
            e.original_key or r.key or "-",
            e.reason or e.error_class,
            e.stage or "-",
            str(e.attempts),
            _utc(r.timestamp),
            Text(" ".join(e.error_message.split())[:120]),
        )
    return table


@dlq_app.command("list")
def dlq_list(
    ctx: typer.Context,
    reason: Annotated[str | None, typer.Option(help="Only this reason, e.g. nlp-budget.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Dead-lettered at or after: a date, RFC 3339, or 7d/12h.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON record per line.")] = False,
) -> None:
    """List dead-lettered records, oldest first."""
    records = _read_dlq(_settings(ctx), reason, since).records
    if as_json:
        for r in records:
            line = {"where": r.where, "dead_lettered_at": r.timestamp.isoformat()}
            sys.stdout.write(json.dumps({**line, **r.event.model_dump(mode="json")}) + "\n")
        return
    out = _out()
    if records:
        out.print(_dlq_table(records))
    out.print(
        f"{_n(len(records), 'record')} on the DLQ" + (f" with reason {reason}" if reason else "")
    )


@dlq_app.command("show")
def dlq_show(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(metavar="ID|[P:]OFFSET", help="An article id, or a DLQ offset.")
    ],
) -> None:
    """Show one dead-lettered record in full (an article id: its latest one)."""
    found = dlq.select(_read_dlq(_settings(ctx), None, None).records, target)
    if not found:
        raise _fail(f"no DLQ record for {target!r}", EXIT_REJECTED)
    record = found[0]
    data = {"where": f"{topics.DLQ}:{record.where}", "dead_lettered_at": record.timestamp}
    table = Table(show_header=False, title="Dead-lettered record", title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for name, value in {**data, **record.event.model_dump(exclude={"original_value_b64"})}.items():
        table.add_row(name, Text(str(value)))
    _out().print(table)


@dlq_app.command("redrive")
def dlq_redrive(
    ctx: typer.Context,
    target: Annotated[
        str | None, typer.Argument(metavar="[ID|[P:]OFFSET]", help="One record to redrive.")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Every record with this reason.")] = None,
    redrive_all: Annotated[bool, typer.Option("--all", help="Every record on the DLQ.")] = False,
) -> None:
    """Publish the original raw events again, after a fix; exit 1 if any could not be."""
    if sum((target is not None, reason is not None, redrive_all)) != 1:
        raise _fail("give exactly one of: an ID or offset, --reason R, --all", EXIT_REJECTED)
    settings = _settings(ctx)
    records = _read_dlq(settings, reason, None).records
    chosen = dlq.select(records, target) if target else dlq.latest_per_article(records)
    if not chosen:
        raise _fail(f"nothing on the DLQ matches {target or reason or 'anything'}", EXIT_REJECTED)
    with _progress(_err()) as progress:
        task = progress.add_task("redriving", total=len(chosen))
        try:
            report = asyncio.run(
                dlq.redrive(settings, chosen, on_progress=lambda: progress.advance(task))
            )
        except KafkaError as exc:
            raise _fail(
                f"cannot redrive via Kafka at {settings.kafka_bootstrap_servers}: {exc!r}"
            ) from None
    out = _out()
    for line in report.from_raw + report.from_copy:
        out.print(Text(f"redriven {line}"))
    for where, why in report.skipped:
        _warn(f"not redriven {where}: {why}")
    copies = f" ({len(report.from_copy)} from the DLQ's copy)" if report.from_copy else ""
    out.print(
        f"Redrove {_n(len(report.from_raw) + len(report.from_copy), 'record')} to {topics.RAW}"
        f"{copies}; {len(report.skipped)} skipped. Follow them with `newsflow show ID`."
    )
    if report.skipped:
        raise typer.Exit(EXIT_REJECTED)


def main() -> None:
    app()
