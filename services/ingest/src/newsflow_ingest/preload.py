"""Imported by the fork server of the normalisation workers, never by the server itself.

Everything a worker runs is imported here once, and dateparser's language data loaded
(seconds), so that every worker forked from the fork server starts warm. The entry point
is imported too: multiprocessing runs the server's main script again in each worker
(guarded, so it only imports), which then finds its imports done.

The fork server leaves the server's process group for one of its own, which the workers
forked from it share: a stop signals the server's whole process group, and while the
server drains its requests the fork server and the workers must live on (the fork server
exits when the server does, each worker when its pool stops or the server is gone). Were
the fork server to die, every worker's sentinel would read as a death and the pool would
break mid-drain. Signals are not ignored: a pool that breaks ends its other workers with
SIGTERM, and must be able to.
"""

from __future__ import annotations

import os

import newsflow_ingest.__main__  # noqa: F401
import newsflow_ingest.normaliser  # noqa: F401
import newsflow_ingest.preparation  # noqa: F401
from newsflow_ingest.normalise import warm_up

os.setpgid(0, 0)
warm_up()
