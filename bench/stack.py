"""The bench's own throwaway stack (free ports, state under .local/), always torn down."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from newsflow_local.paths import local_dir
from newsflow_local.stack import LocalStack, on_free_ports


def _raise_interrupt(signum: int, _: FrameType | None) -> None:
    # SIGTERM (e.g. make interrupted by a supervisor) takes the same unwinding path as
    # Ctrl-C, so the finally below stops every process the bench started.
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def bench_stack(brokers: int = 1) -> Iterator[LocalStack]:
    """PostgreSQL (migrated) and Kafka (`brokers` nodes) on free ports; services are started
    by each bench."""
    settings = on_free_ports(brokers)
    # Not a mkdtemp dir: PostgreSQL runs as another user and must be able to enter it.
    state: Path = local_dir() / f"bench-{os.getpid()}"
    stack = LocalStack(state=state, settings=settings)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        print(f"bench: starting PostgreSQL and Kafka under {state}", file=sys.stderr, flush=True)
        stack.start_infra()
        yield stack
    finally:
        print("bench: stopping every process of the bench stack", file=sys.stderr, flush=True)
        stack.destroy()
        signal.signal(signal.SIGTERM, previous)
