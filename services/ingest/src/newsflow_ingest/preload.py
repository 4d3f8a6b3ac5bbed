"""Imported by the fork server of the normalisation workers, never by the server itself.

Everything a worker runs is imported here once, and dateparser's language data loaded
(seconds), so that every worker forked from the fork server starts warm. The entry point
is imported too: multiprocessing runs the server's main script again in each worker
(guarded, so it only imports), which then finds its imports done.

The fork server ignores SIGTERM: a stop signals the server's whole process group, and
while the server drains its requests the fork server must live on (it exits when the
server does). Were it to die, every worker's sentinel would read as a death and the
pool would break mid-drain.
"""

from __future__ import annotations

import signal

import newsflow_ingest.__main__  # noqa: F401
import newsflow_ingest.normaliser  # noqa: F401
import newsflow_ingest.preparation  # noqa: F401
from newsflow_ingest.normalise import warm_up

signal.signal(signal.SIGTERM, signal.SIG_IGN)
warm_up()
