"""newsflow-local: run the newsflow stack as local processes (no Docker engine needed)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from pathlib import Path

from newsflow_local import kafka, postgres, procs
from newsflow_local.paths import cache_dir
from newsflow_local.stack import (
    SERVICES,
    LocalStack,
    RunnerSettings,
    default_state,
    recorded_nodes,
)
from newsflow_schema import topics


def _print_endpoints(stack: LocalStack, *, services: bool) -> None:
    print(f"  kafka     {stack.kafka_bootstrap}")
    print(f"  postgres  {stack.database_url().replace('+asyncpg', '')}")
    if services:
        print(f"  ingest    {stack.service_url('ingest')}  (docs: /docs)")
        print(f"  enrich    {stack.service_url('enrich')}  (read API, docs: /docs)")
    print(f"  logs      {stack.state / 'logs'}")


def _start(stack: LocalStack, *, services: bool) -> int:
    if any(stack.running().values()):
        print("newsflow-local: already running (stop it with `make down`):")
        for name, up in stack.running().items():
            print(f"  {name:<9} {'running' if up else 'stopped'}")
        return 1
    started = time.monotonic()
    try:
        print("newsflow-local: starting postgres …", flush=True)
        stack.start_postgres()
        print("newsflow-local: migrating the database …", flush=True)
        stack.migrate()
        print("newsflow-local: starting kafka …", flush=True)
        stack.start_kafka()
        if services:
            for name in SERVICES:
                print(f"newsflow-local: starting {name} …", flush=True)
                # Ready, not only serving: ingest's producer and enrich's consumer connected.
                stack.start_service(name, probe="/readyz")
    except (procs.StartupError, kafka.JarsError, postgres.PostgresNotInstalled) as exc:
        print(f"newsflow-local: {exc}", file=sys.stderr)
        _tail_logs(stack, lines=30, stream=sys.stderr)
        stack.down()
        return 1
    print(f"newsflow-local: ready in {time.monotonic() - started:.1f} s")
    _print_endpoints(stack, services=services)
    return 0


def _tail_logs(stack: LocalStack, *, lines: int, stream: object = sys.stdout) -> None:
    for log in sorted((stack.state / "logs").glob("*.log")):
        text = log.read_text(errors="replace").splitlines()[-lines:]
        print(f"==> {log} <==", *text, sep="\n", file=stream)  # type: ignore[call-overload]


def _follow(stack: LocalStack) -> None:
    """Print new log lines of every component, prefixed with its name, until interrupted."""
    offsets: dict[Path, int] = {}
    for log in (stack.state / "logs").glob("*.log"):
        offsets[log] = log.stat().st_size
    while True:
        for log in sorted((stack.state / "logs").glob("*.log")):
            pos = offsets.get(log, 0)
            size = log.stat().st_size
            if size > pos:
                with log.open("rb") as fh:
                    fh.seek(pos)
                    chunk = fh.read(size - pos).decode(errors="replace")
                offsets[log] = size
                for line in chunk.splitlines():
                    print(f"{log.stem:<8}| {line}", flush=True)
        time.sleep(0.5)


def _topics(args: argparse.Namespace, settings: RunnerSettings) -> int:
    replication = None
    if args.min_insync_replicas is not None and args.replication_factor is None:
        print("newsflow-local: --min-insync-replicas needs --replication-factor", file=sys.stderr)
        return 2
    if args.replication_factor is not None:
        factor = args.replication_factor
        min_insync = args.min_insync_replicas or kafka.Replication.for_brokers(factor).min_insync
        replication = kafka.Replication(factor, min_insync)
    asyncio.run(
        kafka.ensure_topics(
            args.bootstrap,
            topics.ALL,
            partitions=args.partitions or settings.topic_partitions,
            replication=replication,
        )
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsflow-local", description=__doc__)
    parser.add_argument(
        "--state",
        type=Path,
        default=None,
        help="state directory (default: .local/stack in the repository)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for command, text in (
        ("up", "start kafka, postgres and both services in the background"),
        ("run", "like up, in the foreground; Ctrl-C stops everything"),
        ("infra", "start only kafka and postgres in the background"),
    ):
        sub.add_parser(command, help=text).add_argument(
            "--brokers",
            type=int,
            default=None,
            help="Kafka nodes (default NEWSFLOW_BROKERS or 1); 3 gives a replicated cluster",
        )
    sub.add_parser("down", help="stop everything this state directory started")
    sub.add_parser("status", help="what is running")
    logs = sub.add_parser("logs", help="show the logs")
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("-n", "--lines", type=int, default=50)
    sub.add_parser("jars", help="fetch the Kafka broker jars with Maven (cached)")
    tp = sub.add_parser("topics", help="create newsflow's topics on a broker")
    tp.add_argument("--bootstrap", required=True)
    tp.add_argument(
        "--partitions", type=int, default=None, help="default NEWSFLOW_TOPIC_PARTITIONS"
    )
    tp.add_argument(
        "--replication-factor",
        type=int,
        default=None,
        help="default: 3 on a cluster of 3 or more brokers, else 1",
    )
    tp.add_argument(
        "--min-insync-replicas", type=int, default=None, help="default: 2 with RF 3, else 1"
    )
    return parser


def _settings(args: argparse.Namespace, state: Path) -> RunnerSettings:
    """The environment's settings; `--brokers` or the layout a running stack recorded wins."""
    settings = RunnerSettings()
    if getattr(args, "brokers", None):
        return settings.model_copy(update={"brokers": args.brokers, "kafka_node_ports": ""})
    recorded = recorded_nodes(state)
    if recorded and args.command not in ("up", "run", "infra"):
        ports = ",".join(f"{b}:{c}" for b, c in recorded)
        return settings.model_copy(update={"brokers": len(recorded), "kafka_node_ports": ports})
    return settings


def _run(stack: LocalStack) -> int:
    code = _start(stack, services=True)
    if code:
        return code
    print("newsflow-local: running; Ctrl-C stops everything", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    try:
        _follow(stack)
    except KeyboardInterrupt:
        print("\nnewsflow-local: stopping …", flush=True)
    finally:
        stack.down()
    return 0


def _logs(stack: LocalStack, args: argparse.Namespace) -> int:
    if args.follow:
        try:
            _follow(stack)
        except KeyboardInterrupt:
            return 0
    _tail_logs(stack, lines=args.lines)
    return 0


def _status(stack: LocalStack) -> int:
    for name, up in stack.running().items():
        print(f"  {name:<9} {'running' if up else 'stopped'}")
    return 0


def _down(stack: LocalStack) -> int:
    stray = stack.down()
    print("newsflow-local: stopped" + (f" ({len(stray)} stray processes killed)" if stray else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    state = args.state or default_state()
    settings = _settings(args, state)
    stack = LocalStack(state=state, settings=settings)
    match args.command:
        case "up" | "infra":
            return _start(stack, services=args.command == "up")
        case "run":
            return _run(stack)
        case "down":
            return _down(stack)
        case "status":
            return _status(stack)
        case "logs":
            return _logs(stack, args)
        case "jars":
            print(kafka.ensure_jars(cache_dir()))
            return 0
        case "topics":
            return _topics(args, settings)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
